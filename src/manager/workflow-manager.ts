/**
 * The WorkflowManager: many workflows in one namespace (one Store). It keeps a registry of workflow types,
 * starts workflows durably, resumes the unfinished ones when it opens, keeps results, routes outside events
 * by id or alias, and suspends everything on close.
 *
 * Durability: every change of the manager's bookkeeping (start, finish, cancel, delete, alias) is written to
 * the store when it happens, never only at shutdown. A workflow's entry is durable before it runs, and its
 * outcome is durable before its history is cleared, so a crash at any point loses neither.
 */
import { StorageError } from '../core/errors.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import type { ListPage, ListPageQuery, StatusCount } from './list-pages.js';
import type { WorkflowCountFilter } from '../storage/workflow-pages.js';
import type { ChildStarter } from './child-workflows.js';
import { assembleManager, checkManagerOptions, shutDown, takeUpWorkflows, type ManagerParts } from './manager-lifecycle.js';
import { EventProxy, IdentityQueueProxy, QueueProxy, StateProxy } from './proxies.js';
import { installSignalHandlers, type SignalOptions } from './signals.js';
import { NO_START_OPTIONS, type StartHandle, type StartRequest } from './workflow-starts.js';
import type { ManagerOptions, ResidencyInfo, StartOptions, WorkflowArgs, WorkflowHandle, WorkflowInfo, WorkflowRegistry, WorkflowResult, WorkflowType } from './types.js';

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
  /** What the manager delegates to: the workflows it has taken up, their starts and endings, outside calls, the inbox. */
  private readonly parts: ManagerParts;
  private closing: Promise<void> | undefined;

  private constructor(options: ManagerOptions<W>) {
    this.parts = assembleManager(options, {
      manager: this as unknown as ChildStarter, isClosing: () => this.closing !== undefined, checkOpen: () => this.checkOpen(),
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
    checkManagerOptions(options);
    const manager = new WorkflowManager(options);
    const { here, inbox } = manager.parts;
    await takeUpWorkflows(options.store, here.claims, (entry) => here.resume(entry));
    inbox?.startPolling();
    return manager;
  }

  /** The registered type names. */
  get types(): string[] {
    return this.parts.here.types;
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
  startWith<T extends WorkflowType<W>>(
    type: T,
    id: string,
    args: WorkflowArgs<W, T>,
    options: StartOptions = NO_START_OPTIONS,
  ): Promise<WorkflowHandle<WorkflowResult<W, T>>> {
    let request: StartRequest;
    try {
      request = this.parts.starts.request(type, id, args, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.parts.starts.begin(request, this.parts.locks, this.startHandle as StartHandle<WorkflowHandle<WorkflowResult<W, T>>>);
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
    return this.parts.outside.result<R>(await this.parts.outside.resolve(id), id);
  }

  /**
   * True when `id` is a workflow (running or finished with its result kept) or an alias held by a running
   * one.
   *
   * @example
   * if (!(await manager.has('lobby'))) await manager.start('lobby', 'lobby-1');
   */
  has(id: string): Promise<boolean> {
    return this.parts.outside.has(id);
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
  cancel(id: string): Promise<void> {
    return this.parts.endings.cancel(id);
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
  delete(id: string): Promise<void> {
    return this.parts.endings.delete(id);
  }

  /**
   * Every workflow of the store with its type, status and start time, oldest first.
   *
   * @example
   * for (const { id, status } of await manager.list()) console.log(id, status);
   */
  list(): Promise<WorkflowInfo[]> {
    return this.parts.here.list();
  }

  /**
   * One page of {@link list}, newest start first (`state`, `type`: only those stored so; `id`: the one workflow of
   * that id or alias; `search`: those whose id or an alias contains the text; `status`: the suspended or damaged
   * ones this manager holds, from its memory), and with `counts: true` the number of workflows of each status and
   * type (of those `search` finds, when given). Pass the page's `next` as `after` for the next page: the pages
   * after a cursor stay as they were while workflows start (a new one shows on the first page). On a store with
   * paged reads (SQLite, PostgreSQL, memory) a page reads its own entries only, whatever the number of workflows
   * (a search is a condition of the store's query); on another store it reads the whole list.
   * InvalidArgumentError for a limit out of 1..10,000, a cursor that is not a `next`, or a `status` with a
   * `state` other than 'running'.
   *
   * @example
   * let page = await manager.listPage({ state: 'running', limit: 100, counts: true });
   * console.log(page.counts, page.items.map((w) => w.id));
   * if (page.next !== undefined) page = await manager.listPage({ state: 'running', limit: 100, after: page.next });
   */
  listPage(query: ListPageQuery): Promise<ListPage> {
    return this.parts.here.listPage(query);
  }

  /**
   * How many workflows there are of each status and type (of those `filter.search` finds, when given: the id or
   * an alias the workflow holds contains the text): the `counts` of {@link listPage} without reading a page. On a
   * store with paged reads it is one count in the store (SQLite, PostgreSQL: from their indexes, not the
   * entries); on another store it reads the whole list. Pairs with no workflow are left out.
   *
   * @example
   * const counts = await manager.countWorkflows({ search: 'order-17' });
   * const found = counts.reduce((sum, { count }) => sum + count, 0);
   */
  countWorkflows(filter: WorkflowCountFilter = {}): Promise<StatusCount[]> {
    return this.parts.here.countWorkflows(filter);
  }

  /**
   * How many workflows keep their run in memory now, the estimate of the memory those runs take, and the
   * budgets idle workflows are evicted under (ManagerOptions.maxResident, maxResidentBytes).
   *
   * @example
   * const { resident, estimatedBytes } = manager.residency();
   */
  residency(): ResidencyInfo {
    return this.parts.here.residency();
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
  act(id: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    return this.parts.outside.act(id, name, identity, action, ...args);
  }

  /**
   * The resources of running workflow `id` visible to `identity`, once its replay has caught up (never a
   * half-replayed state; see Historian.resources); failures as for {@link act}. On a store shared by many
   * processes, a workflow another process runs is read from its stored history, as replay would rebuild it
   * (the records its process has not written yet show once they are).
   */
  async resources(id: string, identity: string | null): Promise<ResourceInfo[]> {
    return this.parts.outside.resources(id, identity);
  }

  /**
   * A stream of the resources of running workflow `id` visible to `identity` (see Historian.resourceStream):
   * its first snapshot once replay has caught up; it ends when the run ends (the workflow finishes or is
   * suspended) or the manager closes, cancels or deletes the workflow. Failures as for {@link act}. On a store
   * shared by many processes, the stream of a workflow another process runs follows its stored history: a
   * snapshot when a poll of the store (every second) finds a change, until the workflow is no longer running.
   *
   * @example
   * for await (const snapshot of await manager.resourceStream('g1', 'ann')) render(snapshot.resources);
   */
  async resourceStream(id: string, identity: string | null): Promise<ResourceStream> {
    return this.parts.outside.resourceStream(id, identity);
  }

  /**
   * Resolves when running workflow `id` has a resource `name` visible to `identity`; rejects with
   * WorkflowSuspendedError if it stops first. Failures as for {@link act}; on a shared store, a workflow
   * another process runs is followed as {@link resourceStream} follows it.
   */
  async waitForResource(id: string, name: string, identity: string | null): Promise<ResourceInfo> {
    return this.parts.outside.waitForResource(id, name, identity);
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
    return this.parts.inbox?.deliver() ?? Promise.resolve(0);
  }

  /** Look at the inbox now rather than at the next poll (e.g. when the store notified of a new event). */
  wakeInbox(): void {
    this.parts.inbox?.wake();
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
    this.closing ??= shutDown(this.parts);
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

  /** The handle start() resolves with: one function for every start, not a closure each. */
  private readonly startHandle: StartHandle<WorkflowHandle<unknown>> = (request, created) => this.handle(request.id, request.type, created);

  private handle<R>(id: string, type: string, created: boolean): WorkflowHandle<R> {
    // The workflow of this id, never an alias of the same name (no alias lookup: a store read less on SQLite).
    return { id, type, created, result: () => this.parts.outside.result<R>(id, id) };
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new StorageError('This workflow manager is closed (or closing); open a new one.');
  }
}
