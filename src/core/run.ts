/**
 * One run of a workflow: from `Historian.run()` until the workflow finishes, fails or is suspended. The run
 * owns the write buffer, the replay, the open resources, the versions in effect and every task; a suspended
 * run is dead for good (every later write throws), and resuming creates a new run over the same history.
 */
import { createDeferred, settle } from './deferred.js';
import {
  ConfigurationMismatchError,
  DuplicateResourceError,
  InvalidArgumentError,
  NonDeterminismError,
  ResourceNotFoundError,
  StorageError,
  WorkflowSuspendedError,
  type QuestError,
  isQuestError,
} from './errors.js';
import type { History } from './history.js';
import {
  type ConfigRecord,
  type ExternalEventRecord,
  type HistoryRecord,
  type InternalEventRecord,
  type RecordType,
  type ResourceCloseRecord,
  type ResourceKey,
} from './records.js';
import { Forgetting } from './forgetting.js';
import { OpenResource, checkResourceName, handOff, rejectWaiters, resourceMapKey, type Waiter } from './open-resource.js';
import { errorOutcome, outcomeOf, valueOf, type RecordFields } from './outcome.js';
import { Replay } from './replay.js';
import { WriteBuffer } from './write-buffer.js';
import { VersionBook, type DeclaredVersion } from './version-book.js';
import { IdleCommit } from './idle-commit.js';
import { Quiescence } from './quiescence.js';
import { WOULD_BLOCK, visibleCandidates, type ItemTag, type ResourceState } from './resources.js';
import { deserialize, serialize, type Json } from './serializer.js';
import { Scope, type StepFrame, type WorkflowContext } from './context.js';
import { TaskState } from './task-state.js';
import { armExpiry, type WaitExpiry } from './wait-expiry.js';
import { replayTaskCancel } from './task-cancel.js';
import type { ChildWorkflowHost } from './child.js';

/** A configuration call registered with `Historian.configure`. */
export interface Configuration {
  readonly name: string;
  readonly fn: (...args: never[]) => unknown;
  readonly args: readonly unknown[];
}

/** Where aliases live (the manager): the run registers and removes them as the workflow opens and closes them. */
export interface AliasRegistry {
  add(alias: string, workflowId: string): void | Promise<void>;
  remove(alias: string, workflowId: string): void | Promise<void>;
}

/** How a resource changed, for resource streams. */
export type ResourceChange = 'open' | 'act' | 'close';

export interface RunOptions {
  readonly workflowId: string;
  readonly history: History;
  readonly configurations: readonly Configuration[];
  readonly stallTimeoutMs: number;
  readonly aliases: AliasRegistry | undefined;
  /** Where child workflows are started (see child.ts); absent for a lone Historian. */
  readonly children?: ChildWorkflowHost | undefined;
  readonly onResourceChange: (resource: OpenResource, change: ResourceChange) => void;
  /** Called once replay has caught up (before live calls are released). */
  readonly onReplayDone: () => void;
  /** Stop once the history is consumed, running nothing live (see HistorianOptions.replayOnly). */
  readonly replayOnly?: boolean;
  /** Replay only: told of each step that had started and not ended (its body is not run again). */
  readonly onStepNotRun?: (stepId: string) => void;
  /** Called when the workflow has gone idle waiting for the outside or a timer (see ./idle-commit.ts). */
  readonly onIdle?: () => void;
}

export class Run {
  readonly workflowId: string;
  /** Non-null while the history is being replayed. */
  replay: Replay | null = null;
  /** Why the run stopped (suspension, failure), once it has. */
  stopReason: Error | undefined;
  readonly resources = new Map<string, OpenResource>();
  /** Versions in effect at the current point of the history, per declaring function, and those the code declares. */
  readonly versions = new VersionBook();
  readonly root = new TaskState('main', null);
  readonly rootScope = new Scope('main', null);
  readonly aliases = new Set<string>();
  /** Which records leave the history, and when (pruning, superseded changes). */
  readonly forgetting = new Forgetting();

