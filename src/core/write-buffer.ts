/**
 * The write buffer between a run and its history. Records are numbered and buffered; a durable write commits
 * everything buffered so far as one atomic change (order is kept, so a durable record implies every record
 * before it). While a commit is in flight, later writes gather into the next one (group commit within a
 * workflow). A record appended and removed before it was ever written is simply dropped.
 */
import { createDeferred, type Deferred } from './deferred.js';
import type { History, HistoryChange } from './history.js';
import { FORMAT_VERSION, type HistoryRecord } from './records.js';
import type { RecordFields } from './outcome.js';

export class WriteBuffer {
  private seq: number;
  private pending: HistoryRecord[] = [];
  private pendingRemove: number[] = [];
  private inflight: Promise<void> | null = null;
  private nextBatch: Deferred<void> | null = null;

  /** `onFailure` turns a storage error into the error every waiting writer gets (and fails the run). */
  constructor(private readonly history: History, lastSeq: number, private readonly onFailure: (error: unknown) => Error) {
    this.seq = lastSeq;
  }

  /** The seq of the record appended last. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Number and buffer a record; returns its seq. */
  append(task: string, partial: RecordFields): number {
    // Fill the caller's fresh literal in place, field by field (no spread, no Object.assign and its temporary
    // object: a few times faster, and steps are the hot path).
    const record = partial as RecordFields & { v?: number; seq?: number; t?: number; task?: string };
    record.v = FORMAT_VERSION;
    const seq = (record.seq = ++this.seq);
    record.t = Date.now();
    record.task = task;
    this.pending.push(record as HistoryRecord);
    return seq;
  }

  /** Remove records with the next commit. */
  remove(seqs: readonly number[]): void {
    for (const seq of seqs) this.pendingRemove.push(seq);
  }

  /** Commit everything buffered; resolves when durable (undefined when the history applied it synchronously). */
  flush(): Promise<void> | undefined {
    if (this.inflight !== null) {
      this.nextBatch ??= createDeferred<void>();
      return this.nextBatch.promise;
    }
    return this.commitPending();
  }

  /**
   * Write what is buffered, ignoring failures (after a suspension nobody is left to tell). Resolves only once
   * no commit is in flight: a batch queued behind the one in flight starts when that one ends, and the store
   * may be closed as soon as this resolves.
   */
  async drain(): Promise<void> {
    try {
      while (this.inflight !== null) await this.inflight;
      await this.commitPending();
    } catch {
      // Already reported to the workflow when it happened.
    }
  }

  private commitPending(): Promise<void> | undefined {
    if (this.pending.length === 0 && this.pendingRemove.length === 0) return undefined;
    const change = this.takePending();
    let result: Promise<void> | void;
    try {
      result = this.history.commit(change);
    } catch (error) {
      throw this.onFailure(error);
    }
    if (result === undefined) return undefined;
    this.inflight = result.then(
      () => this.startNextBatch(),
      (error: unknown) => {
        this.inflight = null;
        const failure = this.onFailure(error);
        this.nextBatch?.reject(failure);
        this.nextBatch = null;
        throw failure;
      },
    );
    return this.inflight;
  }

  private startNextBatch(): void {
    this.inflight = null;
    const next = this.nextBatch;
    this.nextBatch = null;
    if (next === null) return;
    try {
      const again = this.commitPending();
      if (again === undefined) next.resolve();
      else again.then(next.resolve, next.reject);
    } catch (error) {
      next.reject(error);
    }
  }

  private takePending(): HistoryChange {
    const append = this.pending;
    const remove = this.pendingRemove;
    this.pending = [];
    this.pendingRemove = [];
    const first = append[0];
    if (first === undefined || remove.length === 0) return { append, remove };
    // Fast path: a step that ran within this batch removes just its own start record, the one before its end.
    if (remove.length === 1 && append.length === 2 && first.seq === remove[0]) return { append: [append[1] as HistoryRecord], remove: [] };
    const dropped = new Set<number>();
    const stored: number[] = [];
    for (const seq of remove) {
      if (seq >= first.seq) dropped.add(seq);
      else stored.push(seq);
    }
    if (dropped.size === 0) return { append, remove };
    return { append: append.filter((record) => !dropped.has(record.seq)), remove: stored };
  }
}
