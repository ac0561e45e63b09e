/**
 * The WorkflowManager: many workflows in one namespace (one Store). It keeps a registry of workflow types,
 * starts workflows durably, resumes the unfinished ones when it opens, keeps results, routes outside events
 * by id or alias, and suspends everything on close.
 *
 * Durability: every change of the manager's bookkeeping (start, finish, cancel, delete, alias) is written to
 * the store when it happens, never only at shutdown. A workflow's entry is durable before it runs, and its
 * outcome is durable before its history is cleared, so a crash at any point loses neither.
 */
import { logger as questLogger } from '../logging.js';
import {
  InvalidArgumentError,
  StorageError,
  UnknownWorkflowTypeError,
  WorkflowFinishedError,
  WorkflowNotFoundError,
  isQuestError,
  isSuspension,
} from '../core/errors.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import { serialize } from '../core/serializer.js';
import { newStoreOwner } from '../storage/owner.js';
import { hasInbox, hasLeases, hasOwnership, type Store, type WorkflowEntry } from '../storage/store.js';
import { ManagerAliases } from './alias-registry.js';
import { WorkflowClaims } from './claims.js';
import { IdLocks } from './id-locks.js';
import { InboxDelivery } from './inbox-delivery.js';
import { KeepAlive } from './keep-alive.js';
import { ManagedWorkflow, type ManagedDeps } from './managed-workflow.js';
import { notLiveError, outcomeOf } from './entry-outcomes.js';
import { DEFAULT_LAUNCH_WINDOW, LaunchWindow } from './launch-window.js';
import { Residency } from './residency.js';
import { EventProxy, IdentityQueueProxy, QueueProxy, StateProxy } from './proxies.js';
import { installSignalHandlers, type SignalOptions } from './signals.js';
import { workflowInfo } from './workflow-info.js';
import { listPage, type ListPage, type ListPageQuery } from './list-pages.js';
import { WorkflowDeadlines, timeoutAtStart } from './workflow-deadlines.js';
import { ManagerChildren, type ChildStarter } from './child-workflows.js';
import { withScheduleType } from './schedules.js';
import { RecentIds, RecentMap } from './recent-ids.js';
import { WorkflowStarts, type StartOutcome } from './workflow-starts.js';
import { WorkflowEndings } from './workflow-endings.js';
import type {
  AnyWorkflow,
  ManagerOptions,
  StartOptions,
  WorkflowArgs,
  WorkflowHandle,
  WorkflowInfo,
  ResidencyInfo,
  WorkflowRegistry,
  WorkflowResult,
  WorkflowType,
} from './types.js';

/**
 * Runs many workflows over one store.
 *
 * Ids and aliases: every method that takes a workflow id also takes an alias. An id wins over an alias of
 * the same name.
 *
 * Inbox: when the store has one (EventInbox: SqliteStore, PostgresStore, MemoryStore), the manager delivers the outside
 * events posted to it (by `quest send`, from any process) to the workflows running here, every
 * `inboxPollMs` (see {@link deliverInbox}).
 *
 * @example
 * const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows: { game } });
 * await manager.start('game', 'g1', 3);                    // arguments checked against game's parameters
 * await manager.queue<number>('g1', 'guess', null).put(7); // an outside event
 * console.log(await manager.getResult('g1'));
 * await manager.close();                                   // suspends whatever still runs
 */
