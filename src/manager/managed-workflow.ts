/**
 * One unfinished workflow of a manager: its entry, its Historian, and what became of its last run. The
 * manager keeps one of these for every workflow whose entry is 'running', whether it runs here right now
 * or not (type not registered, stopped on an engine error, being suspended).
 */
import { clock, type ClockTimer } from '../core/clock.js';
import { createDeferred, type Deferred } from '../core/deferred.js';
import { UnknownWorkflowTypeError, WorkflowCancelledError, WorkflowSuspendedError, isSuspension } from '../core/errors.js';
import { Historian } from '../core/historian.js';
import type { WorkflowFunction, WorkflowOutcome } from '../core/historian-types.js';
import { deserialize } from '../core/serializer.js';
import { hasEntryWrites, type Store, type WorkflowEntry } from '../storage/store.js';
import type { ManagerAliases } from './alias-registry.js';
import type { LaunchWindow } from './launch-window.js';
import type { Residency } from './residency.js';
import type { AnyWorkflow, ManagedStatus } from './types.js';
import type { ChildWorkflowHost } from '../core/child.js';
import { WatchedHistory } from './watched-history.js';
import { workflowTimeoutError } from './workflow-deadlines.js';
import { finishedEntry, notLiveError, outcomeOf } from './entry-outcomes.js';

/**
 * Why the manager stops a run: to suspend it ('close': resumed by the next manager) or to end it for good
 * ('cancel', or 'delete': cancelled and forgotten).
 *
 * @example
 * await managed.stop('close', 5000);
 */
export type StopReason = 'close' | 'cancel' | 'delete' | 'timeout';

/**
 * What a managed workflow needs from its manager.
 *
 * @example
 * const deps: ManagedDeps = { store, aliases, stallTimeoutMs: undefined, onRunEnded: (w) => forget(w) };
 */
export interface ManagedDeps {
  readonly store: Store;
  readonly aliases: ManagerAliases;
  readonly stallTimeoutMs: number | undefined;
  /** Where the workflows start their children (startChild). */
  readonly children?: ChildWorkflowHost;
  /** Called when a run ends (finished, suspended or halted), after the workflow's state is updated. */
  readonly onRunEnded: (workflow: ManagedWorkflow) => void;
  /** Bounds how many runs start at once (see ./launch-window.ts). */
  readonly launches: LaunchWindow;
  /** Evicts idle runs beyond the manager's budget (see ./residency.ts). */
  readonly residency: Residency;
  /**
   * Shared store (WorkflowLeases): rejects with LeaseLostError unless this process still holds workflow `id`'s
   * lease; checked when a run loads its history, so that a workflow whose lease moved (an evicted one woken
   * after its process was paused past the lease) runs nothing here. See WorkflowClaims.confirmLease.
   */
  readonly confirmLease?: (id: string) => Promise<void>;
}

/**
 * A workflow of the manager, running or not.
 *
 * @example
 * const managed = new ManagedWorkflow(entry, game, deps);
 * managed.launch();
 * await managed.settled();
 */
export class ManagedWorkflow {
  /** The finished entry, once the outcome is durable (the Historian's onFinish hook wrote it). */
  finished: WorkflowEntry | undefined;
  /** The history was cleared with the finished entry (store.finishWorkflow). */
  historyCleared = false;
  /** Why the last run stopped without finishing, when the manager did not ask it to. */
  halted: unknown;
  /** Set when the manager stops the workflow. */
  stopping: StopReason | undefined;
  /**
   * The workflow's Historian while it can run here: undefined when its type is not registered, and while it
   * is evicted (an evicted workflow keeps only its entry: the Historian and what hangs on it, a few kilobytes,
   * are made anew when it wakes).
   */
  get historian(): Historian<unknown[], unknown> | undefined {
    return this.currentHistorian;
  }
  private currentHistorian: Historian<unknown[], unknown> | undefined;
  private running: Promise<void> | undefined;
  /** Evicted: idle, its run dropped from memory; resumed by replay when needed (see ./residency.ts). */
  evicted = false;
  /** The eviction's suspension is in progress. */
  private evicting = false;
  /** The resources an evicted workflow had open: while evicted it opens no other (see mayApply). */
  private openWhenEvicted: readonly string[] | undefined;
  /** Resumes an evicted workflow at its earliest sleep's deadline. */
  private wakeTimer: ClockTimer | undefined;
  /** Resolved when an evicted workflow runs again or is stopped (settled() waits on it). */
  private woken: Deferred<void> | undefined;
  /** Gives back the run's place in the launch window (set while it holds one). */
  private leaveLaunchWindow: (() => void) | undefined;

