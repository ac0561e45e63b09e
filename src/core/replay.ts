/**
 * Replay: re-running a workflow against its history so that it reaches the state it had, then continues live.
 *
 * The history is consumed strictly in order. Calls made by the workflow *claim* their record by op id and
 * wait until every record before it has been consumed; records nobody calls for (outside events, versions,
 * configurations, events made inside steps that have since completed) are *applied* by the replay driver at
 * their position. Between two records the driver lets the workflow settle (every task runs until it waits
 * again), so each task observes exactly the sequence of resource states it observed when the history was
 * written, whatever the interleaving of its tasks.
 *
 * A call that has no record goes live: it waits until the whole history is consumed, then runs and records.
 * When nothing claims the next record and no restarted step body is still running, replay has diverged from
 * the code: NonDeterminismError names the record expected and the calls that came instead.
 */
import { createDeferred, settle, type Deferred } from './deferred.js';
import { NonDeterminismError, CorruptHistoryError } from './errors.js';
import { CANCELS_RECORDED_SINCE, CLAIMED_TYPES, describeRecord, type HistoryRecord, type RecordType } from './records.js';

/** How long replay waits for a record to be claimed before calling the code non-deterministic. */
export const DEFAULT_STALL_TIMEOUT_MS = 2000;

export class Replay {
  private readonly index = new Map<string, number>();
  /** Iterations completed by each loop (from its checkpoint record). */
  private readonly loopProgress = new Map<string, number>();
  private readonly claims = new Map<number, Deferred<HistoryRecord>>();
  private readonly liveWaiters: Array<{ deferred: Deferred<void>; what: string; onRelease: (() => void) | undefined }> = [];
  /** Position of the next record to consume. */
  private position = 0;
  /** Restarted step bodies running live while replay continues; they may still claim records. */
  private liveBodies = 0;
  private wake: Deferred<void> | undefined;
  private stopped: Error | undefined;
  private released = false;

  constructor(
    readonly records: readonly HistoryRecord[],
    private readonly stallTimeoutMs: number,
  ) {
    let previous = -Infinity;
    records.forEach((record, position) => {
      if (record.seq <= previous) throw new CorruptHistoryError(`record seq ${record.seq} is out of order`);
      previous = record.seq;
      if (CLAIMED_TYPES.has(record.type)) this.index.set(key(record.type, record.id), position);
      if (record.type === 'checkpoint') this.loopProgress.set(record.id, record.iteration);
      if (record.v < CANCELS_RECORDED_SINCE) this.lastUnrecordedCancels = position;
    });
  }

  /** Position of the last record written before task cancellations were recorded (format < 3), or -1. */
  private lastUnrecordedCancels = -1;

  /**
   * True while records written before task cancellations were recorded are still to consume: a cancel call
   * that finds no record of its own happened then, and replays at the call, as it did (see task-cancel.ts).
   */
  get cancelsUnrecordedHere(): boolean {
    return this.position <= this.lastUnrecordedCancels;
  }

  /** Op id prefixes whose records replay skips (steps whose bodies a replay-only run does not run again). */
  private skipped: string[] | undefined;

  /**
   * Replay only: step `id` had started and not ended, and its body is not run again; the records made inside
   * it are passed over.
   */
  skipInside(id: string): void {
    (this.skipped ??= []).push(`${id}/`);
    this.wake?.resolve();
  }

  private isSkipped(record: HistoryRecord): boolean {
    return this.skipped !== undefined && this.skipped.some((prefix) => record.id.startsWith(prefix));
  }

  /** True once every record has been consumed. */
  get finished(): boolean {
    return this.position >= this.records.length;
  }

  /** Position of the record of `type` written by op `id`, or -1 when the history has none (still to consume). */
  find(type: RecordType, id: string): number {
    const position = this.index.get(key(type, id));
    if (position === undefined) return -1;
    if (position < this.position || this.claims.has(position)) {
      throw new NonDeterminismError(`The workflow made the call ${id} twice; the history has it once`);
    }
    return position;
  }

  /** Claim the record at `position`; resolves with it when every earlier record has been consumed. */
  claim(position: number): Deferred<HistoryRecord> {
    const deferred = createDeferred<HistoryRecord>();
    this.claims.set(position, deferred);
    this.wake?.resolve();
    return deferred;
  }

  /**
   * A call with no record: resolves when the whole history has been consumed. `onRelease` runs synchronously
   * at that moment, in the order the calls came, so that what they start (a queue get taking its place in
   * line) keeps that order whatever the number of awaits between each caller and its action.
   */
  waitLive(what: string, onRelease?: () => void): Deferred<void> {
    const deferred = createDeferred<void>();
    if (this.released) {
      onRelease?.();
      deferred.resolve();
    } else {
      this.liveWaiters.push({ deferred, what, onRelease });
    }
    return deferred;
  }

  /** The first record still to consume that the workflow itself would have to claim, if any. */
  nextClaimable(): HistoryRecord | undefined {
    for (let position = this.position; position < this.records.length; position++) {
      const record = this.records[position] as HistoryRecord;
      if (!this.isApplied(record) && !this.isSkipped(record)) return record;
    }
    return undefined;
  }

