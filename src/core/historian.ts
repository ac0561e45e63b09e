/**
 * The Historian runs one workflow over its history: run, suspend, resume by replay, and act on its resources
 * from outside.
 */
import { releaseAliases } from './alias.js';
import type { Configuration } from './configurations.js';
import { createDeferred, type Deferred } from './deferred.js';
import { AlreadyRunningError, InvalidArgumentError, WorkflowSuspendedError, isSuspension, withoutStack } from './errors.js';
import type { History } from './history.js';
import { NO_STREAMS, attachWaitingStreams, endRunStreams, ownStreamSets, placeStream, pushChange, pushInitial, resourceSighted, visibleResources } from './historian-streams.js';
import type { HistorianOptions, SuspendOptions, WorkflowFunction, WorkflowStatus } from './historian-types.js';
import type { OpenResource } from './open-resource.js';
import { upgradeRecord } from './records.js';
import { DEFAULT_STALL_TIMEOUT_MS } from './replay.js';
import { externalAction } from './resource-actions.js';
import { ResourceStream, type ResourceInfo } from './resource-stream.js';
import { Run, type ResourceChange } from './run.js';
import { runToOutcome } from './run-outcome.js';

/**
 * Runs one workflow instance over its history.
 *
 * @example
 * const historian = new Historian('order-1', orderWorkflow, new MemoryHistory());
 * const result = historian.run('order-1');      // starts (or resumes by replay)
 * await historian.act('approval', null, 'set');  // an outside event
 * await historian.suspend();                     // stops; `result` rejects with WorkflowSuspendedError
 * const again = historian.run('order-1');        // resumes where it was
 */
export class Historian<A extends unknown[] = never[], R = unknown> {
  private readonly configurations: Configuration[] = [];
  /** Streams following the current run (they end with it), and those opened while no run was live (they attach to the next): NO_STREAMS until the first. */
  private streams: Set<ResourceStream> = NO_STREAMS;
  private nextRunStreams: Set<ResourceStream> = NO_STREAMS;
  private current: Run | undefined;
  /** Set synchronously by run() until the run exists, so outside calls made right after run() wait for it. */
  private isStarting = false;
  /** From run() until it has settled. */
  private inRun = false;
  /**
   * Settled with the run once it exists (undefined if it never does), and once the run has ended: created
   * only when someone waits (see starting, runEnded), not two promises more for every run.
   */
  private startWaiters: Deferred<Run | undefined> | undefined;
  private endWaiters: Deferred<void> | undefined;
  private state: WorkflowStatus = 'idle';
  /** Outside calls (act, resources) in progress: the run is not evictable meanwhile. */
  private outsideCalls = 0;

  constructor(
    readonly workflowId: string,
    private readonly workflow: WorkflowFunction<A, R>,
    private readonly history: History,
    private readonly options: HistorianOptions = {},
  ) {
    if (typeof workflowId !== 'string' || workflowId.length === 0) throw new InvalidArgumentError('A workflow id must be a non-empty string.');
    if (typeof workflow !== 'function') throw new InvalidArgumentError('Historian needs a workflow function.');
  }

  /** Where the workflow stands. */
  get status(): WorkflowStatus {
    return this.state;
  }

  /** The workflow has finished (completed or failed): it will not run again. */
  private get finished(): boolean {
    return this.state === 'completed' || this.state === 'failed';
  }

  /**
   * Register a configuration call that runs before the workflow, recorded in its history. At a restart,
   * register the same calls again in the same order (their recorded arguments replay at their recorded
   * positions) and append new ones: a new configuration applies from the point where replay caught up.
   *
   * @example
   * historian.configure(setPrices, { apple: 3 });
   */
  configure<P extends unknown[]>(fn: (...args: P) => unknown, ...args: P): this {
    // `starting` too: run() loads the history before `current` is set, and a configuration pushed meanwhile
    // would be applied by that run without having been registered before it.
    if (this.current !== undefined || this.isStarting) throw new InvalidArgumentError('configure() must be called before run().');
    if (typeof fn !== 'function' || fn.name === '') {
      throw new InvalidArgumentError('configure() needs a named function (its name is recorded and checked on replay).');
    }
    this.configurations.push({ name: fn.name, fn: fn as (...args: never[]) => unknown, args });
    return this;
  }