export class WorkflowManager<W extends WorkflowRegistry> implements AsyncDisposable {
  /** Every unfinished workflow of the store, running here or not. */
  private readonly live = new Map<string, ManagedWorkflow>();
  private readonly locks = new IdLocks();
  private readonly aliases: ManagerAliases;
  private readonly deps: ManagedDeps;
  private closing: Promise<void> | undefined;
  /** Delivers the store's inbox, when it has one. */
  private readonly inbox: InboxDelivery | undefined;
  /** Keeps the process alive while a workflow runs here (until close()). */
  private readonly keepAlive = new KeepAlive<ManagedWorkflow>();
  private readonly deadlines = new WorkflowDeadlines();
  /** Workflows deleted by this manager lately, so that an event for one says "deleted", not "no such workflow". */
  private readonly deleted = new RecentIds(1000);
  /** Shared store: workflows this manager ran to their end lately (it settled their events itself). */
  private readonly finishedHere = new RecentIds(10_000);
  /**
   * The entries of workflows that finished here lately, on a store this manager alone writes (no claims): a
   * result() soon after the end answers from memory instead of reading the store (a read per workflow, a good
   * share of a short workflow's cost on SQLite). A deletion drops its entry (WorkflowEndings.remove).
   */
  private readonly finishedEntries = new RecentMap<WorkflowEntry>(10_000);
  /** When the store is shared by many processes (WorkflowLeases): which workflows this one runs. */
  private readonly claims: WorkflowClaims | undefined;
  private readonly starts: WorkflowStarts;
  private readonly endings: WorkflowEndings;

  private readonly store: Store;
  private readonly workflows: W;
  /** How long a stop waits for running steps to honour their AbortSignal (ManagerOptions.stopGraceMs). */
  private readonly stopGraceMs: number;

  private constructor(private readonly options: ManagerOptions<W>) {
    const store = options.store;
    this.store = store;
    this.workflows = withScheduleType(options.workflows);
    this.stopGraceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.aliases = new ManagerAliases(store, {
      // Shared store: an alias is held by a running workflow of any process (aliases are global).
      isLive: (id) => this.live.has(id) || (this.claims !== undefined && store.getWorkflow(id).then((entry) => entry?.state === 'running')),
      releasesDurably: (id) => this.releasesDurably(id),
    });
    this.deps = {
      store,
      aliases: this.aliases,
      stallTimeoutMs: options.historian?.stallTimeoutMs,
      children: new ManagerChildren(this as unknown as ChildStarter),
      onRunEnded: (workflow) => this.runEnded(workflow),
      launches: new LaunchWindow(options.launchWindow ?? DEFAULT_LAUNCH_WINDOW),
      // Every store, a shared one too: an evicted workflow keeps its lease (the store renews its fences) and
      // counts against leases.maxWorkflows (see ./claims.ts). Checks both budgets (InvalidArgumentError).
      residency: new Residency(options.maxResident, options.maxResidentBytes),
      // Shared store: a run never replays a workflow whose lease moved (an evicted one woken late; ./claims.ts).
      confirmLease: hasLeases(store) ? async (id) => this.claims?.confirmLease(id) : undefined,
    };
    this.inbox = hasInbox(store)
      ? new InboxDelivery({
          inbox: store,
          pollMs: options.inboxPollMs ?? 200,
          log: this.log,
          isClosing: () => this.closing !== undefined,
          resolve: (name) => this.resolve(name),
          running: async (id) => (await this.running(id)).historian,
          isActive: (id) => this.live.get(id)?.served === true,
          mayApply: (id, resource) => this.live.get(id)?.mayApply(resource) !== false,
          settlingElsewhere: (id) => this.settlingElsewhere(id),
        })
      : undefined;
    this.claims = hasLeases(store)
      ? new WorkflowClaims(
          {
            store, log: this.log, live: this.live, aliases: this.aliases,
            // Every type this manager runs, Quest's own hidden ones (quest.schedule) included.
            types: () => Object.getOwnPropertyNames(this.workflows),
            launch: (entry) => this.resume(entry), wakeInbox: () => this.inbox?.wake(), isClosing: () => this.closing !== undefined,
          },
          options.leases,
        )
      : undefined;
    this.starts = new WorkflowStarts({
      store, claims: this.claims, live: this.live, managed: this.deps,
      checkOpen: () => this.checkOpen(), launch: (managed) => this.launch(managed), workflowOf: (type) => this.workflowOf(type),
    });
    this.endings = new WorkflowEndings({
      store, live: this.live, locks: this.locks, aliases: this.aliases, deadlines: this.deadlines, deleted: this.deleted, finishedEntries: this.finishedEntries,
      stopGraceMs: this.stopGraceMs, cancel: (id) => this.cancel(id),
    });
  }