  /**
   * `started`: the manager has just created the entry (start()) holding this place in the launch window, which
   * the first run takes over; the history is known empty, so that run need not read it (a read per workflow,
   * a good share of the cost of a short workflow).
   */
  constructor(
    readonly entry: WorkflowEntry,
    private readonly workflow: AnyWorkflow | undefined,
    private readonly deps: ManagedDeps,
    started?: () => void,
  ) {
    this.leaveLaunchWindow = started;
    this.currentHistorian = this.newHistorian(started !== undefined);
  }

  /** `knownEmpty`: the entry was just created, so the first load has nothing to read. */
  private newHistorian(knownEmpty: boolean): Historian<unknown[], unknown> | undefined {
    if (this.workflow === undefined) return undefined;
    const deps = this.deps;
    return new Historian(this.entry.id, this.workflow as WorkflowFunction<unknown[], unknown>, new WatchedHistory(this, deps, knownEmpty), {
      stallTimeoutMs: deps.stallTimeoutMs,
      aliases: deps.aliases,
      children: deps.children,
      onFinish: (outcome) => this.persistOutcome(outcome),
      // Only a run in memory counts (an outside call may end after its run did).
      onIdle: () => this.running !== undefined && !this.evicting && deps.residency.wentIdle(this),
    });
  }

  get id(): string {
    return this.entry.id;
  }

  /** Residency: the estimated heap bytes its run holds (see Historian.heldBytes); 0 without a run. */
  get heldBytes(): number {
    return this.historian?.heldBytes ?? 0;
  }

  /** True from launch() until the run has ended. */
  get active(): boolean {
    return this.running !== undefined;
  }

  /**
   * The manager serves outside calls to it: its run is in memory, or it was evicted and resumes on demand. An
   * evicted workflow keeps the process alive as a running one does.
   */
  get served(): boolean {
    return this.active || this.evicted;
  }

  /** Where the workflow stands, as list() reports it. */
  get status(): ManagedStatus {
    if (this.finished !== undefined) return this.finished.state === 'failed' ? 'failed' : 'completed';
    if (this.stopping === 'cancel' || this.stopping === 'delete') return 'cancelled';
    if (this.stopping === 'timeout') return 'failed';
    // An evicted workflow runs as far as callers can tell: it resumes by replay when something needs it.
    return this.served ? 'running' : 'suspended';
  }

  /**
   * Run (or resume by replay) the workflow. Does nothing when it runs already; a type that is not
   * registered leaves it halted with UnknownWorkflowTypeError.
   */
  launch(knownTypes: readonly string[] = []): void {
    if (this.running !== undefined || this.finished !== undefined) return;
    if (this.workflow === undefined) {
      this.halted = new UnknownWorkflowTypeError(this.entry.type, knownTypes);
      return;
    }
    const historian = (this.currentHistorian ??= this.newHistorian(false) as Historian<unknown[], unknown>);
    this.halted = undefined;
    this.stopping = undefined;
    let args: unknown[];
    try {
      args = this.entry.args.map((arg) => deserialize(arg));
    } catch (error) {
      // Arguments stored by an older version that this code cannot read (an unregistered type).
      this.halted = error;
      return;
    }
    // Synchronously: outside calls made right after launch() must find the run starting.
    this.running = historian.run(...args).then(
      () => this.runEnded(undefined),
      (error: unknown) => this.runEnded(error),
    );
    this.deps.residency.started(this);
    // Whoever launched it (a wake-up, startWith's ifExists: 'resume'), an evicted workflow is back.
    if (this.evicted) this.leaveEviction();
  }