  /**
   * Run the workflow: from the start on an empty history, otherwise by replaying the history and continuing
   * live. Resolves with the workflow's result (the history is then cleared) or rejects with its error;
   * rejects with WorkflowSuspendedError when suspended, NonDeterminismError when the code no longer matches
   * the history, StorageError when the history cannot be written.
   */
  async run(...args: A): Promise<R> {
    if (this.current !== undefined || this.isStarting) throw new AlreadyRunningError(this.workflowId);
    this.isStarting = true;
    this.inRun = true;
    this.state = 'running';
    attachWaitingStreams(this.streams, this.nextRunStreams);
    let run: Run | undefined;
    try {
      // Not in a function of its own: an async call and an await less per run. A failure to load ends the
      // starting as the finally below does.
      const records = (await this.history.load()).map(upgradeRecord);
      run = new Run({
        workflowId: this.workflowId,
        history: this.history,
        configurations: this.configurations,
        stallTimeoutMs: this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        aliases: this.options.aliases,
        children: this.options.children,
        onResourceChange: (resource, change) => this.resourceChanged(resource, change),
        onReplayDone: () => this.publish(),
        replayOnly: this.options.replayOnly ?? false,
        onStepNotRun: this.options.onStepNotRun,
        onIdle: this.options.onIdle,
      }, records.at(-1)?.seq ?? 0);
      this.current = run;
      this.started(run);
      const result = await runToOutcome(run, records, () => this.workflow(...args), this.options.onFinish);
      this.state = 'completed';
      return result;
    } catch (error) {
      this.state = isSuspension(error) ? 'suspended' : 'failed';
      throw error;
    } finally {
      const cleaning = run === undefined ? endRunStreams(this.streams, this.nextRunStreams, this.finished) : this.cleanUp(run);
      if (cleaning !== undefined) await cleaning;
      this.current = undefined;
      this.started(undefined);
      this.inRun = false;
      this.endWaiters?.resolve();
      this.endWaiters = undefined;
    }
  }

  /** The run being started exists now (or never will: undefined); outside calls waiting for it go on. */
  private started(run: Run | undefined): void {
    this.isStarting = false;
    this.startWaiters?.resolve(run);
    this.startWaiters = undefined;
  }

  /** While a run is starting: resolves with it once it exists (undefined if it never does). */
  private get starting(): Promise<Run | undefined> | undefined {
    return this.isStarting ? (this.startWaiters ??= createDeferred<Run | undefined>()).promise : undefined;
  }

  /** While a run is in progress: resolves once it has ended. */
  private runEnded(): Promise<void> | undefined {
    return this.inRun ? (this.endWaiters ??= createDeferred<void>()).promise : undefined;
  }

  /** The run has ended: stop what is left of it. Undefined when nothing was left to wait for (most finished runs). */
  private cleanUp(run: Run): Promise<void> | undefined {
    // A finished run was stopped already: building another error (a stack trace) per workflow costs.
    if (!run.hasStopped) run.stop(withoutStack(() => new WorkflowSuspendedError(this.workflowId)));
    // Tasks still in user code are not waited for: whatever they do next, a stopped run records nothing of it
    // (every Quest call throws the stop reason), so only what was buffered before the stop is written.
    if (this.state === 'suspended') return run.drain().then(() => this.release(run));
    return this.release(run);
  }

  /** cleanUp(): forget the run's resources, end its streams, release its aliases. */
  private release(run: Run): Promise<void> | undefined {
    for (const resource of [...run.resources.values()]) run.forgetResource(resource);
    endRunStreams(this.streams, this.nextRunStreams, this.finished);
    return run.holdsAliases ? releaseAliases(run) : undefined;
  }