  /**
   * Open a manager over `store` and resume every unfinished workflow in it (without waiting for them).
   * A workflow whose type is not registered stays 'suspended' (logged) until a manager that knows the type
   * opens the store. Rejects when the store cannot be read.
   *
   * A store shared by many processes (WorkflowLeases: PostgresStore) is not resumed whole: each manager claims
   * the workflows nobody runs, up to `leases.maxWorkflows`, and takes over those of a process that died.
   *
   * One manager per store otherwise: when the store has owners (StoreOwnership: SqliteStore, FileStore, MemoryStore),
   * the manager takes ownership before resuming anything, and rejects with StoreOwnedError, naming the owner
   * (process, host, since when), while another manager owns it (in this process or another; an owner whose
   * process is gone is taken over). On any rejection the store stays open: close it yourself.
   *
   * @example
   * const manager = await WorkflowManager.open({ store, workflows: { game, order } });
   */
  static async open<W extends WorkflowRegistry>(options: ManagerOptions<W>): Promise<WorkflowManager<W>> {
    if (typeof options.workflows !== 'object' || options.workflows === null) {
      throw new InvalidArgumentError('WorkflowManager.open() needs `workflows`: an object of workflow functions by type name.');
    }
    const grace = options.stopGraceMs;
    if (grace !== undefined && (typeof grace !== 'number' || !(grace >= 0))) {
      throw new InvalidArgumentError(`stopGraceMs must be 0 or more milliseconds, got ${String(grace)}.`);
    }
    const manager = new WorkflowManager(options);
    const { store } = options;
    if (hasOwnership(store)) await store.acquireOwnership(newStoreOwner());
    try {
      // A shared store: claim what nobody runs, rather than resume everything.
      if (manager.claims !== undefined) await manager.claims.start();
      else for (const entry of await store.listWorkflows('running')) manager.resume(entry);
    } catch (error) {
      await manager.claims?.stop();
      if (hasOwnership(store)) await store.releaseOwnership().catch(() => undefined);
      throw error;
    }
    manager.inbox?.startPolling();
    return manager;
  }

  /** The registered type names. */
  get types(): string[] {
    return Object.keys(this.workflows);
  }

  /**
   * Start workflow `id` of type `type` with `args` (checked against the type's parameters). Resolves once
   * the workflow's entry is durable, without waiting for its result: a crash after that resumes it.
   * DuplicateWorkflowError when `id` exists (running or finished), UnknownWorkflowTypeError for a type that
   * is not registered, NotSerializableError for arguments that cannot be stored; none starts anything.
   *
   * @example
   * const game = await manager.start('game', 'g1', 3);
   * const score = await game.result();
   */
  start<T extends WorkflowType<W>>(type: T, id: string, ...args: WorkflowArgs<W, T>): Promise<WorkflowHandle<WorkflowResult<W, T>>> {
    return this.startWith(type, id, args);
  }

  /**
   * {@link start} with options: `deleteOnFinish`, and `ifExists: 'resume'` for "start it, or return it if it
   * exists" (idempotent; see StartOptions).
   *
   * @example
   * await manager.startWith('game', 'g1', [3], { ifExists: 'resume' });
   */
  async startWith<T extends WorkflowType<W>>(
    type: T,
    id: string,
    args: WorkflowArgs<W, T>,
    options: StartOptions = {},
  ): Promise<WorkflowHandle<WorkflowResult<W, T>>> {
    this.checkOpen();
    checkId(id);
    const workflow = this.workflowOf(type);
    if (!Array.isArray(args)) throw new InvalidArgumentError('startWith() takes the workflow arguments as an array.');
    const stored = (args as unknown[]).map((arg, n) => serialize(arg, `argument ${n} of workflow ${id}`));
    const timeout = timeoutAtStart(options.timeoutMs);
    // A place in the launch window from here, handed to the run: many starts at once go in waves (./launch-window.ts).
    const entered = this.deps.launches.enter();
    const place = typeof entered === 'function' ? entered : await entered;
    let outcome: StartOutcome = 'existing';
    try {
      outcome = await this.locks.run(id, () => this.starts.create({ id, type, workflow, args: stored, timeout, options, place }));
    } finally {
      if (outcome !== 'launched') place();
    }
    return this.handle(id, type, outcome !== 'existing');
  }

