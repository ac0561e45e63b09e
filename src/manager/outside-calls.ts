/**
 * How the manager routes a call from outside to a workflow: the name resolved (an id, or an alias), the call
 * made on the running workflow's Historian (an evicted workflow woken by replay first), the error that says
 * why a workflow cannot take it, and, on a store shared by many processes (WorkflowLeases), the calls on a
 * workflow another process runs: an act sent through the inbox, its resources read from its stored history
 * (./resources-elsewhere.ts). The inbox's own events come in the same way.
 */
import type { Logger } from 'pino';
import { InvalidArgumentError, StorageError, WorkflowFinishedError, WorkflowNotFoundError, isQuestError, isSuspension } from '../core/errors.js';
import { resourceSighted } from '../core/historian-streams.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import { hasInbox, type Store, type WorkflowEntry } from '../storage/store.js';
import type { ManagerAliases } from './alias-registry.js';
import type { WorkflowClaims } from './claims.js';
import { notLiveError, outcomeOf } from './entry-outcomes.js';
import type { IdLocks } from './id-locks.js';
import { InboxDelivery } from './inbox-delivery.js';
import type { ManagedWorkflow } from './managed-workflow.js';
import type { RecentIds, RecentMap } from './recent-ids.js';
import { followStoredResources, storedResources } from './resources-elsewhere.js';

/** A workflow of the manager whose run is up: it has a Historian to call. */
export type RunningWorkflow = ManagedWorkflow & { historian: NonNullable<ManagedWorkflow['historian']> };

/** What outside calls need from their manager. */
export interface OutsideCallDeps {
  readonly store: Store;
  /** The manager's unfinished workflows (read). */
  readonly live: ReadonlyMap<string, ManagedWorkflow>;
  readonly locks: IdLocks;
  readonly aliases: ManagerAliases;
  readonly claims: WorkflowClaims | undefined;
  /** Workflows the manager deleted lately, so that a call for one says "deleted", not "no such workflow". */
  readonly deleted: RecentIds;
  /** Shared store: workflows the manager ran to their end lately (it settled their inbox events itself). */
  readonly finishedHere: RecentIds;
  /** The entries of workflows that finished here lately, on a store of its own (see WorkflowsHere.finishedEntries). */
  readonly finishedEntries: RecentMap<WorkflowEntry>;
  /** True once the manager closes. */
  isClosing(): boolean;
}

/**
 * The outside calls of one manager.
 *
 * @example
 * await outside.act('g1', 'guess', null, 'put', 7);
 * const resources = await outside.withRunning('g1', (historian) => historian.resources(null));
 */
export class OutsideCalls {
  constructor(private readonly deps: OutsideCallDeps) {}

  /** The workflow id `id` names: an id of this store wins; otherwise the workflow holding alias `id`. */
  async resolve(id: string): Promise<string> {
    checkId(id);
    if (this.deps.live.has(id)) return id;
    const holder = await this.deps.aliases.resolve(id);
    if (holder === undefined) return id;
    return (await this.deps.store.getWorkflow(id)) === undefined ? holder : id;
  }

  /** WorkflowManager.getResult of workflow id `resolved` (no alias), asked as `id`. */
  result<R>(resolved: string, id: string): Promise<R> {
    // The common case, a workflow running here on a store of its own: wait for its run, no async function more.
    const { live, locks, claims } = this.deps;
    const managed = locks.idle(resolved) === undefined && claims === undefined ? live.get(resolved) : undefined;
    if (managed !== undefined) return managed.settled().then(() => managed.outcome() as R);
    return this.resultAfterWaits(resolved, id);
  }

  /** result(): while a start, cancel or delete of the id is in progress, on a shared store, or once it is not live here. */
  private async resultAfterWaits<R>(resolved: string, id: string): Promise<R> {
    const { live, locks, claims, store } = this.deps;
    const busy = locks.idle(resolved);
    if (busy !== undefined) await busy;
    const managed = live.get(resolved);
    if (managed !== undefined) {
      await managed.settled();
      // Shared store: a run that stopped because the workflow moved to another process is not the answer.
      if (claims === undefined || !claims.handedOver(managed)) return managed.outcome() as R;
    }
    if (claims !== undefined) return (await claims.result(resolved, id)) as R;
    const entry = this.deps.finishedEntries.get(resolved) ?? (await store.getWorkflow(resolved));
    if (entry === undefined) throw new WorkflowNotFoundError(id);
    return outcomeOf(entry) as R;
  }

  /** WorkflowManager.has: `id` is a workflow (running or finished with its result kept) or an alias held by a running one. */
  async has(id: string): Promise<boolean> {
    if (this.deps.live.has(id)) return true;
    if ((await this.deps.aliases.resolve(id)) !== undefined) return true;
    return (await this.deps.store.getWorkflow(id)) !== undefined;
  }

  /** WorkflowManager.act: here, or on a shared store through the inbox when the workflow runs elsewhere. */
  act(id: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    return this.hereOrElsewhere(
      id,
      (historian) => historian.act(name, identity, action, ...args),
      (claims, resolved, error) => claims.actElsewhere(resolved, error, { resource: name, identity, action, args }),
    );
  }