  /**
   * Suspend the workflow: every task stops at its next Quest await, nothing more is recorded, and `run()`
   * rejects with WorkflowSuspendedError. Never waits for user code: a workflow or task awaiting a promise
   * Quest does not control (a plain timer, an in-process event) is left behind, and whatever it does once
   * that promise settles is not recorded (its next Quest call throws WorkflowSuspendedError).
   *
   * Steps still running are told through their AbortSignal (see `abortSignal()`) and given up to
   * `options.graceMs` (default 0) to return, for their own cleanup; their results are dropped either way
   * and they run again on resume. Resolves once the run has stopped and what it recorded before the stop is
   * durable.
   *
   * @example
   * await historian.suspend({ graceMs: 5000 }); // steps that honour their signal end at once
   */
  async suspend(options: SuspendOptions = {}): Promise<void> {
    const graceMs = options.graceMs ?? 0;
    if (typeof graceMs !== 'number' || !(graceMs >= 0)) {
      throw new InvalidArgumentError(`suspend() takes a grace period of 0 or more milliseconds, got ${String(graceMs)}.`);
    }
    // Right after run() the run does not exist yet (the history is loading): wait for it, or the
    // suspension would be lost and this would wait for the workflow to finish.
    const run = this.current ?? (await this.starting);
    run?.stop(new WorkflowSuspendedError(this.workflowId, options.why));
    await Promise.all([this.runEnded(), run?.stepsReturned(graceMs)]);
  }