  /**
   * The result of workflow `id` (or alias): waits while it runs, returns the stored result of a finished one,
   * rethrows its failure (rebuilt as its class when the class is registered or built in).
   * WorkflowNotFoundError for an unknown (or deleted) id, WorkflowCancelledError when it was cancelled, or
   * deleted while this call waited; WorkflowSuspendedError when it is not running here (the manager is
   * closing, or it runs in another process), UnknownWorkflowTypeError when its type is not registered here,
   * and the engine's error when its run stopped on one (e.g. NonDeterminismError). Never waits for a stop:
   * a cancel, delete or close answers a waiting caller as soon as the run is stopped.
   *
   * @example
   * try { console.log(await manager.getResult('g1')) } catch (error) { ... }
   */
  async getResult<R = unknown>(id: string): Promise<R> {
    return this.resultOf<R>(await this.resolve(id), id);
  }

  /** getResult() of workflow id `resolved` (no alias), asked as `id`. */
  private async resultOf<R>(resolved: string, id: string): Promise<R> {
    const busy = this.locks.idle(resolved);
    if (busy !== undefined) await busy;
    const managed = this.live.get(resolved);
    if (managed !== undefined) {
      await managed.settled();
      // Shared store: a run that stopped because the workflow moved to another process is not the answer.
      if (this.claims === undefined || !this.claims.handedOver(managed)) return managed.outcome() as R;
    }
    if (this.claims !== undefined) return (await this.claims.result(resolved, id)) as R;
    const entry = this.finishedEntries.get(resolved) ?? (await this.store.getWorkflow(resolved));
    if (entry === undefined) throw new WorkflowNotFoundError(id);
    return outcomeOf(entry) as R;
  }

  /**
   * True when `id` is a workflow (running or finished with its result kept) or an alias held by a running
   * one.
   *
   * @example
   * if (!(await manager.has('lobby'))) await manager.start('lobby', 'lobby-1');
   */
  async has(id: string): Promise<boolean> {
    if (this.live.has(id)) return true;
    if ((await this.aliases.resolve(id)) !== undefined) return true;
    return (await this.store.getWorkflow(id)) !== undefined;
  }

  /**
   * Stop workflow `id` (or alias) for good: its state becomes 'cancelled', its history and aliases are
   * removed, and getResult() rejects with WorkflowCancelledError. A workflow that has already finished is
   * left as it is (its result stays). WorkflowNotFoundError for an unknown id.
   *
   * Never waits for user code: the run is stopped at once (a workflow awaiting a promise Quest does not
   * control is left behind, and records nothing more), except that steps still running get up to
   * `stopGraceMs` to return once their AbortSignal is aborted (see {@link close}).
   *
   * @example
   * await manager.cancel('g1');
   */
  async cancel(id: string): Promise<void> {
    this.checkOpen();
    const resolved = await this.resolve(id);
    await this.endings.endForGood(resolved, id, 'cancel');
  }

  /**
   * Forget workflow `id` (or alias): cancel it if it runs, then remove its entry, result, history and
   * aliases (atomically in the store). Afterwards has(), list() and getResult() no longer know it; a caller
   * already waiting in getResult() gets WorkflowCancelledError. WorkflowNotFoundError for an unknown id.
   * Returns as promptly as {@link cancel}.
   *
   * @example
   * await manager.delete('g1');
   */
  async delete(id: string): Promise<void> {
    this.checkOpen();
    const resolved = await this.resolve(id);
    await this.endings.remove(resolved, id);
  }