  /**
   * Residency: suspend the run now if it is idle (see Historian.evictable); it is resumed by replay when an
   * outside call or its earliest sleep's deadline needs it (getResult() waits). False when it is not idle.
   */
  evict(): boolean {
    const historian = this.historian;
    if (historian === undefined || this.running === undefined || this.stopping !== undefined || this.evicting || !historian.evictable) return false;
    this.evicting = true;
    const wakeAt = historian.earliestWake;
    this.openWhenEvicted = historian.openResourceNames;
    // Nothing to wait for: the run is idle (no step runs), and what it buffered is drained by the suspension.
    void historian.suspend({ why: EVICTED }).catch(() => undefined);
    void this.running.then(() => {
      if (this.evicted && wakeAt !== undefined) {
        // The engine's clock (virtual in tests), which sets timers of any length (in slices past setTimeout's limit).
        this.wakeTimer = clock().setTimer(() => this.wake(), Math.max(0, wakeAt - clock().now()));
      }
    });
    return true;
  }

  /**
   * Make sure outside calls find the run: an evicted workflow is resumed (by replay), one being evicted is
   * resumed once its suspension is over. Returns undefined (no await) when the run is in memory already.
   */
  ensureResident(): Promise<void> | undefined {
    if (this.evicting) return this.settledRun().then(() => this.wake());
    this.wake();
    return undefined;
  }

  /**
   * False when an outside action on `resource` cannot apply before the workflow runs again: it is evicted,
   * and that resource was not open when it was (an evicted workflow opens nothing). Inbox delivery then leaves
   * the event waiting rather than waking the workflow for nothing at every poll.
   */
  mayApply(resource: string): boolean {
    return !this.evicted || this.openWhenEvicted === undefined || this.openWhenEvicted.includes(resource);
  }

  /** Resume an evicted workflow by replay (its sleep's deadline, an outside call). */
  private wake(): void {
    if (this.evicted) this.launch();
  }

  /** No longer evicted (running again, or stopped): its wake-up timer goes, getResult() waiters look again. */
  private leaveEviction(): void {
    this.evicted = false;
    this.openWhenEvicted = undefined;
    this.wakeTimer?.clear();
    this.woken?.resolve();
    this.woken = undefined;
  }