  /**
   * Act on a resource from outside: `put` on a queue, `set` on a state or event, ... as `identity` (`null`:
   * anonymous, sees public resources only). Changes are recorded durably before this resolves; reads are not
   * recorded. Waits while the history is being replayed. ResourceNotFoundError when no resource of that name
   * is visible to `identity`, UnknownActionError for an action the resource does not have; neither changes
   * anything.
   *
   * @example
   * await historian.act('words', null, 'put', 'hello');
   */
  async act(name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown> {
    this.outsideCalls++;
    try {
      const run = this.current ?? (await this.starting);
      if (run === undefined) throw new WorkflowSuspendedError(this.workflowId);
      return await externalAction(run, name, identity, action, args);
    } finally {
      this.outsideCalls--;
      this.mayBeIdle();
    }
  }

  /**
   * True when the run could be suspended now and resumed by replay later with no difference but latency:
   * replay has caught up, every task waits for the outside or a sleep, no other step runs, and no outside
   * call or resource stream is in progress. Its manager evicts such workflows under a memory budget.
   */
  get evictable(): boolean {
    const run = this.current;
    return run !== undefined && !this.isStarting && this.outsideCalls === 0 && this.streams.size === 0 && this.nextRunStreams.size === 0 && run.quiet;
  }

  /** What kept the run from being evictable is over (an outside call, a stream): tell onIdle, if it waits. */
  private mayBeIdle(): void {
    if (this.current !== undefined && this.current.stopReason === undefined && this.options.onIdle !== undefined) this.options.onIdle();
  }

  /**
   * The names of the resources the run has open now (for any identity). An evicted workflow keeps them: an
   * event for another resource cannot apply until it runs again, so it need not be woken for one.
   */
  get openResourceNames(): string[] {
    const run = this.current;
    return run === undefined ? [] : [...new Set([...run.resources.values()].map((resource) => resource.key.name))];
  }

  /**
   * Estimated heap bytes of what the current run holds beyond its fixed structure (its resources' values,
   * queued items, its tasks; see Run.heldBytes); 0 when no run is live. Its manager weighs resident runs by it
   * (ManagerOptions.maxResidentBytes).
   */
  get heldBytes(): number {
    return this.current?.heldBytes ?? 0;
  }

  /** The earliest wake-up time (epoch ms) of the sleeps the run waits in, if any: where to resume it after an eviction. */
  get earliestWake(): number | undefined {
    return this.current?.quiescence.earliestWake();
  }

  /**
   * The resources visible to `identity` (public ones, and its own), as the running workflow has them. While
   * the run starts or replays its history, this waits until replay has caught up (as `act` does), so it never
   * shows a half-replayed state. When no run is live (idle, suspended, finished) or the run stops before
   * catching up: an empty list, at once; it does not wait for a next run.
   *
   * @example
   * const mine = await historian.resources('ann');
   */
  async resources(identity: string | null): Promise<ResourceInfo[]> {
    this.outsideCalls++;
    try {
      const run = this.current ?? (await this.starting);
      if (run === undefined || run.stopReason !== undefined) return [];
      if (!run.replayIsDone) await run.caughtUpOrStopped;
      return run.stopReason === undefined ? visibleResources(run, identity) : [];
    } finally {
      this.outsideCalls--;
      this.mayBeIdle();
    }
  }

  /**
   * A stream of snapshots of the resources visible to `identity`: first one of where the run stands once its
   * replay has caught up (change 'initial'), then one each time such a resource is opened, acted on or closed.
   *
   * A stream belongs to ONE run and does not span runs:
   * - opened while a run is starting or running, it follows that run; opened while none is (before `run()`,
   *   or while the workflow is suspended), it waits and follows the next run;
   * - it ends when the run it follows ends (the workflow finishes, fails or is suspended): a suspension ends
   *   it too, and a resumed run needs a new stream;
   * - opened once the workflow has finished (completed or failed), it ends at once; one waiting for a next
   *   run also ends when a run ends with the workflow finished, and when `endStreams()` is called (the
   *   historian is given up). A stream opened on a historian that is never run again nor given up waits.
   *
   * Leaving a loop early (`break`, `return()`) or calling `end()` ends just that stream.
   *
   * @example
   * const stream = historian.resourceStream('ann');   // before run(): its first snapshot comes once replayed
   * historian.run();
   * for await (const snapshot of stream) render(snapshot.resources);
   */
  resourceStream(identity: string | null): ResourceStream {
    [this.streams, this.nextRunStreams] = ownStreamSets(this.streams, this.nextRunStreams);
    const stream = new ResourceStream(identity, (closed) => {
      this.streams.delete(closed);
      this.nextRunStreams.delete(closed);
      this.mayBeIdle();
    });
    placeStream(stream, this.runIsLive(), this.current, this.finished, this.streams, this.nextRunStreams);
    return stream;
  }

  /**
   * End every resource stream of this historian, those waiting for a next run included. Call it when giving
   * the historian up (it will not run again), so that no reader waits forever. Later streams still follow a
   * next run, if there is one.
   *
   * @example
   * await historian.suspend();
   * historian.endStreams();
   */
  endStreams(): void {
    for (const stream of [...this.streams, ...this.nextRunStreams]) stream.end();
  }

  /**
   * Resolves when a resource `name` is visible to `identity` (at once if it already is); rejects with
   * WorkflowSuspendedError if the run stops first, or at once when no run is starting or running (like
   * `act`: before run(), while suspended, once finished). Useful right after run(), before the workflow has
   * reached the point where it opens the resource.
   *
   * @example
   * historian.run();
   * await historian.waitForResource('words', null);
   * await historian.act('words', null, 'put', 'hello');
   */
  async waitForResource(name: string, identity: string | null): Promise<ResourceInfo> {
    if (!this.runIsLive()) throw new WorkflowSuspendedError(this.workflowId);
    return resourceSighted(this.resourceStream(identity), name, this.workflowId);
  }

  /** A run is starting (loading its history) or running, not stopped. */
  private runIsLive(): boolean {
    return this.isStarting || (this.current !== undefined && this.current.stopReason === undefined);
  }

  /** A resource of the run changed: the streams that can see it get a snapshot (not during replay: see publish). */
  private resourceChanged(resource: OpenResource, change: ResourceChange): void {
    const run = this.current;
    if (this.streams.size > 0 && run !== undefined && run.replay === null) pushChange(this.streams, run, resource, change);
  }

  /** After replay: every stream gets the state it missed while the history was replayed. */
  private publish(): void {
    if (this.current !== undefined) pushInitial(this.streams, this.current);
  }
}