  /**
   * Every workflow of the store with its type, status and start time, oldest first.
   *
   * @example
   * for (const { id, status } of await manager.list()) console.log(id, status);
   */
  async list(): Promise<WorkflowInfo[]> {
    const entries = await this.store.listWorkflows();
    return entries.map((entry) => workflowInfo(entry, this.live.get(entry.id), this.aliases.aliasesOf(entry.id), this.claims !== undefined));
  }

  /**
   * One page of {@link list}, newest start first (`state`, `type`: only those stored so; `id`: the one workflow of that
   * id or alias), and with `counts: true`
   * the number of workflows of each status and type. Pass the page's `next` as `after` for the next page: the
   * pages after a cursor stay as they were while workflows start (a new one shows on the first page). On a store
   * with paged reads (SQLite, PostgreSQL, memory) a page reads its own entries only, whatever the number of
   * workflows; on another store it reads the whole list. InvalidArgumentError for a limit out of 1..10,000 or a
   * cursor that is not a `next`.
   *
   * @example
   * let page = await manager.listPage({ state: 'running', limit: 100, counts: true });
   * console.log(page.counts, page.items.map((w) => w.id));
   * if (page.next !== undefined) page = await manager.listPage({ state: 'running', limit: 100, after: page.next });
   */
  listPage(query: ListPageQuery): Promise<ListPage> {
    const aliases = this.aliases;
    return listPage({ store: this.store, live: this.live, aliasesOf: (id) => aliases.aliasesOf(id), resolveAlias: (alias) => aliases.resolve(alias), shared: this.claims !== undefined }, query);
  }

  /**
   * How many workflows keep their run in memory now, the estimate of the memory those runs take, and the
   * budgets idle workflows are evicted under (ManagerOptions.maxResident, maxResidentBytes).
   *
   * @example
   * const { resident, estimatedBytes } = manager.residency();
   */
  residency(): ResidencyInfo {
    const residency = this.deps.residency;
    return { resident: residency.size, estimatedBytes: residency.bytes, maxResident: residency.maxResident, maxResidentBytes: residency.maxResidentBytes };
  }

  /** quest.py's name for {@link list}: id, type, start time and status of every workflow. */
  metrics(): Promise<WorkflowInfo[]> {
    return this.list();
  }

  /**
   * Act on a resource of running workflow `id` (or alias) from outside, as `identity`: see Historian.act.
   * When the workflow is not running, the error names its state: WorkflowNotFoundError (unknown),
   * WorkflowFinishedError (completed, failed, cancelled, or deleted by this manager: `state` says which; one
   * deleted elsewhere is unknown), WorkflowCancelledError (being cancelled or deleted), WorkflowSuspendedError
   * (the manager is closing, or it runs elsewhere), UnknownWorkflowTypeError (its type is not registered here),
   * or the engine error its run stopped on. ResourceNotFoundError / UnknownActionError / InvalidArgumentError
   * come from the resource. Inbox events follow the same rule (see {@link deliverInbox}).
   *
   * @example
   * await manager.act('g1', 'guess', null, 'put', 7);
   */
  async act(id: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    try {
      return await this.withRunning(id, (historian) => historian.act(name, identity, action, ...args));
    } catch (error) {
      // Shared store: a workflow running in another process (or waiting for one) is reached through the inbox;
      // so is one whose lease moved during this call (fencing refused its write: nothing of it was recorded).
      const elsewhere = isQuestError(error, 'WORKFLOW_SUSPENDED') || isQuestError(error, 'LEASE_LOST');
      if (this.claims === undefined || !elsewhere || this.closing !== undefined) throw error;
      return this.claims.actElsewhere(await this.resolve(id), error, { resource: name, identity, action, args });
    }
  }

  /**
   * The resources of running workflow `id` visible to `identity`, once its replay has caught up (never a
   * half-replayed state; see Historian.resources); failures as for {@link act}.
   */
  async resources(id: string, identity: string | null): Promise<ResourceInfo[]> {
    return this.withRunning(id, (historian) => historian.resources(identity));
  }