  /** WorkflowManager.resources: here, or on a shared store from the stored history when the workflow runs elsewhere. */
  resources(id: string, identity: string | null): Promise<ResourceInfo[]> {
    return this.hereOrElsewhere(
      id,
      (historian) => historian.resources(identity),
      (claims, resolved, error) => claims.reachElsewhere(resolved, error, (store) => storedResources(store, resolved, identity)),
    );
  }

  /** WorkflowManager.resourceStream: here, or on a shared store following the stored history (./resources-elsewhere.ts). */
  resourceStream(id: string, identity: string | null): Promise<ResourceStream> {
    return this.hereOrElsewhere(
      id,
      (historian) => historian.resourceStream(identity),
      (claims, resolved, error) => claims.reachElsewhere(resolved, error, (store, waiters) => followStoredResources(store, waiters, resolved, identity)),
    );
  }

  /** WorkflowManager.waitForResource: here, or on a shared store following the stored history. */
  waitForResource(id: string, name: string, identity: string | null): Promise<ResourceInfo> {
    return this.hereOrElsewhere(
      id,
      (historian) => historian.waitForResource(name, identity),
      (claims, resolved, error) =>
        claims.reachElsewhere(resolved, error, (store, waiters) => resourceSighted(followStoredResources(store, waiters, resolved, identity), name, resolved)),
    );
  }

  /**
   * An outside call on workflow `id` (or alias): `here` on its Historian; on a shared store, `elsewhere` when
   * the workflow runs in another process (or waits for one), and when its lease moved during the call
   * (fencing refused its write: nothing of it was recorded).
   */
  private async hereOrElsewhere<T>(
    id: string,
    here: (historian: RunningWorkflow['historian']) => T | Promise<T>,
    elsewhere: (claims: WorkflowClaims, resolved: string, error: unknown) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.withRunning(id, here);
    } catch (error) {
      const movedAway = isQuestError(error, 'WORKFLOW_SUSPENDED') || isQuestError(error, 'LEASE_LOST');
      const { claims } = this.deps;
      if (claims === undefined || !movedAway || this.deps.isClosing()) throw error;
      return elsewhere(claims, await this.resolve(id), error);
    }
  }

  /**
   * Use the Historian of running workflow `id` (or alias) for an outside call. When the workflow is not
   * running, or is stopped during the call, the error names its state (see WorkflowManager.act).
   */
  async withRunning<T>(id: string, use: (historian: RunningWorkflow['historian']) => T | Promise<T>): Promise<T> {
    // The call starts in the same turn as it did when outside calls awaited running() themselves.
    const managed = await this.running(id);
    try {
      return await use(managed.historian);
    } catch (error) {
      // Stopped during the call: the run's stop reason says "suspended"; say what really happened.
      if (isSuspension(error) && managed.stopping !== undefined) throw managed.notRunning();
      throw error;
    }
  }

  /** Running workflow `id` (or alias), for outside calls; when it is not running, the error names its state. */
  async running(id: string): Promise<RunningWorkflow> {
    const resolved = await this.resolve(id);
    const busy = this.deps.locks.idle(resolved);
    if (busy !== undefined) await busy;
    const managed = this.deps.live.get(resolved);
    if (managed === undefined) throw await this.notLive(resolved, id);
    await managed.ensureResident(); // an evicted workflow resumes by replay (./residency.ts)
    if (!managed.active || managed.historian === undefined) throw managed.notRunning();
    return managed as RunningWorkflow;
  }

  /**
   * The delivery of the store's inbox (none when the store has no inbox) to the workflows running here, each
   * event applied as an outside act is.
   */
  inboxDelivery(pollMs: number, log: Pick<Logger, 'warn'>): InboxDelivery | undefined {
    const { store, live } = this.deps;
    if (!hasInbox(store)) return undefined;
    return new InboxDelivery({
      inbox: store,
      pollMs,
      log,
      isClosing: () => this.deps.isClosing(),
      resolve: (name) => this.resolve(name),
      running: async (id) => (await this.running(id)).historian,
      isActive: (id) => live.get(id)?.served === true,
      mayApply: (id, resource) => live.get(id)?.mayApply(resource) !== false,
      settlingElsewhere: (id) => this.settlingElsewhere(id),
    });
  }

  /** Why workflow `id`, which this manager does not run, cannot take outside calls. */
  private async notLive(id: string, asked: string): Promise<Error> {
    if (this.deps.isClosing()) return new StorageError('This workflow manager is closed (or closing); open a new one.');
    const entry = await this.deps.store.getWorkflow(id);
    if (entry !== undefined) return notLiveError(entry);
    return this.deps.deleted.has(id) ? new WorkflowFinishedError(id, 'deleted') : new WorkflowNotFoundError(asked);
  }

  /**
   * Shared store: workflow `id` finished in another process less than a lease period ago, so that process may
   * not have settled the inbox events it applied yet (see InboxDeliveryDeps.settlingElsewhere).
   */
  private async settlingElsewhere(id: string): Promise<boolean> {
    const { claims, store } = this.deps;
    if (claims === undefined || this.deps.live.has(id) || this.deps.finishedHere.has(id)) return false;
    const finishedAt = (await store.getWorkflow(id))?.finishedAt;
    return finishedAt !== undefined && Date.now() - finishedAt < claims.leaseMs;
  }
}

/** InvalidArgumentError unless `id` can name a workflow. */
export function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError(`A workflow id must be a non-empty string, got ${JSON.stringify(id)}.`);
}
