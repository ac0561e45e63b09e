/**
 * How the manager ends a workflow for good: cancel it (or fail it when its time ran out) or delete it. The
 * run is stopped without waiting on user code, the entry is written before the history is cleared (a crash
 * in between must not resume a cancelled workflow), its aliases go, and its children that asked to are
 * cancelled with it.
 */
import { WorkflowNotFoundError } from '../core/errors.js';
import type { Store, WorkflowEntry } from '../storage/store.js';
import type { ManagerAliases } from './alias-registry.js';
import { cancelChildren } from './child-workflows.js';
import { cancelledEntry } from './entry-outcomes.js';
import type { IdLocks } from './id-locks.js';
import type { ManagedWorkflow, StopReason } from './managed-workflow.js';
import { RecentIds, type RecentMap } from './recent-ids.js';
import { timedOutEntry, type WorkflowDeadlines } from './workflow-deadlines.js';

/** What endings need from their manager. */
export interface EndingDeps {
  readonly store: Store;
  /** The manager's unfinished workflows (an ended one is removed). */
  readonly live: Map<string, ManagedWorkflow>;
  readonly locks: IdLocks;
  readonly aliases: ManagerAliases;
  readonly deadlines: WorkflowDeadlines;
  /** The entries of workflows that finished here lately (a deleted one's goes). */
  readonly finishedEntries: RecentMap<WorkflowEntry>;
  /** How long a stop waits for running steps to honour their AbortSignal. */
  readonly stopGraceMs: number;
  /** Throws when the manager is closing. */
  checkOpen(): void;
  /** The workflow id `id` names (an id, or an alias). */
  resolve(id: string): Promise<string>;
}

/**
 * The cancels, time-outs and deletes of one manager.
 *
 * @example
 * await endings.cancel('g1');
 */
export class WorkflowEndings {
  /** Workflows deleted by this manager lately, so that an event for one says "deleted", not "no such workflow". */
  readonly deleted = new RecentIds(1000);

  constructor(private readonly deps: EndingDeps) {}

  /** WorkflowManager.cancel: workflow `id` (or alias) cancelled for good. */
  async cancel(id: string): Promise<void> {
    this.deps.checkOpen();
    const resolved = await this.deps.resolve(id);
    await this.endForGood(resolved, id, 'cancel');
  }

  /** WorkflowManager.delete: workflow `id` (or alias) forgotten. */
  async delete(id: string): Promise<void> {
    this.deps.checkOpen();
    const resolved = await this.deps.resolve(id);
    await this.remove(resolved, id);
  }

  /** Cancel workflow `resolved` (asked as `id`), or fail it with TimeoutError when its deadline passed. */
  async endForGood(resolved: string, id: string, reason: 'cancel' | 'timeout'): Promise<void> {
    const { store } = this.deps;
    await this.deps.locks.run(resolved, async () => {
      const entry = await this.stop(resolved, id, reason);
      if (entry === undefined || entry.state !== 'running') return;
      const cancelled = reason === 'timeout' && entry.timeout !== undefined ? timedOutEntry({ ...entry, timeout: entry.timeout }) : cancelledEntry(entry);
      // Entry first: a crash before the history is cleared must not resume a cancelled workflow.
      if (entry.deleteOnFinish) await store.deleteWorkflow(resolved);
      else await store.putWorkflow(cancelled);
      await store.history(resolved).clear();
    });
    await this.cancelChildrenOf(resolved);
  }

  /** Delete workflow `resolved` (asked as `id`): stop it, then remove its entry, result, history and aliases. */
  private async remove(resolved: string, id: string): Promise<void> {
    await this.deps.locks.run(resolved, async () => {
      await this.stop(resolved, id, 'delete');
      await this.deps.store.deleteWorkflow(resolved);
      this.deps.finishedEntries.delete(resolved);
      this.deleted.add(resolved);
    });
    await this.cancelChildrenOf(resolved);
  }

  /**
   * Stop workflow `id` if it runs here and drop it from the manager and its aliases from the store.
   * Returns its entry (undefined when it finished while being stopped); WorkflowNotFoundError if unknown.
   */
  private async stop(id: string, asked: string, reason: StopReason): Promise<WorkflowEntry | undefined> {
    const { live, store, aliases } = this.deps;
    const managed = live.get(id);
    if (managed === undefined) {
      const entry = await store.getWorkflow(id);
      if (entry === undefined) throw new WorkflowNotFoundError(asked);
      return entry;
    }
    this.deps.deadlines.disarm(id);
    const held = aliases.aliasesOf(id);
    await managed.stop(reason, this.deps.stopGraceMs);
    live.delete(id);
    aliases.forget(id);
    for (const alias of held) await store.deleteAlias(alias, id);
    return managed.finished === undefined ? managed.entry : undefined;
  }

  private cancelChildrenOf(parent: string): Promise<void> {
    return cancelChildren(this.deps.live.values(), parent, (child) => this.cancel(child));
  }
}
