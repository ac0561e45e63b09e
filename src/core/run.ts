/**
 * One run of a workflow: from `Historian.run()` until the workflow finishes, fails or is suspended. The run
 * owns the write buffer, the replay, the open resources, the versions in effect and every task; a suspended
 * run is dead for good (every later write throws), and resuming creates a new run over the same history.
 */
import { createDeferred, settle, type Deferred } from './deferred.js';
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
import { OpenResource, checkResourceName, handOff, rejectWaiters, resourceMapKey } from './open-resource.js';
import type { RecordFields } from './outcome.js';
import { Replay } from './replay.js';
import { WriteBuffer } from './write-buffer.js';
import { VersionBook, type DeclaredVersion } from './version-book.js';
import { IdleCommit } from './idle-commit.js';
import { Quiescence } from './quiescence.js';
import { WOULD_BLOCK, type ResourceState } from './resources.js';
import { deserialize, serialize, type Json } from './serializer.js';
import { Scope, type StepFrame, type WorkflowContext } from './context.js';
import { TaskState } from './task-state.js';
import { stoppableWait } from './stoppable-wait.js';
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
  /** How to reject each untilStopped() wait in progress: the run's stop rejects them with its reason. */
  private readonly haltWaits = new Set<(reason: Error) => void>();
  /** Resolved when replay has caught up or the run has stopped; created on first use (see caughtUpOrStopped). */
  private caughtUp: Deferred<void> | undefined;
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

  /**
   * Estimated heap bytes of what the run holds beyond its fixed structure: its open resources with their
   * values (queued items, states' values), and its tasks beyond the workflow function. Kept up to date as
   * resources change (see ./value-size.ts): reading it costs nothing, each time the run goes idle.
   * Values the workflow's own code keeps in its variables are not seen.
   */
  get heldBytes(): number {
    return this.resourceBytes + TASK_BYTES * Math.max(0, this.quiescence.liveTasks - 1);
  }

  /** The open resources' part of heldBytes, kept up to date by changed() (every change of a resource goes through it). */
  private resourceBytes = 0;

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
    if (this.replayIsDone || this.stopReason !== undefined) return Promise.resolve();
    return (this.caughtUp ??= createDeferred<void>()).promise;
  }

  /**
   * Await `promise`, unless the run stops first (then reject with the stop reason). Every await on user code
   * goes through this, so that stopping never waits for that code.
   */
  untilStopped<T>(promise: Promise<T>): Promise<T> {
    if (this.stopReason !== undefined) {
      // Stopped already: as a race with the stop, a promise settled already still wins.
      const halted = Promise.reject(this.stopReason);
      halted.catch(() => undefined);
      return Promise.race([promise, halted]);
    }
    // Not Promise.race with a promise of the stop (see ./stoppable-wait.ts).
    return stoppableWait(promise, this.haltWaits);
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

  /** The workflow waits for the outside from now until the returned function is called (see ./idle-commit.ts). */
  idleBegan(): () => void {
    return this.idle.began();
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
  begin(records: readonly HistoryRecord[], startMain: () => void): Promise<void> | undefined {
    // Suspended before it began (suspend() right after run()): replay nothing.
    if (this.stopReason !== undefined) throw this.stopReason;
    if (records.length === 0) {
      // A new workflow with nothing to record first (no configuration, no version): it starts at once,
      // without a promise (most short workflows).
      const caughtUp = this.catchUp();
      if (caughtUp === undefined) {
        this.startLive(startMain);
        return undefined;
      }
      return caughtUp.then(() => this.startLive(startMain));
    }
    this.replayHistory(records, startMain);
    return undefined;
  }

  /** After catching up on an empty history: start the workflow, unless the run stopped meanwhile. */
  private startLive(startMain: () => void): void {
    // Stopped while catching up: the workflow must not start (nobody would await it).
    if (this.stopReason !== undefined) throw this.stopReason;
    this.finishReplay();
    startMain();
  }

  /** Replay `records`, then catch up and go on live (see begin). */
  private replayHistory(records: readonly HistoryRecord[], startMain: () => void): void {
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
    this.caughtUp?.resolve();
  }

  /** Once replay has caught up: record configurations and versions that are new in this code. */
  private catchUp(): Promise<void> | undefined {
    if (this.configsApplied < this.options.configurations.length) return this.applyNewConfigurations();
    return this.recordNewVersions();
  }

  /** catchUp() when there are configurations to record and apply. */
  private async applyNewConfigurations(): Promise<void> {
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
    await this.recordNewVersions();
  }

  /** Record the versions the code declares that the history does not have, durably (undefined: nothing to wait for). */
  private recordNewVersions(): Promise<void> | undefined {
    for (const declared of this.versions.allDeclared()) this.recordVersion(declared, '');
    return this.flush();
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
    this.caughtUp?.resolve();
    for (const reject of this.haltWaits) reject(reason);
    this.haltWaits.clear();
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

  /** Hand the resource to its waiting actions (see ./open-resource.ts). */
  handOff(resource: OpenResource): void {
    handOff(resource, () => this.buffer.lastSeq + 1, (changed) => this.changed(changed, 'act'));
  }

  /** Tell the resource streams (see RunOptions.onResourceChange). */
  changed(resource: OpenResource, change: ResourceChange): void {
    this.countBytes(resource, change);
    this.options.onResourceChange(resource, change);
  }

  /** Bring heldBytes up to date with `resource`'s change: a difference, never a walk over the resources. */
  private countBytes(resource: OpenResource, change: ResourceChange): void {
    const held = change === 'close' ? 0 : resource.state.heldBytes;
    const own = change === 'open' ? OPEN_RESOURCE_BYTES : change === 'close' ? -OPEN_RESOURCE_BYTES : 0;
    this.resourceBytes += own + held - resource.countedBytes;
    resource.countedBytes = held;
  }

  /** Fail the run with NonDeterminismError (returned, for the caller to throw). */
  diverged(message: string): NonDeterminismError {
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

/** An open resource's own objects (OpenResource, its state, its key, its map entry; see bench/residency.ts). */
const OPEN_RESOURCE_BYTES = 400;
/**
 * A task started by the workflow and not ended yet: its state, scope, context, handle, the async function's
 * frame and the promises it awaits (measured by bench/residency.ts: about 7.5 KiB each, waiting on a queue).
 */
const TASK_BYTES = 7680;

/** Why a replay-only run stops when its history is consumed. */
export const REPLAY_CHECKED = 'its history was replayed to the end (replay only: nothing runs live)';

export type { Json };