  /**
   * A stream of the resources of running workflow `id` visible to `identity` (see Historian.resourceStream):
   * its first snapshot once replay has caught up; it ends when the run ends (the workflow finishes or is
   * suspended) or the manager closes, cancels or deletes the workflow. Failures as for {@link act}.
   *
   * @example
   * for await (const snapshot of await manager.resourceStream('g1', 'ann')) render(snapshot.resources);
   */
  async resourceStream(id: string, identity: string | null): Promise<ResourceStream> {
    return this.withRunning(id, (historian) => historian.resourceStream(identity));
  }

  /**
   * Resolves when running workflow `id` has a resource `name` visible to `identity`; rejects with
   * WorkflowSuspendedError if it stops first. Failures as for {@link act}.
   */
  async waitForResource(id: string, name: string, identity: string | null): Promise<ResourceInfo> {
    return this.withRunning(id, (historian) => historian.waitForResource(name, identity));
  }

  /** A typed handle on queue `name` of workflow `id` (or alias), used as `identity`. */
  queue<T>(id: string, name: string, identity: string | null): QueueProxy<T> {
    return new QueueProxy<T>(this, id, name, identity);
  }

  /** A typed handle on state `name` of workflow `id` (or alias), used as `identity`. */
  state<T>(id: string, name: string, identity: string | null): StateProxy<T> {
    return new StateProxy<T>(this, id, name, identity);
  }

  /** A handle on event `name` of workflow `id` (or alias), used as `identity`. */
  event(id: string, name: string, identity: string | null): EventProxy {
    return new EventProxy(this, id, name, identity);
  }

  /** A typed handle on identity queue `name` of workflow `id` (or alias); `put` returns the fresh identity. */
  identityQueue<T>(id: string, name: string, identity: string | null = null): IdentityQueueProxy<T> {
    return new IdentityQueueProxy<T>(this, id, name, identity);
  }

  /**
   * Deliver the events waiting in the store's inbox (EventInbox; none when the store has no inbox) to the
   * workflows running here, and resolve with how many were applied. The manager also does this by itself
   * every `inboxPollMs`; deliveries run one at a time.
   *
   * Each event is applied as `act(workflowId, resource, identity, action, ...args)` (an alias is resolved as
   * act resolves it) once replay of the workflow has caught up, then settled: removed from the inbox with
   * its outcome recorded for the sender (`store.eventOutcome(id)`: applied, or rejected with the error's
   * code and message; `quest send --wait` prints it). Events for the same workflow, resource and identity
   * are applied in posting order.
   * - An event whose resource is not open (yet) for its identity waits in the inbox until the workflow opens
   *   it, without holding up the events for other resources; a resource private to another identity counts
   *   as not open, so the answer never tells whether it exists. With a time-to-live (`ttlMs`), it is
   *   rejected with EventExpiredError once that has passed.
   * - It is rejected when it can never be applied: the workflow is unknown (WorkflowNotFoundError) or ended
   *   (WorkflowFinishedError: completed, failed, cancelled, deleted; WorkflowCancelledError: being cancelled or deleted), the action is unknown (UnknownActionError),
   *   the arguments are wrong (InvalidArgumentError), or the action would wait for the workflow and answer
   *   the caller (a queue `get`: InvalidArgumentError, an inbox event has nobody to answer).
   * - An event for a workflow that exists but is not running here (it runs in another process, its type is
   *   not registered here, it stopped on an engine error) stays in the inbox for the manager that runs it,
   *   and so do the later events for the same workflow, so that they keep their order.
   *
   * The guarantee is at least once: an event applied (recorded in the workflow's history) but not yet
   * settled when the process dies is applied again by the next manager. Make the receiving code tolerate
   * a repeated event when that matters (a queue item with an id the workflow checks, an idempotent `set`).
   *
   * @example
   * const id = await store.postEvent({ workflowId: 'g1', resource: 'guess', identity: null, action: 'put', args: [42] });
   * await manager.deliverInbox();                    // 1
   * await store.eventOutcome(id);                    // { status: 'applied', settledAt: ... }
   */
  deliverInbox(): Promise<number> {
    return this.inbox?.deliver() ?? Promise.resolve(0);
  }

