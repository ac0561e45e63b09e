/**
 * The history of a managed workflow as its Historian sees it: the first load of a workflow start() has just
 * created reads nothing, a load waits for a place in the launch window, and a run being stopped gets no records.
 */
import { WorkflowSuspendedError } from '../core/errors.js';
import type { History, HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import type { ManagedDeps } from './managed-workflow.js';

/** What a WatchedHistory needs of its workflow (a ManagedWorkflow). */
export interface HistoryOwner {
  readonly id: string;
  /** The run holds its place in the launch window already (the one start() took). */
  readonly holdsLaunchPlace: boolean;
  /** The history was cleared with the finished entry (store.finishWorkflow). */
  readonly historyCleared: boolean;
  /** Wait for a place in the manager's launch window. */
  enterLaunchWindow(): Promise<void>;
  /** The history was loaded; false means the run must not start (it is being stopped). */
  historyLoaded(records: readonly unknown[]): boolean;
}

/** The history of a workflow start() has just created. */
const NO_RECORDS: readonly HistoryRecord[] = Object.freeze([]);

/**
 * The store's history of one workflow, seen by its Historian. It tells the alias registry which alias opens
 * and closes will be replays, and it does not hand the records to a run the manager is already stopping
 * (no point replaying a history only to suspend it).
 */
export class WatchedHistory implements History {
  private readonly inner: History;

  /** `knownEmpty`: the entry was just created, so the first load has nothing to read. */
  constructor(private readonly owner: HistoryOwner, private readonly deps: Pick<ManagedDeps, 'store' | 'confirmLease'>, private knownEmpty: boolean) {
    this.inner = deps.store.history(owner.id);
  }

  load(): Promise<readonly HistoryRecord[]> {
    if (!this.knownEmpty) return this.read();
    this.knownEmpty = false;
    // The first run of a workflow start() just created: nothing to read, and its place in the launch window is
    // the start's (no async step here: most workflows are short, and each promise costs them).
    if (this.owner.holdsLaunchPlace) return this.owner.historyLoaded(NO_RECORDS) ? Promise.resolve(NO_RECORDS) : Promise.reject(new WorkflowSuspendedError(this.owner.id));
    return this.enterAndCheck(NO_RECORDS);
  }

  private async read(): Promise<readonly HistoryRecord[]> {
    await this.owner.enterLaunchWindow();
    // Shared store: a workflow whose lease moved is never replayed here (see ManagedDeps.confirmLease).
    const [records] = await Promise.all([this.inner.load(), this.deps.confirmLease?.(this.owner.id)]);
    return this.checked(records);
  }

  private async enterAndCheck(records: readonly HistoryRecord[]): Promise<readonly HistoryRecord[]> {
    await this.owner.enterLaunchWindow();
    return this.checked(records);
  }

  private checked(records: readonly HistoryRecord[]): readonly HistoryRecord[] {
    if (!this.owner.historyLoaded(records)) throw new WorkflowSuspendedError(this.owner.id);
    return records;
  }

  commit(change: HistoryChange): Promise<void> | void {
    return this.inner.commit(change);
  }

  clear(): Promise<void> | void {
    if (this.owner.historyCleared) return undefined;
    return this.inner.clear();
  }
}