  private readonly options: RunOptions;
  private readonly buffer: WriteBuffer;
  /** Commits what is buffered when the workflow waits for the outside. */
  private readonly idle: IdleCommit;
  /** Created on first use: most runs never hand out their signal. */
  private abortController: AbortController | undefined;
  private configsApplied = 0;
  /** Rejected with the stop reason when the run stops (see untilStopped); never resolves. */
  private readonly halt = createDeferred<never>();
  private readonly replayDone = createDeferred<void>();
  private readonly stopped = createDeferred<void>();
  /** Which tasks wait for the outside or a timer: tells when the run is quiet (see ./quiescence.ts). */
  readonly quiescence = new Quiescence();
  /** Step bodies running now (user code): a suspension gives them a grace period to return. */
  private readonly stepBodies = new Set<Promise<unknown>>();

  constructor(options: RunOptions, lastSeq: number) {
    this.options = options;
    this.workflowId = options.workflowId;
    this.buffer = new WriteBuffer(options.history, lastSeq, (error) => this.storageFailure(error));
    this.idle = new IdleCommit(this.buffer, () => this.stopReason !== undefined, options.onIdle);
  }

  /** Aborted when the run stops; steps observe it through `abortSignal()`. */
  get abortSignal(): AbortSignal {
    if (this.abortController === undefined) {
      this.abortController = new AbortController();
      if (this.stopReason !== undefined) this.abortController.abort(this.stopReason);
    }
    return this.abortController.signal;
  }

  /** The context of the workflow function itself. */
  rootContext(): WorkflowContext {
    return { run: this, task: this.root, scope: this.rootScope, versioned: null };
  }

  /** Resolves when replay has caught up (at once for a new workflow) or the run has stopped, whichever comes first. */
  get caughtUpOrStopped(): Promise<void> {
    return Promise.race([this.replayDone.promise, this.stopped.promise]);
  }