  /** Look at the inbox now rather than at the next poll (e.g. when the store notified of a new event). */
  wakeInbox(): void {
    this.inbox?.wake();
  }

  /**
   * Shut down gracefully: refuse new starts, wait for starts, cancels and deletes in progress, suspend
   * every running workflow (each stops at its next Quest await; nothing is lost: the next manager over the
   * same store resumes it), then close the store. Calling it again returns the same promise.
   *
   * Never waits for user code beyond `stopGraceMs` (default 5000 ms): steps still running see their
   * AbortSignal abort and get up to that long to return (a step that honours its signal ends at once).
   * After it, close goes on regardless: a late step's result is dropped and never written (the step runs
   * again when the workflow resumes), and nothing touches the store once it is closed. A workflow or task
   * awaiting a promise Quest does not control (a plain timer, an in-process event) is not waited for at
   * all; if it goes on later, its next Quest call throws WorkflowSuspendedError.
   *
   * @example
   * await manager.close();
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Close the manager on SIGINT or SIGTERM, then exit the process: with code 0 once everything is
   * suspended, 1 if closing failed, 128 + signal number (130 for SIGINT) at once on a second signal.
   * Returns a function that removes the handlers.
   *
   * @example
   * const manager = await WorkflowManager.open({ store, workflows });
   * manager.handleSignals();
   */
  handleSignals(options: SignalOptions = {}): () => void {
    return installSignalHandlers(() => this.close(), options);
  }

