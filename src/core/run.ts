/**
 * One run of a workflow: from `Historian.run()` until the workflow finishes, fails or is suspended. The run
 * owns the write buffer, the replay, the open resources, the versions in effect and every task; a suspended
 * run is dead for good (every later write throws), and resuming creates a new run over the same history.
 *
 * What the run does with that state lives by responsibility: starting and catching up in ./run-start.ts, the
 * records replay applies by itself in ./unclaimed-records.ts, configurations in ./configurations.ts, versions in
 * ./versioning.ts, opening and closing resources in ./run-resources.ts, aliases in ./alias.ts.
 */
import type { AliasRegistry } from './alias.js';
import type { ChildWorkflowHost } from './child.js';
import type { Configuration } from './configurations.js';
import { Scope, type StepFrame, type WorkflowContext } from './context.js';
import { createDeferred, type Deferred } from './deferred.js';
import { NonDeterminismError, ResourceNotFoundError, StorageError, type QuestError, isQuestError } from './errors.js';
import { Forgetting } from './forgetting.js';
import type { History } from './history.js';
import { IdleCommit } from './idle-commit.js';
import { handOff, rejectWaiters, resourceMapKey, type OpenResource } from './open-resource.js';
import type { RecordFields } from './outcome.js';
import { Quiescence } from './quiescence.js';
import type { HistoryRecord, RecordType } from './records.js';
import type { Replay } from './replay.js';
import { stoppableWait } from './stoppable-wait.js';
import { TaskState } from './task-state.js';
import { VersionBook } from './version-book.js';
import { WriteBuffer } from './write-buffer.js';

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
  /** Why the run stopped (suspension, failure), once it has (built on first read: see stopFinished). */
  get stopReason(): Error | undefined {
    const stopped = this.stopped;
    return typeof stopped === 'function' ? (this.stopped = stopped()) : stopped;
  }
  private stopped: Error | (() => Error) | undefined;
  readonly resources = new Map<string, OpenResource>();
  /** Versions in effect at the current point of the history, per declaring function, and those the code declares. */
  readonly versions = new VersionBook();
  readonly root = new TaskState('main', null);
  readonly rootScope = new Scope('main', null);
  /** The aliases this run holds (see ./alias.ts); allocated on first use, as most runs hold none. */
  get aliases(): Set<string> {
    return (this.heldAliases ??= new Set());
  }
  private heldAliases: Set<string> | undefined;
  /** The run holds an alias (asked without allocating the set). */
  get holdsAliases(): boolean {
    return (this.heldAliases?.size ?? 0) > 0;
  }
  /** Which records leave the history, and when (pruning, superseded changes). */
  readonly forgetting = new Forgetting();

  /** What the run was started with (see RunOptions). */
  readonly options: RunOptions;
  private readonly buffer: WriteBuffer;
  /** Commits what is buffered when the workflow waits for the outside. */
  private readonly idle: IdleCommit;
  /** Created on first use: most runs never hand out their signal. */
  private abortController: AbortController | undefined;
  /** How many of options.configurations the run has applied: replayed from its history, then recorded (see ./configurations.ts). */
  configsApplied = 0;
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
  // Starting (see ./run-start.ts), replaying, stopping

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

  /** Replay has caught up (or there was nothing to replay): the workflow goes on live. */
  finishReplay(): void {
    this.replayIsDone = true;
    this.options.onReplayDone();
    this.caughtUp?.resolve();
  }

  /** True once the run has stopped (reading stopReason instead would build a finished run's reason). */
  get hasStopped(): boolean {
    return this.stopped !== undefined;
  }

  /** Stop the run for good: every task stops at its next Quest await with `reason`. */
  stop(reason: Error): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    this.caughtUp?.resolve();
    for (const reject of this.haltWaits) reject(reason);
    this.haltWaits.clear();
    this.abortController?.abort(reason);
    this.replay?.stop(reason);
    this.root.stop(reason);
    for (const resource of this.resources.values()) rejectWaiters(resource, reason);
  }

  /**
   * The workflow finished: stop what is left of the run. When nothing is left to tell (no wait in progress, no
   * step's signal handed out, no resource open, replay over, the main task idle: a finished workflow, mostly),
   * `reason` is built only if someone reads it later (a leftover Quest call), not once per workflow.
   */
  stopFinished(reason: () => Error): void {
    if (this.stopped !== undefined) return;
    let made: Error | undefined;
    const once = (): Error => (made ??= reason());
    if (this.haltWaits.size > 0 || this.abortController !== undefined || this.replay !== null || this.resources.size > 0 || !this.root.stopUnobserved(once)) {
      this.stop(once());
      return;
    }
    this.stopped = once;
    this.caughtUp?.resolve();
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
  // Resources (opened and closed by ./run-resources.ts)

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
}

/** An open resource's own objects (OpenResource, its state, its key, its map entry; see bench/residency.ts). */
const OPEN_RESOURCE_BYTES = 400;
/**
 * A task started by the workflow and not ended yet: its state, scope, context, handle, the async function's
 * frame and the promises it awaits (measured by bench/residency.ts: about 7.5 KiB each, waiting on a queue).
 */
const TASK_BYTES = 7680;