  /**
   * Await `promise`, unless the run stops first (then reject with the stop reason). Every await on user code
   * goes through this, so that stopping never waits for that code.
   */
  untilStopped<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.halt.promise]);
  }

  /** A step body (user code) started: it is given a grace period to return when the run stops. */
  stepBodyStarted(body: Promise<unknown>): void {
    const bodies = this.stepBodies;
    bodies.add(body);
    const ended = (): void => {
      bodies.delete(body);
    };
    body.then(ended, ended);
  }

  /**
   * True when the run could be suspended and resumed by replay without losing work in progress: replay has
   * caught up, and every task waits for the outside or a sleep (see ./quiescence.ts).
   */
  get quiet(): boolean {
    return this.stopReason === undefined && this.replay === null && this.replayIsDone && this.quiescence.quiet(this.stepBodies.size);
  }

  /** A sleep of `task` waits until `deadline` (epoch ms) for `waiting`: the run is idle meanwhile. */
  timerWait<T>(task: TaskState, deadline: number, waiting: Promise<T>): Promise<T> {
    const quietEnded = this.quiescence.waitBegan(task, deadline);
    const idleEnded = this.idle.began();
    return waiting.finally(() => {
      quietEnded();
      idleEnded();
    });
  }

  /**
   * Resolves when every step body running now has returned, or after `graceMs` (Infinity: no limit),
   * whichever comes first. Their results are dropped either way (the run has stopped): the grace is for
   * their own cleanup.
   */
  async stepsReturned(graceMs: number): Promise<void> {
    if (this.stepBodies.size === 0 || !(graceMs > 0)) return;
    let timer: NodeJS.Timeout | undefined;
    // Infinity waits for the steps however long they take; setTimeout itself caps delays at 2^31 - 1 ms.
    const graceOver = new Promise<void>((resolve) => {
      if (graceMs !== Infinity) timer = setTimeout(resolve, Math.min(graceMs, 2 ** 31 - 1));
    });
    try {
      await Promise.race([Promise.allSettled([...this.stepBodies]), graceOver]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Writing records

  /**
   * Append a record to the buffer. It goes out with the next durable write (order is kept, so a durable
   * record implies every record before it) or when a suspended run drains.
   */
  write(task: string, frame: StepFrame | null, partial: RecordFields): void {
    if (this.stopReason !== undefined) throw this.stopReason;
    const seq = this.buffer.append(task, partial); // not inside `frame?.`: that would skip the append when frame is null
    frame?.seqs.push(seq);
    this.forgetting.recorded(seq, partial.type);
  }

  /**
   * Append a record, remove `remove` (pruning) in the same atomic change, and make everything buffered
   * durable. Returns undefined when the storage applied it synchronously.
   */
  writeDurable(task: string, frame: StepFrame | null, partial: RecordFields, remove?: readonly number[]): Promise<void> | undefined {
    this.write(task, frame, partial);
    if (remove !== undefined) this.forget(remove);
    return this.buffer.flush();
  }

  /** Remove records (a cancelled step's, superseded changes) together with the next write. */
  forget(seqs: readonly number[]): void {
    // A stopped run changes nothing more: a removal buffered now would reach the store with a later flush.
    if (this.stopReason !== undefined) return;
    this.buffer.remove(seqs);
    this.forgetting.removed(seqs);
  }

  /** The seq of the record written last. */
  get lastSeq(): number {
    return this.buffer.lastSeq;
  }

  /** Make every buffered record durable. */
  flush(): Promise<void> | undefined {
    return this.buffer.flush();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Replay helpers used by steps, tasks and resources

  /**
   * In replay, find the record of (type, id): claim it and resolve with it once its turn comes. When the
   * history has none, wait until replay has caught up and resolve with null: the caller runs live and
   * records. Outside replay, resolves with null at once.
   */
  async claimOrLive(context: WorkflowContext, type: RecordType, id: string, what: string): Promise<HistoryRecord | null> {
    // A stopped task must fail here, live as on replay: claiming first and then failing in track() would
    // consume the record without applying it.
    context.task.check();
    const replay = this.replay;
    if (replay === null) return null;
    const position = replay.find(type, id);
    if (position >= 0) return context.task.track(replay.claim(position));
    await context.task.track(replay.waitLive(what));
    return null;
  }

  /** Wait (outside any task) until replay has caught up. */
  async waitLive(what: string): Promise<void> {
    if (this.replay !== null) await this.replay.waitLive(what).promise;
    if (this.stopReason !== undefined) throw this.stopReason;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Starting, replaying, stopping

  /**
   * Start the run: replay `records` (if any), applying configurations and versions in history order; start the
   * workflow with `startMain` once the records that precede it are applied.
   */
  async begin(records: readonly HistoryRecord[], startMain: () => void): Promise<void> {
    // Suspended before it began (suspend() right after run()): replay nothing.
    if (this.stopReason !== undefined) throw this.stopReason;
    if (records.length === 0) {
      await this.catchUp();
      // Stopped while catching up: the workflow must not start (nobody would await it).
      if (this.stopReason !== undefined) throw this.stopReason;
      this.finishReplay();
      startMain();
      return;
    }
    const replay = new Replay(records, this.options.stallTimeoutMs);
    this.replay = replay;
    this.forgetting.loaded(records, (record) => replay.isApplied(record));
    startMain();
    replay
      .drive((record) => this.applyRecord(record))
      .then(async () => {
        if (this.stopReason !== undefined) return;
        if (this.options.replayOnly === true) {
          this.stop(new WorkflowSuspendedError(this.workflowId, REPLAY_CHECKED));
          return;
        }
        await settle();
        await this.catchUp();
        this.replay = null;
        this.finishReplay();
        replay.finish();
      })
      .catch((error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))));
  }

  /** Where child workflows are started, if anywhere (see child.ts). */
  get childHost(): ChildWorkflowHost | undefined {
    return this.options.children;
  }

  /** True for a replay-only run (see HistorianOptions.replayOnly). */
  get replayOnly(): boolean {
    return this.options.replayOnly === true;
  }

  /** Replay only: step `id` had started and not ended; its body is not run again. */
  stepNotRun(id: string): void {
    this.replay?.skipInside(id);
    this.options.onStepNotRun?.(id);
  }

  /** True once replay has caught up (immediately after catch-up for a new workflow). */
  replayIsDone = false;

  private finishReplay(): void {
    this.replayIsDone = true;
    this.options.onReplayDone();
    this.replayDone.resolve();
  }

  /** Once replay has caught up: record configurations and versions that are new in this code. */
  private async catchUp(): Promise<void> {
    const configurations = this.options.configurations;
    for (let i = this.configsApplied; i < configurations.length; i++) {
      const configuration = configurations[i] as Configuration;
      const args = configuration.args.map((arg, n) => serialize(arg, `configuration ${configuration.name} argument ${n}`));
      this.write('', null, { type: 'config', id: '', name: configuration.name, args });
      this.configsApplied++;
      await configuration.fn(...(configuration.args as never[]));
      // Stopped while the configuration ran: what it would record next must not reach the store.
      if (this.stopReason !== undefined) throw this.stopReason;
    }
    for (const declared of this.versions.allDeclared()) this.recordVersion(declared, '');
    await this.flush();
  }

  /** Apply a record nobody claims: an outside event, a version, a configuration, an event in a completed step. */
  private async applyRecord(record: HistoryRecord): Promise<void> {
    switch (record.type) {
      case 'external':
      case 'internal':
        this.replayEvent(record);
        return;
      case 'version':
        this.versions.apply(record);
        return;
      case 'config':
        await this.replayConfiguration(record);
        return;
      case 'resource_close':
        this.replayClose(record);
        return;
      case 'task_cancel':
        replayTaskCancel(this, record);
        return;
      default:
        throw new NonDeterminismError(`Replay found the unclaimed record ${record.type} ${record.id}`);
    }
  }

  private async replayConfiguration(record: ConfigRecord): Promise<void> {
    const configuration = this.options.configurations[this.configsApplied];
    if (configuration === undefined || configuration.name !== record.name) {
      throw new ConfigurationMismatchError(
        `The history applied configuration ${JSON.stringify(record.name)} as number ${this.configsApplied + 1}, but ` +
          (configuration === undefined ? 'none was registered' : `${JSON.stringify(configuration.name)} was registered`),
      );
    }
    this.configsApplied++;
    await configuration.fn(...(record.args.map((arg) => deserialize(arg)) as never[]));
  }

  /** A close made by a scope that completed: the resource closes at this point of the history, as it did. */
  private replayClose(record: ResourceCloseRecord): void {
    const resource = this.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
    if (resource === undefined || resource.openId !== record.id) {
      throw new NonDeterminismError(
        `Replay found the close of resource ${record.resource.name} (${record.id}), which the workflow has not opened`,
      );
    }
    // Pruned with the resource, as when it was written.
    resource.frame?.seqs.push(record.seq);
    this.forgetResource(resource);
  }

  /** Re-apply a recorded event on its resource; it must succeed now, as it did when recorded. */
  private replayEvent(record: ExternalEventRecord | InternalEventRecord): void {
    // A wait that timed out changed nothing.
    if (record.type === 'internal' && record.error !== undefined) return;
    const resource = this.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
    if (resource === undefined) {
      throw new NonDeterminismError(
        `Replay found an event (${record.action}) on resource ${record.resource.name}, which the workflow has not opened`,
      );
    }
    const args = record.args.map((arg) => deserialize(arg));
    const value = resource.state.perform(record.action, args, { seq: record.seq, origin: undefined });
    if (value === WOULD_BLOCK) {
      throw new NonDeterminismError(`Replay could not repeat ${record.action} on ${record.resource.name}: it would wait`);
    }
    this.forget(this.forgetting.eventReplayed(resource, record.action, record.seq));
    this.changed(resource, 'act');
  }

  /** Stop the run for good: every task stops at its next Quest await with `reason`. */
  stop(reason: Error): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.stopped.resolve();
    this.halt.reject(reason);
    this.abortController?.abort(reason);
    this.replay?.stop(reason);
    this.root.stop(reason);
    for (const resource of this.resources.values()) rejectWaiters(resource, reason);
  }

  /** Stop the run because it failed; the workflow's promise rejects with `error`. */
  fail(error: Error): void {
    this.stop(error);
  }

  /** After a suspension: write what was buffered before it (never anything recorded after). */
  drain(): Promise<void> {
    return this.buffer.drain();
  }

  private storageFailure(error: unknown): QuestError {
    // A lost lease (another process owns the workflow now) stops the run as a storage failure does, named as it is.
    const failure = isQuestError(error, 'STORAGE_FAILURE') || isQuestError(error, 'LEASE_LOST')
      ? error
      : new StorageError(`Could not write the history of workflow ${JSON.stringify(this.workflowId)}: ${String(error)}`, error);
    this.fail(failure);
    return failure;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Versions

  /**
   * Declare the versions function `fn` was written for, called by `task`. Live, each newer one is recorded now
   * (written by `task`); during replay, at catch-up (written by the engine, task ''). Throws VersionConflictError
   * when another function of the same name declared the same version differently.
   */
  declareVersions(task: string, fn: string, versions: Readonly<Record<string, string>>): void {
    const declared = this.versions.declare(fn, versions);
    if (this.replay === null) {
      for (const each of declared) this.recordVersion(each, task);
    } else {
      this.applyVersionsOfCall(this.replay, task, fn);
    }
  }

  /**
   * A call that ran live recorded its function's new versions at once, so its body saw them. On replay they lie
   * after the records written before the call, among the records replay applies itself (versions, outside events
   * that came meanwhile) before the next record a call claims; replay has not applied them yet when the call
   * comes again. Apply them now (replay applies them again at their position, to the same effect). Versions
   * recorded at catch-up (task '') stay where they are: calls that came before them saw the old ones.
   */
  private applyVersionsOfCall(replay: Replay, task: string, fn: string): void {
    for (let offset = 0, record = replay.peek(0); record !== undefined && replay.isApplied(record); record = replay.peek(++offset)) {
      if (record.type === 'version' && record.fn === fn && record.task === task) this.versions.apply(record);
    }
  }

  /** Record a declared version that is newer than the one in effect for its function (versions only move forward). */
  private recordVersion({ fn, name, version }: DeclaredVersion, task: string): void {
    if (version <= this.versions.current(fn, name)) return;
    this.write(task, null, { type: 'version', id: '', fn, name, version } as RecordFields);
    this.versions.apply({ fn, name, version });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Resources

  /** Open a resource for the calling scope; DuplicateResourceError if one of that name and identity is open. */
  async openResource(context: WorkflowContext, kind: string, name: string, identity: string | null, state: ResourceState, init?: unknown): Promise<OpenResource> {
    checkResourceName(name, identity);
    const mapKey = resourceMapKey(name, identity);
    if (this.resources.has(mapKey)) throw new DuplicateResourceError(name, identity);
    const id = context.scope.nextId(`${kind}:${name}`);
    const key: ResourceKey = { name, identity };
    const recorded = await this.claimOrLive(context, 'resource_open', id, `open ${kind} ${name} (${id})`);
    if (this.resources.has(mapKey)) throw new DuplicateResourceError(name, identity);
    const frame = context.scope.frame;
    if (recorded === null) {
      const partial = { type: 'resource_open' as const, id, resource: key, kind };
      this.write(context.task.id, frame, init === undefined ? partial : { ...partial, init: serialize(init, `initial value of ${name}`) });
    } else {
      frame?.seqs.push(recorded.seq);
    }
    const resource = new OpenResource(key, state, id, frame);
    this.resources.set(mapKey, resource);
    this.changed(resource, 'open');
    return resource;
  }

  /** Close a resource (recorded). During suspension it is only forgotten: nothing more is recorded. */
  async closeResource(context: WorkflowContext, resource: OpenResource): Promise<void> {
    if (resource.closed) return;
    if (this.stopReason === undefined) {
      // A cancelled task still closes what it opened (an `await using` disposal), live and on replay alike:
      // claim under a stand-in that is not cancelled, or replay would consume the close record, throw
      // TaskCancelledError and leave the resource open.
      const closer = context.task.stopReason === undefined ? context : { ...context, task: new TaskState(context.task.id, null) };
      const recorded = await this.claimOrLive(closer, 'resource_close', resource.openId, `close ${resource.key.name}`);
      // Closed from a nested scope (a loop iteration): the close is kept with the resource, but once that
      // scope completes nobody calls close() on replay; `by` tells replay to apply it (see Replay.isApplied).
      const closingFrame = context.scope.frame;
      const nested = closingFrame !== resource.frame;
      if (recorded === null) {
        const partial = { type: 'resource_close' as const, id: resource.openId, resource: resource.key };
        this.write(context.task.id, resource.frame, nested ? { ...partial, by: context.scope.path } : partial);
      } else {
        resource.frame?.seqs.push(recorded.seq);
      }
      if (nested) this.forgetting.closedFromNestedScope(closingFrame, recorded?.seq ?? this.lastSeq);
    }
    this.forgetResource(resource);
  }

  /** Remove a resource from the run without recording (the run ended, or the close was recorded). */
  forgetResource(resource: OpenResource): void {
    if (resource.closed) return;
    resource.closed = true;
    this.resources.delete(resourceMapKey(resource.key.name, resource.key.identity));
    rejectWaiters(resource, new ResourceNotFoundError(resource.key.name, resource.key.identity, this.workflowId));
    this.changed(resource, 'close');
  }

  /**
   * A workflow-side action on a resource. Reads run at once and are not recorded; changes and waits are
   * recorded (and on replay re-applied at their position and checked against the record).
   */
  async internalAction(
    context: WorkflowContext,
    resource: OpenResource,
    action: string,
    args: readonly unknown[],
    timeout?: { deadline: number; timeoutMs: number },
  ): Promise<unknown> {
    context.task.check();
    if (resource.closed) throw new ResourceNotFoundError(resource.key.name, resource.key.identity, this.workflowId);
    const spec = resource.state.spec(action, args);
    if (!spec.mutates && !spec.blocking) return resource.state.perform(action, args);
    const id = context.scope.nextId(`${resource.key.name}.${action}`);
    const serializedArgs = args.map((arg, n) => serialize(arg, `argument ${n} of ${action} on ${resource.key.name}`));
    const record = (value: unknown): void => {
      this.write(context.task.id, null, {
        type: 'internal', id, resource: resource.key, action, args: serializedArgs, ...outcomeOf(value),
      });
      this.forget(this.forgetting.actionRecorded(context.scope.frame, resource, action, this.lastSeq));
    };
    // A wait that times out records the TimeoutError in place of its value (see timeout.ts).
    const expire: WaitExpiry | undefined = timeout === undefined ? undefined : {
      ...timeout,
      what: `${action} on ${resource.key.name} (${id})`,
      record: (error: Error): void => {
        this.write(context.task.id, context.scope.frame, {
          type: 'internal', id, resource: resource.key, action, args: serializedArgs, ...errorOutcome(error),
        });
      },
    };
    const live = (): Promise<unknown> | unknown => {
      if (resource.closed) throw new ResourceNotFoundError(resource.key.name, resource.key.identity, this.workflowId);
      return this.performLive(resource, action, args, context.scope.frame, record, context.task, expire);
    };
    const replay = this.replay;
    if (replay === null) return live();
    const position = replay.find('internal', id);
    if (position < 0) return this.afterReplay(context.task, `${action} on ${resource.key.name} (${id})`, live);
    const recorded = await context.task.track(replay.claim(position));
    return this.replayInternal(context, resource, recorded as InternalEventRecord, args);
  }

  /**
   * Run `action` once replay has caught up. It starts synchronously when released, in the order the calls
   * came (see Replay.waitLive), so that a queue get made during replay keeps its place in line.
   */
  private afterReplay<T>(task: TaskState | undefined, what: string, action: () => T | Promise<T>): Promise<T> {
    const replay = this.replay;
    if (replay === null) return Promise.resolve().then(action);
    task?.check();
    const result = createDeferred<T>();
    const gate = replay.waitLive(what, () => {
      try {
        Promise.resolve(action()).then(result.resolve, result.reject);
      } catch (error) {
        result.reject(error);
      }
    });
    gate.promise.catch(result.reject);
    return task === undefined ? result.promise : task.track(result);
  }

  /**
   * Wait for the first of several resources to allow `action` (MultiQueue). The chosen resource is recorded,
   * so replay takes from the same one.
   */
  async internalActionAny(
    context: WorkflowContext,
    resources: readonly OpenResource[],
    action: string,
    label: string,
    timeout?: { deadline: number; timeoutMs: number },
  ): Promise<[OpenResource, unknown]> {
    context.task.check();
    const id = context.scope.nextId(`${label}.${action}`);
    if (this.replay !== null) {
      const recorded = await this.claimOrLive(context, 'internal', id, `${action} on ${label} (${id})`);
      if (recorded !== null) {
        const record = recorded as InternalEventRecord;
        const resource = this.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
        if (resource === undefined) throw new NonDeterminismError(`Replay found ${action} on ${record.resource.name}, which is not open`);
        return [resource, this.replayInternal(context, resource, record, [])];
      }
    }
    const deferred = createDeferred<[OpenResource, unknown]>();
    const waiter: Waiter = {
      action,
      args: [],
      origin: context.scope.frame,
      done: false,
      waitingOn: 0,
      fail: (reason) => deferred.reject(reason),
      complete: (value, resource) => {
        this.write(context.task.id, null, {
          type: 'internal', id, resource: resource.key, action, args: [], ...outcomeOf(value),
        });
        this.forget(this.forgetting.actionRecorded(context.scope.frame, resource, action, this.lastSeq));
        deferred.resolve([resource, value]);
      },
    };
    for (const resource of resources) {
      if (resource.closed) continue;
      waiter.waitingOn++;
      resource.waiters.push(waiter);
      this.handOff(resource);
      if (waiter.done) break;
    }
    const waitEnded = waiter.done ? undefined : this.idle.began();
    const first = resources.find((resource) => !resource.closed);
    const timer = waiter.done || timeout === undefined || first === undefined ? undefined : armExpiry(
      {
        ...timeout,
        what: `${action} on ${label} (${id})`,
        record: (error) => this.write(context.task.id, context.scope.frame, {
          type: 'internal', id, resource: first.key, action, args: [], ...errorOutcome(error),
        }),
      },
      waiter,
      () => this.stopReason === undefined,
      deferred.reject,
    );
    const quietEnded = waiter.done ? undefined : this.quiescence.waitBegan(context.task, timeout?.deadline);
    try {
      return await context.task.track(deferred);
    } finally {
      waiter.done = true;
      timer?.clear();
      waitEnded?.();
      quietEnded?.();
    }
  }

  private replayInternal(context: WorkflowContext, resource: OpenResource, record: InternalEventRecord, args: readonly unknown[]): unknown {
    if (record.error !== undefined) {
      // A wait that timed out: it changed nothing; it throws its recorded TimeoutError again.
      context.scope.frame?.seqs.push(record.seq);
      return valueOf(record);
    }
    const value = resource.state.perform(record.action, args, { seq: record.seq, origin: context.scope.frame });
    if (value === WOULD_BLOCK) {
      throw this.diverged(`Replay could not repeat ${record.action} on ${resource.key.name} (${record.id}): it would wait`);
    }
    const actual = serialize(value);
    if (record.error === undefined && JSON.stringify(actual) !== JSON.stringify(record.result ?? null)) {
      throw this.diverged(
        `Replay of ${record.action} on ${resource.key.name} (${record.id}) gave ${JSON.stringify(actual)}, but the history recorded ${JSON.stringify(record.result)}`,
      );
    }
    this.forget(this.forgetting.actionRecorded(context.scope.frame, resource, record.action, record.seq));
    this.changed(resource, 'act');
    this.handOff(resource);
    return value;
  }

  /** An outside caller's action, by resource name and the caller's identity. */
  async externalAction(name: string, identity: string | null, action: string, args: readonly unknown[]): Promise<unknown> {
    if (this.stopReason !== undefined) throw this.stopReason;
    if (this.replay === null) return this.externalNow(name, identity, action, args);
    return this.afterReplay(undefined, `outside ${action} on ${name}`, () => this.externalNow(name, identity, action, args));
  }

  private async externalNow(name: string, identity: string | null, action: string, args: readonly unknown[]): Promise<unknown> {
    if (this.stopReason !== undefined) throw this.stopReason;
    const resource = this.findVisible(name, identity);
    const spec = resource.state.spec(action, args);
    if (!spec.mutates && !spec.blocking) return resource.state.perform(action, args);
    const prepared = resource.state.prepareExternal(action, [...args]);
    const serializedArgs = prepared.map((arg, n) => serialize(arg, `argument ${n} of ${action} on ${name}`));
    // The workflow sees a copy, exactly as it will on replay; the caller cannot change it afterwards.
    const copies = serializedArgs.map((arg) => deserialize(arg));
    let durable: Promise<void> | undefined;
    const value = await this.performLive(resource, action, copies, undefined, (result) => {
      if (!spec.mutates) return;
      this.write('', resource.frame, {
        type: 'external', id: resource.openId, resource: resource.key, action, args: serializedArgs, ...outcomeOf(result),
      });
      this.forget(this.forgetting.outsideChange(resource, action, this.lastSeq));
      durable = this.flush();
    });
    if (durable !== undefined) await durable;
    return value;
  }

  /** The resource `name` visible to `identity` (core/resources.ts visibleCandidates: its own, then the public one). */
  findVisible(name: string, identity: string | null): OpenResource {
    for (const candidate of visibleCandidates(name, identity)) {
      const found = this.resources.get(resourceMapKey(candidate.name, candidate.identity));
      if (found !== undefined) return found;
    }
    throw new ResourceNotFoundError(name, identity, this.workflowId);
  }

  /** Perform now if possible (recording synchronously), else wait in line for the resource to change. */
  private performLive(
    resource: OpenResource,
    action: string,
    args: readonly unknown[],
    origin: ItemTag['origin'],
    record: (value: unknown) => void,
    task?: TaskState,
    expire?: WaitExpiry,
  ): Promise<unknown> | unknown {
    const value = resource.state.perform(action, args, { seq: this.buffer.lastSeq + 1, origin });
    if (value !== WOULD_BLOCK) {
      record(value);
      this.changed(resource, 'act');
      this.handOff(resource);
      return value;
    }
    const deferred = createDeferred<unknown>();
    const waiter: Waiter = {
      action,
      args,
      origin,
      done: false,
      waitingOn: 1,
      fail: (reason) => deferred.reject(reason),
      complete: (result) => {
        record(result);
        deferred.resolve(result);
      },
    };
    resource.waiters.push(waiter);
    // An outside caller waiting (a get on a queue the workflow fills) is not the workflow waiting.
    if (task === undefined) {
      return deferred.promise.finally(() => {
        waiter.done = true;
      });
    }
    const tracked = task.track(deferred);
    const waitEnded = this.idle.began();
    const timer = expire === undefined ? undefined : armExpiry(expire, waiter, () => this.stopReason === undefined, deferred.reject);
    const quietEnded = this.quiescence.waitBegan(task, expire?.deadline);
    return tracked.finally(() => {
      waiter.done = true;
      timer?.clear();
      waitEnded();
      quietEnded();
    });
  }

  /** Hand the resource to its waiting actions (see ./open-resource.ts). */
  private handOff(resource: OpenResource): void {
    handOff(resource, () => this.buffer.lastSeq + 1, (changed) => this.changed(changed, 'act'));
  }

  private changed(resource: OpenResource, change: ResourceChange): void {
    this.options.onResourceChange(resource, change);
  }

  private diverged(message: string): NonDeterminismError {
    const error = new NonDeterminismError(message);
    this.fail(error);
    return error;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Aliases

  async addAlias(alias: string): Promise<void> {
    // A task that goes on after a stop must not reach the registry (nor its store, perhaps closed by now).
    if (this.stopReason !== undefined) throw this.stopReason;
    if (this.options.aliases === undefined) {
      throw new InvalidArgumentError('alias() needs a WorkflowManager: a lone Historian has nowhere to register aliases.');
    }
    await this.options.aliases.add(alias, this.workflowId);
    this.aliases.add(alias);
  }

  /** The run ended: the aliases it held are released (their records stay, so a resume restores them). */
  async releaseAliases(): Promise<void> {
    for (const alias of [...this.aliases]) {
      this.aliases.delete(alias);
      await this.options.aliases?.remove(alias, this.workflowId);
    }
  }

  async removeAlias(alias: string): Promise<void> {
    if (!this.aliases.delete(alias)) return;
    await this.options.aliases?.remove(alias, this.workflowId);
  }
}

/** Why a replay-only run stops when its history is consumed. */
export const REPLAY_CHECKED = 'its history was replayed to the end (replay only: nothing runs live)';

export type { Json };
