/**
 * The manager's side of child workflows (core/child.ts): starting a child as a workflow of the same manager,
 * recorded in its entry as the child of its parent, and cancelling the children of a parent that is cancelled,
 * deleted or times out.
 */
import type { ChildWorkflowHost } from '../core/child.js';
import type { WorkflowEntry } from '../storage/store.js';
import type { StartOptions } from './types.js';

/** What the child host needs of its WorkflowManager. */
export interface ChildStarter {
  startWith(type: string, id: string, args: unknown[], options: StartOptions): Promise<unknown>;
  getResult(id: string): Promise<unknown>;
}

/** Starts the children of the manager's workflows in the same manager. */
export class ManagerChildren implements ChildWorkflowHost {
  constructor(private readonly manager: ChildStarter) {}

  async start(parentId: string, type: string, id: string, args: readonly unknown[], cancelWithParent: boolean): Promise<void> {
    // 'resume': the step that starts a child runs again after a crash; the child it started is found, not started twice.
    await this.manager.startWith(type, id, [...args], { ifExists: 'resume', parent: { id: parentId, cancelWithParent } });
  }

  result(id: string): Promise<unknown> {
    return this.manager.getResult(id);
  }
}

/**
 * Cancel the unfinished children of `parentId` that were started with `cancelWithParent` (their own children
 * follow, through `cancel`). The parent's entry says nothing of its children: they are found by their entries,
 * among the manager's unfinished workflows (all of the store's, since it resumes them all when it opens).
 */
export async function cancelChildren(
  unfinished: Iterable<{ readonly entry: WorkflowEntry }>,
  parentId: string,
  cancel: (id: string) => Promise<void>,
): Promise<void> {
  const children: string[] = [];
  for (const { entry } of unfinished) {
    if (entry.parent?.id === parentId && entry.parent.cancelWithParent) children.push(entry.id);
  }
  for (const id of children) await cancel(id);
}