  /** The record `offset` places after the next one to consume, if any (a call looking at what it wrote live). */
  peek(offset: number): HistoryRecord | undefined {
    return this.records[this.position + offset];
  }

  /** Bracket a restarted step body that runs live during replay: it may claim records later. */
  bodyStarted(): void {
    this.liveBodies++;
  }

  bodyEnded(): void {
    this.liveBodies--;
    this.wake?.resolve();
  }

  /**
   * Does replay apply `record` itself, nobody claiming it? Outside events, versions and configurations always;
   * an event or a close made inside a step or loop iteration that has completed, since its code never runs
   * again.
   */
  isApplied(record: HistoryRecord): boolean {
    if (!CLAIMED_TYPES.has(record.type)) return true;
    if (record.type === 'internal') return this.insideCompletedStep(record.id);
    // insideCompletedStep looks at the scopes enclosing an op id: ask about a call made in scope `by`.
    if (record.type === 'resource_close' && record.by !== undefined) return this.insideCompletedStep(`${record.by}/close`);
    if (record.type === 'task_cancel') return this.insideCompletedStep(record.id);
    return false;
  }

  /**
   * Is `id` inside a step or loop iteration that completed (a step end, or a loop checkpoint past that
   * iteration, is in the history)? Nobody will claim its records: replay applies them.
   */
  insideCompletedStep(id: string): boolean {
    for (let slash = id.lastIndexOf('/'); slash > 0; slash = id.lastIndexOf('/', slash - 1)) {
      const scope = id.slice(0, slash);
      if (this.index.has(key('step_end', scope))) return true;
      // Loop iterations are scopes named `loop/#n` (no user name contains '#').
      const last = scope.lastIndexOf('/');
      if (scope.charAt(last + 1) === '#') {
        const done = this.loopProgress.get(scope.slice(0, last));
        if (done !== undefined && Number(scope.slice(last + 2)) <= done) return true;
      }
    }
    return false;
  }

  /**
   * Consume the history in order. `apply` handles unclaimed records (outside events, versions, configurations,
   * events inside completed steps); it may throw to fail the replay.
   */
  async drive(apply: (record: HistoryRecord) => Promise<void> | void): Promise<void> {
    while (this.position < this.records.length) {
      if (this.stopped !== undefined) return;
      const record = this.records[this.position] as HistoryRecord;
      if (this.isSkipped(record)) {
        this.position++;
        continue;
      }
      if (this.isApplied(record)) {
        // Applying wakes no task (during replay tasks wait on claims, not on resources), so consecutive
        // applied records need no turn of the event loop between them.
        await apply(record);
        this.position++;
        continue;
      }
      const claim = await this.awaitClaim(this.position, record);
      if (claim === undefined) return;
      this.claims.delete(this.position);
      this.position++;
      claim.resolve(record);
      // Let the claimant (and every task it wakes) run until it waits again before the next record.
      await settle();
    }
  }

  /** Replay has caught up: release every call that waits to run live, in the order they came. */
  finish(): void {
    this.releaseLive();
  }

  /** Stop replay: every claim and live wait is rejected with `reason`. */
  stop(reason: Error): void {
    this.stopped = reason;
    for (const claim of this.claims.values()) claim.reject(reason);
    this.claims.clear();
    for (const waiter of this.liveWaiters) waiter.deferred.reject(reason);
    this.liveWaiters.length = 0;
    this.wake?.resolve();
  }

  private async awaitClaim(position: number, record: HistoryRecord): Promise<Deferred<HistoryRecord> | undefined> {
    let deadline: number | undefined;
    for (;;) {
      if (this.stopped !== undefined) return undefined;
      const claim = this.claims.get(position);
      if (claim !== undefined) return claim;
      if (this.liveBodies === 0) {
        deadline ??= Date.now() + this.stallTimeoutMs;
        if (Date.now() >= deadline) throw this.divergence(record);
      }
      this.wake = createDeferred<void>();
      const timer = this.liveBodies === 0 ? setTimeout(() => this.wake?.resolve(), 20) : undefined;
      await this.wake.promise;
      if (timer !== undefined) clearTimeout(timer);
      this.wake = undefined;
      await settle();
    }
  }

  private divergence(record: HistoryRecord): NonDeterminismError {
    const came = this.liveWaiters.map((waiter) => waiter.what);
    return new NonDeterminismError(
      `Replay expected the ${describeRecord(record)} (record ${record.seq}, task ${record.task || 'outside'}) ` +
        `but the workflow ${came.length === 0 ? 'made no such call' : `called ${came.slice(0, 5).join(', ')} instead`}`,
    );
  }

  private releaseLive(): void {
    this.released = true;
    for (const waiter of this.liveWaiters) {
      waiter.onRelease?.();
      waiter.deferred.resolve();
    }
    this.liveWaiters.length = 0;
  }
}

function key(type: RecordType, id: string): string {
  return `${type} ${id}`;
}