  // ---------------------------------------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    const deliveryEnded = this.inbox?.stop();
    this.deadlines.clear();
    await this.claims?.stop();
    await this.locks.drain();
    await Promise.all([...this.live.values()].map((managed) => managed.stop('close', this.stopGraceMs)));
    // A delivery in progress ends once the workflows are stopped (its event stays in the inbox). No extra
    // await when none is: code racing close() (a signal handler's exit) sees the same timing as before.
    if (deliveryEnded !== undefined) await deliveryEnded;
    this.keepAlive.stop();
    // Ownership and leases go after the last write (every workflow is stopped): the next manager starts from it all.
    try {
      await this.claims?.releaseAll();
      if (hasOwnership(this.store)) await this.store.releaseOwnership();
    } finally {
      await this.store.close();
    }
  }

  private get log(): NonNullable<ManagerOptions<W>['logger']> {
    return this.options.logger ?? questLogger;
  }

  /** Resume a workflow found 'running' in the store at open. */
  private resume(entry: WorkflowEntry): void {
    const workflow = Object.hasOwn(this.workflows, entry.type) ? this.workflows[entry.type] : undefined;
    const managed = new ManagedWorkflow(entry, workflow, this.deps);
    this.launch(managed);
    if (workflow === undefined) {
      (this.options.logger ?? questLogger).warn(
        { workflow: entry.id, type: entry.type },
        'workflow type not registered: the workflow stays suspended until a manager that knows the type opens the store',
      );
    }
  }

  private launch(managed: ManagedWorkflow): void {
    this.live.set(managed.id, managed);
    this.deadlines.arm(managed.entry, (id) => {
      if (this.closing === undefined) this.endings.endForGood(id, id, 'timeout').catch((error: unknown) => this.log.warn({ workflow: id, err: error }, 'could not end a workflow whose time ran out'));
    });
    managed.launch(this.types);
    if (managed.active) this.keepAlive.hold(managed);
  }

  private handle<R>(id: string, type: string, created: boolean): WorkflowHandle<R> {
    // The workflow of this id, never an alias of the same name (no alias lookup: a store read less on SQLite).
    return { id, type, created, result: () => this.resultOf<R>(id, id) };
  }

  private runEnded(managed: ManagedWorkflow): void {
    if (!managed.evicted) this.keepAlive.release(managed);
    if (managed.finished !== undefined) this.deadlines.disarm(managed.id);
    // A finished workflow's entry now lives in the store only; unfinished ones stay (resumable, listable).
    if (managed.finished !== undefined && this.live.get(managed.id) === managed) this.live.delete(managed.id);
    if (managed.finished !== undefined && this.claims !== undefined) this.finishedHere.add(managed.id);
    if (managed.finished !== undefined && this.claims === undefined && !managed.finished.deleteOnFinish) this.finishedEntries.set(managed.id, managed.finished);
    this.claims?.runEnded(managed);
    if (isQuestError(managed.halted, 'CORRUPT_HISTORY')) {
      this.log.warn({ workflow: managed.id, err: managed.halted }, 'history damaged: the workflow is not run (list() shows it damaged); restore its history or delete it');
    }
  }

  /** For the alias registry: a removal is a real release unless the workflow is being suspended. */
  private releasesDurably(id: string): boolean {
    const managed = this.live.get(id);
    if (managed === undefined || managed.finished !== undefined) return true;
    return managed.historian?.status === 'running';
  }

  /** Running workflow `id` (or alias), for outside calls; when it is not running, the error names its state. */
  private async running(id: string): Promise<ManagedWorkflow & { historian: NonNullable<ManagedWorkflow['historian']> }> {
    const resolved = await this.resolve(id);
    const busy = this.locks.idle(resolved);
    if (busy !== undefined) await busy;
    const managed = this.live.get(resolved);
    if (managed === undefined) throw await this.notLive(resolved, id);
    await managed.ensureResident(); // an evicted workflow resumes by replay (./residency.ts)
    if (!managed.active || managed.historian === undefined) throw managed.notRunning();
    return managed as ManagedWorkflow & { historian: NonNullable<ManagedWorkflow['historian']> };
  }

  /**
   * Use the Historian of running workflow `id` (or alias) for an outside call. When the workflow is not
   * running, or is stopped during the call, the error names its state (see {@link act}).
   */
  private async withRunning<T>(id: string, use: (historian: NonNullable<ManagedWorkflow['historian']>) => T | Promise<T>): Promise<T> {
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

  /** Why workflow `id`, which this manager does not run, cannot take outside calls. */
  private async notLive(id: string, asked: string): Promise<Error> {
    if (this.closing !== undefined) return new StorageError('This workflow manager is closed (or closing); open a new one.');
    const entry = await this.store.getWorkflow(id);
    if (entry !== undefined) return notLiveError(entry);
    return this.deleted.has(id) ? new WorkflowFinishedError(id, 'deleted') : new WorkflowNotFoundError(asked);
  }

  /**
   * Shared store: workflow `id` finished in another process less than a lease period ago, so that process may
   * not have settled the inbox events it applied yet (see InboxDeliveryDeps.settlingElsewhere).
   */
  private async settlingElsewhere(id: string): Promise<boolean> {
    if (this.claims === undefined || this.live.has(id) || this.finishedHere.has(id)) return false;
    const finishedAt = (await this.store.getWorkflow(id))?.finishedAt;
    return finishedAt !== undefined && Date.now() - finishedAt < this.claims.leaseMs;
  }

  /** The workflow id `id` names: an id of this store wins; otherwise the workflow holding alias `id`. */
  private async resolve(id: string): Promise<string> {
    checkId(id);
    if (this.live.has(id)) return id;
    const holder = await this.aliases.resolve(id);
    if (holder === undefined) return id;
    return (await this.store.getWorkflow(id)) === undefined ? holder : id;
  }

  private workflowOf(type: string): AnyWorkflow {
    const workflow = Object.hasOwn(this.workflows, type) ? this.workflows[type] : undefined;
    if (typeof workflow !== 'function') throw new UnknownWorkflowTypeError(type, this.types);
    return workflow;
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new StorageError('This workflow manager is closed (or closing); open a new one.');
  }
}

/** Default of ManagerOptions.stopGraceMs. */
const DEFAULT_STOP_GRACE_MS = 5000;

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError(`A workflow id must be a non-empty string, got ${JSON.stringify(id)}.`);
}
