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
  DuplicateWorkflowError,
  InvalidArgumentError,
  StorageError,
  UnknownWorkflowTypeError,
  WorkflowNotFoundError,
  WorkflowSuspendedError,
  isQuestError,
  isSuspension,
} from '../core/errors.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import { deserialize, serialize } from '../core/serializer.js';
import { actionSpec, findVisible } from '../inspect/resources.js';
import { hasInbox, type PostedEvent, type Store, type WorkflowEntry } from '../storage/store.js';
import { ManagerAliases } from './alias-registry.js';
import { IdLocks } from './id-locks.js';
import { ManagedWorkflow, cancelledEntry, outcomeOf, type ManagedDeps } from './managed-workflow.js';
import { EventProxy, IdentityQueueProxy, QueueProxy, StateProxy } from './proxies.js';
import { installSignalHandlers, type SignalOptions } from './signals.js';
import { workflowInfo } from './workflow-info.js';
import type {
  AnyWorkflow,
  ManagerOptions,
  StartOptions,
  WorkflowArgs,
  WorkflowHandle,
  WorkflowInfo,
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
 * Inbox: when the store has one (EventInbox: SqliteStore, MemoryStore), the manager delivers the outside
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
  /** The next inbox poll (unref'd), while open and polling. */
  private inboxTimer: NodeJS.Timeout | undefined;
  /** The inbox delivery in progress (the last one asked for): deliveries run one at a time. */
  private delivering: Promise<number> | undefined;

  private readonly store: Store;
  private readonly workflows: W;

  private constructor(private readonly options: ManagerOptions<W>) {
    const store = options.store;
    this.store = store;
    this.workflows = options.workflows;
    this.aliases = new ManagerAliases(store, {
      isLive: (id) => this.live.has(id),
      releasesDurably: (id) => this.releasesDurably(id),
    });
    this.deps = {
      store,
      aliases: this.aliases,
      stallTimeoutMs: options.historian?.stallTimeoutMs,
      onRunEnded: (workflow) => this.runEnded(workflow),
    };
  }

  /**
   * Open a manager over `store` and resume every unfinished workflow in it (without waiting for them).
   * A workflow whose type is not registered stays 'suspended' (logged) until a manager that knows the type
   * opens the store. Rejects when the store cannot be read.
   *
   * @example
   * const manager = await WorkflowManager.open({ store, workflows: { game, order } });
   */
  static async open<W extends WorkflowRegistry>(options: ManagerOptions<W>): Promise<WorkflowManager<W>> {
    if (typeof options.workflows !== 'object' || options.workflows === null) {
      throw new InvalidArgumentError('WorkflowManager.open() needs `workflows`: an object of workflow functions by type name.');
    }
    const manager = new WorkflowManager(options);
    for (const entry of await options.store.listWorkflows('running')) manager.resume(entry);
    manager.scheduleInboxPoll();
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
    const created = await this.locks.run(id, async () => {
      this.checkOpen();
      const existing = this.live.get(id)?.entry ?? (await this.store.getWorkflow(id));
      if (existing !== undefined) {
        this.reuse(existing, type, options);
        return false;
      }
      const entry: WorkflowEntry = {
        id, type, args: stored, state: 'running', startedAt: Date.now(), deleteOnFinish: options.deleteOnFinish ?? false,
      };
      await this.store.putWorkflow(entry);
      this.launch(new ManagedWorkflow(entry, workflow, this.deps));
      return true;
    });
    return this.handle(id, type, created);
  }

  /**
   * The result of workflow `id` (or alias): waits while it runs, returns the stored result of a finished one,
   * rethrows its failure (rebuilt as its class when the class is registered or built in).
   * WorkflowNotFoundError for an unknown id, WorkflowCancelledError when it was cancelled or deleted,
   * WorkflowSuspendedError when it is not running here (the manager closed, or see list() for why), and
   * the engine's error when its run stopped on one (e.g. NonDeterminismError).
   *
   * @example
   * try { console.log(await manager.getResult('g1')) } catch (error) { ... }
   */
  async getResult<R = unknown>(id: string): Promise<R> {
    const resolved = await this.resolve(id);
    await this.locks.idle(resolved);
    const managed = this.live.get(resolved);
    if (managed !== undefined) {
      await managed.settled();
      return managed.outcome() as R;
    }
    const entry = await this.store.getWorkflow(resolved);
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
   * @example
   * await manager.cancel('g1');
   */
  async cancel(id: string): Promise<void> {
    this.checkOpen();
    const resolved = await this.resolve(id);
    await this.locks.run(resolved, async () => {
      const entry = await this.stopForGood(resolved, id);
      if (entry === undefined || entry.state !== 'running') return;
      const cancelled = cancelledEntry(entry);
      // Entry first: a crash before the history is cleared must not resume a cancelled workflow.
      if (entry.deleteOnFinish) await this.store.deleteWorkflow(resolved);
      else await this.store.putWorkflow(cancelled);
      await this.store.history(resolved).clear();
    });
  }

  /**
   * Forget workflow `id` (or alias): cancel it if it runs, then remove its entry, result, history and
   * aliases (atomically in the store). Afterwards has(), list() and getResult() no longer know it.
   * WorkflowNotFoundError for an unknown id.
   *
   * @example
   * await manager.delete('g1');
   */
  async delete(id: string): Promise<void> {
    this.checkOpen();
    const resolved = await this.resolve(id);
    await this.locks.run(resolved, async () => {
      await this.stopForGood(resolved, id);
      await this.store.deleteWorkflow(resolved);
    });
  }

  /**
   * Every workflow of the store with its type, status and start time, oldest first.
   *
   * @example
   * for (const { id, status } of await manager.list()) console.log(id, status);
   */
  async list(): Promise<WorkflowInfo[]> {
    const entries = await this.store.listWorkflows();
    return entries.map((entry) => workflowInfo(entry, this.live.get(entry.id), this.aliases.aliasesOf(entry.id)));
  }

  /** quest.py's name for {@link list}: id, type, start time and status of every workflow. */
  metrics(): Promise<WorkflowInfo[]> {
    return this.list();
  }

  /**
   * Act on a resource of running workflow `id` (or alias) from outside, as `identity`: see Historian.act.
   * WorkflowNotFoundError for an unknown or finished workflow, WorkflowSuspendedError (or the error it
   * stopped on) when it is not running here, ResourceNotFoundError / UnknownActionError from the resource.
   *
   * @example
   * await manager.act('g1', 'guess', null, 'put', 7);
   */
  async act(id: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    return (await this.running(id)).act(name, identity, action, ...args);
  }

  /** The resources of running workflow `id` visible to `identity`; failures as for {@link act}. */
  async resources(id: string, identity: string | null): Promise<ResourceInfo[]> {
    return (await this.running(id)).resources(identity);
  }

  /**
   * A stream of the resources of running workflow `id` visible to `identity` (see Historian.resourceStream);
   * it ends when the workflow stops. Failures as for {@link act}.
   *
   * @example
   * for await (const snapshot of await manager.resourceStream('g1', 'ann')) render(snapshot.resources);
   */
  async resourceStream(id: string, identity: string | null): Promise<ResourceStream> {
    return (await this.running(id)).resourceStream(identity);
  }

  /**
   * Resolves when running workflow `id` has a resource `name` visible to `identity`; rejects with
   * WorkflowSuspendedError if it stops first. Failures as for {@link act}.
   */
  async waitForResource(id: string, name: string, identity: string | null): Promise<ResourceInfo> {
    return (await this.running(id)).waitForResource(name, identity);
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
   * workflows running here, in posting order, and resolve with how many were applied. The manager also
   * does this by itself every `inboxPollMs`; deliveries run one at a time.
   *
   * Each event is applied as `act(workflowId, resource, identity, action, ...args)` (an alias is resolved as
   * act resolves it), once replay of the workflow has caught up, and then removed from the inbox:
   * - an event for an unknown workflow, or one that has finished, is removed and logged (warn);
   * - an event that fails (ResourceNotFoundError, UnknownActionError, wrong arguments, an action that would
   *   wait for the workflow such as a queue `get`: nobody could receive its answer) is removed and logged;
   * - an event for a workflow that exists but is not running here (it runs in another process, its type is
   *   not registered here, it stopped on an engine error) stays in the inbox for the manager that runs it,
   *   and so do the later events for the same workflow, so that they keep their order.
   *
   * The guarantee is at least once: an event applied (recorded in the workflow's history) but not yet
   * removed when the process dies is applied again by the next manager. Make the receiving code tolerate
   * a repeated event when that matters (a queue item with an id the workflow checks, an idempotent `set`).
   *
   * @example
   * await store.postEvent({ workflowId: 'g1', resource: 'guess', identity: null, action: 'put', args: [42] });
   * await manager.deliverInbox();                    // 1
   */
  deliverInbox(): Promise<number> {
    const previous = this.delivering;
    const next = previous === undefined ? this.deliverPending() : previous.then(() => this.deliverPending(), () => this.deliverPending());
    this.delivering = next;
    const settled = (): void => {
      if (this.delivering === next) this.delivering = undefined;
    };
    next.then(settled, settled);
    return next;
  }

  /**
   * Shut down gracefully: refuse new starts, wait for starts, cancels and deletes in progress, suspend
   * every running workflow (each stops at its next Quest await; nothing is lost: the next manager over the
   * same store resumes it), then close the store. Calling it again returns the same promise.
   * Waits for workflows to stop; a step that ignores its AbortSignal delays it until the step returns.
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
    clearTimeout(this.inboxTimer);
    this.inboxTimer = undefined;
    await this.locks.drain();
    await Promise.all([...this.live.values()].map((managed) => managed.stop('close')));
    // A delivery in progress ends once the workflows are stopped (its event stays in the inbox). No extra
    // await when none is: code racing close() (a signal handler's exit) sees the same timing as before.
    if (this.delivering !== undefined) await this.delivering.catch(() => 0);
    await this.store.close();
  }

  private get log(): NonNullable<ManagerOptions<W>['logger']> {
    return this.options.logger ?? questLogger;
  }

  /** Poll the inbox again in `inboxPollMs`, unless polling is off, the store has none or the manager closes. */
  private scheduleInboxPoll(): void {
    const every = this.options.inboxPollMs ?? 200;
    if (!(every > 0) || !hasInbox(this.store) || this.closing !== undefined) return;
    this.inboxTimer = setTimeout(() => {
      this.inboxTimer = undefined;
      this.deliverInbox().then(
        () => this.scheduleInboxPoll(),
        (error: unknown) => {
          this.log.warn({ err: error }, 'could not deliver the events of the inbox; trying again at the next poll');
          this.scheduleInboxPoll();
        },
      );
    }, every);
    this.inboxTimer.unref();
  }

  /** One pass over the inbox (see deliverInbox). */
  private async deliverPending(): Promise<number> {
    const store = this.store;
    if (!hasInbox(store)) return 0;
    let applied = 0;
    let after = 0;
    // Workflows with an event left in the inbox in this pass: their later events wait behind it.
    const held = new Set<string>();
    for (;;) {
      if (this.closing !== undefined) return applied;
      const events = await store.takeEvents(INBOX_PAGE, after);
      for (const event of events) {
        after = event.id;
        if (this.closing !== undefined) return applied;
        if (held.has(event.workflowId)) continue;
        const delivery = await this.deliverEvent(event);
        if (delivery === KEEP) {
          held.add(event.workflowId);
          continue;
        }
        if (delivery === APPLIED) applied++;
        else this.log.warn(eventFields(event), `inbox event ${event.id} dropped: ${delivery.drop}`);
        await store.removeEvent(event.id);
      }
      if (events.length < INBOX_PAGE) return applied;
    }
  }

  /** Apply one inbox event, or say why it stays in the inbox or is dropped. */
  private async deliverEvent(event: PostedEvent): Promise<Delivery> {
    let id: string;
    try {
      id = await this.resolve(event.workflowId);
    } catch (error) {
      return { drop: messageOf(error) };
    }
    const managed = this.live.get(id);
    if (managed === undefined || managed.finished !== undefined) {
      const entry = managed?.finished ?? (await this.store.getWorkflow(id));
      if (entry === undefined) return { drop: `there is no workflow ${JSON.stringify(event.workflowId)}` };
      if (entry.state !== 'running') return { drop: `workflow ${JSON.stringify(id)} has finished (${entry.state})` };
      return KEEP; // Started by another process after this manager opened: that one runs it.
    }
    const historian = managed.historian;
    if (!managed.active || historian === undefined) return KEEP;
    let args: unknown[];
    try {
      args = event.args.map((arg) => deserialize(arg));
    } catch (error) {
      return { drop: `its arguments cannot be read: ${messageOf(error)}` };
    }
    // Once replay has caught up, refuse actions that wait for the workflow: they would hold up the inbox.
    const visible = await firstSnapshot(historian.resourceStream(event.identity));
    if (visible === undefined) return KEEP; // The run stopped meanwhile.
    const resource = findVisible(visible, event.resource, event.identity);
    const spec = resource === undefined ? undefined : actionSpec(resource.kind, event.action);
    if (resource !== undefined && spec?.blocking === true) {
      return { drop: `${event.action} on a ${resource.kind} waits for the workflow, and an inbox event has nobody to answer` };
    }
    try {
      await this.act(id, event.resource, event.identity, event.action, ...args);
      return APPLIED;
    } catch (error) {
      // Suspended or stopped meanwhile: whether it was recorded is for the next run to tell; keep it.
      if (this.closing !== undefined || isSuspension(error) || !managed.active) return KEEP;
      return { drop: messageOf(error) };
    }
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
    managed.launch(this.types);
  }

  /** ifExists: an existing workflow is returned (and resumed if it is not running here) or refused. */
  private reuse(existing: WorkflowEntry, type: string, options: StartOptions): void {
    if (options.ifExists !== 'resume' || existing.type !== type) throw new DuplicateWorkflowError(existing.id);
    if (existing.state !== 'running') return;
    const managed = this.live.get(existing.id) ?? new ManagedWorkflow(existing, this.workflowOf(type), this.deps);
    this.launch(managed);
  }

  private handle<R>(id: string, type: string, created: boolean): WorkflowHandle<R> {
    return { id, type, created, result: () => this.getResult<R>(id) };
  }

  /**
   * Stop workflow `id` if it runs here and drop it from the manager and its aliases from the store.
   * Returns its entry (undefined when it finished while being stopped); WorkflowNotFoundError if unknown.
   */
  private async stopForGood(id: string, asked: string): Promise<WorkflowEntry | undefined> {
    const managed = this.live.get(id);
    if (managed === undefined) {
      const entry = await this.store.getWorkflow(id);
      if (entry === undefined) throw new WorkflowNotFoundError(asked);
      return entry;
    }
    const held = this.aliases.aliasesOf(id);
    await managed.stop('cancel');
    this.live.delete(id);
    this.aliases.forget(id);
    for (const alias of held) await this.store.deleteAlias(alias, id);
    return managed.finished === undefined ? managed.entry : undefined;
  }

  private runEnded(managed: ManagedWorkflow): void {
    // A finished workflow's entry now lives in the store only; unfinished ones stay (resumable, listable).
    if (managed.finished !== undefined && this.live.get(managed.id) === managed) this.live.delete(managed.id);
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

  /** The Historian of running workflow `id` (or alias), for outside calls. */
  private async running(id: string): Promise<NonNullable<ManagedWorkflow['historian']>> {
    const resolved = await this.resolve(id);
    await this.locks.idle(resolved);
    const managed = this.live.get(resolved);
    if (managed === undefined) throw new WorkflowNotFoundError(id);
    if (!managed.active || managed.historian === undefined) throw managed.halted ?? new WorkflowSuspendedError(resolved);
    return managed.historian;
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

/** Inbox events read at a time. */
const INBOX_PAGE = 100;
const APPLIED = 'applied';
const KEEP = 'keep';
/** What became of an inbox event: applied, left in the inbox, or dropped (with the reason). */
type Delivery = typeof APPLIED | typeof KEEP | { drop: string };

/** The first snapshot of a stream (the resources once replay has caught up), or undefined if it ended first. */
async function firstSnapshot(stream: ResourceStream): Promise<ResourceInfo[] | undefined> {
  try {
    const first = await stream.next();
    return first.done === true ? undefined : first.value.resources;
  } finally {
    stream.end();
  }
}

function eventFields(event: PostedEvent): Record<string, unknown> {
  return { event: event.id, workflow: event.workflowId, resource: event.resource, identity: event.identity, action: event.action };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError(`A workflow id must be a non-empty string, got ${JSON.stringify(id)}.`);
}