  private async settledRun(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /**
   * Stop the run: suspend it ('close': it resumes on the next open) or stop it for good ('cancel', 'delete':
   * the caller then records that). Never waits for user code, except that steps still running get up to
   * `graceMs` to return once their AbortSignal is aborted. Resolves when the run has ended; if the workflow
   * finished first, `finished` is set and nothing was stopped.
   */
  async stop(reason: StopReason, graceMs: number): Promise<void> {
    this.stopping ??= reason;
    if (this.evicted) {
      // Its history is durable: nothing to stop, the next manager resumes it as any other. Its evicted run
      // ends here for the manager (which let it keep the process alive).
      this.leaveEviction();
      this.deps.onRunEnded(this);
    }
    if (this.running === undefined || this.historian === undefined) {
      this.historian?.endStreams();
      return;
    }
    await this.historian.suspend({ graceMs, why: reason === 'close' ? CLOSING : STOPPING[reason] });
    await this.settled();
    // This manager will not run it again: a stream opened meanwhile must not wait for a next run.
    this.historian.endStreams();
  }

  /** Resolves when no run is active and the workflow is not evicted (an evicted one has not finished yet). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.running !== undefined) await this.running;
      else if (this.evicted) await (this.woken ??= createDeferred<void>()).promise;
      else return;
    }
  }

  /** The outcome for getResult(), once settled: the value, or why there is none. */
  outcome(): unknown {
    if (this.finished !== undefined) return outcomeOf(this.finished);
    throw this.notRunning();
  }

  /**
   * Why outside calls cannot reach the workflow now that its run has ended (or while it is being stopped):
   * finished, cancelled, deleted, suspended by a closing manager, its type not registered here, or the
   * engine error its run stopped on.
   */
  notRunning(): Error {
    if (this.finished !== undefined) return notLiveError(this.finished);
    if (this.stopping === 'timeout' && this.entry.timeout !== undefined) return workflowTimeoutError({ ...this.entry, timeout: this.entry.timeout });
    if (this.stopping === 'cancel' || this.stopping === 'delete') {
      return new WorkflowCancelledError(this.id, this.stopping === 'delete' ? 'deleted' : 'cancelled');
    }
    if (this.halted !== undefined) return this.halted instanceof Error ? this.halted : new Error(String(this.halted));
    return new WorkflowSuspendedError(this.id, this.stopping === 'close' ? CLOSING : undefined);
  }

  /** WatchedHistory: the run has its place in the launch window already (the one start() took). */
  get holdsLaunchPlace(): boolean {
    return this.leaveLaunchWindow !== undefined;
  }

  /** WatchedHistory: before loading the history, wait for a place in the manager's launch window. */
  async enterLaunchWindow(): Promise<void> {
    // The first run of a workflow start() created has the place start() took (given back already, if the
    // store took more than a turn to write the entry: the run then goes ahead as it would have).
    if (this.leaveLaunchWindow !== undefined) return;
    this.leaveLaunchWindow = await this.deps.launches.enter();
  }

  /** WatchedHistory: the history was loaded; false means the run must not start (it is being stopped). */
  historyLoaded(records: readonly unknown[]): boolean {
    if (this.stopping !== undefined) return false;
    this.deps.aliases.expectReplays(this.id, records);
    return true;
  }

  private runEnded(error: unknown): void {
    this.running = undefined;
    if (this.evicting) {
      this.evicting = false;
      // Suspended for eviction, not stopped by the manager nor failed: idle until something needs it.
      this.evicted = this.finished === undefined && this.stopping === undefined && isSuspension(error);
      // What the run held goes with it: the next run replays the history with a new Historian.
      if (this.evicted) this.currentHistorian = undefined;
    }
    if (!this.evicted) this.deps.residency.ended(this);
    this.leaveLaunchWindow?.();
    this.leaveLaunchWindow = undefined;
    this.deps.aliases.runEnded(this.id);
    if (this.finished === undefined && !this.evicted && (this.stopping === undefined || !isSuspension(error))) this.halted = error;
    this.deps.onRunEnded(this);
  }

  /** The Historian's onFinish hook: make the outcome durable before the history is cleared. */
  private persistOutcome(outcome: WorkflowOutcome): Promise<void> {
    const entry = finishedEntry(this.entry, outcome);
    const store = this.deps.store;
    // One promise per ending rather than an async function's two: every workflow ends here.
    // finishWorkflow writes the entry and clears the history in one write: WatchedHistory.clear then has nothing to do.
    const clears = !entry.deleteOnFinish && hasEntryWrites(store);
    const written = entry.deleteOnFinish ? store.deleteWorkflow(entry.id) : clears ? store.finishWorkflow(entry) : store.putWorkflow(entry);
    return written.then(() => {
      if (clears) this.historyCleared = true;
      this.finished = entry;
    });
  }
}

/** Why a workflow stopped for good by its manager is not running. */
const STOPPING = { cancel: 'it is being cancelled', delete: 'it is being deleted', timeout: 'its time limit (timeoutMs) ran out' } as const;

/** Why an evicted workflow's run was suspended (callers never see it: outside calls resume the workflow). */
const EVICTED = 'it was evicted from memory while idle (it resumes by replay when needed)';

/** Why a workflow suspended by its manager's close() is not running. */
const CLOSING = 'its workflow manager is closing (the next manager over the same store resumes it)';
