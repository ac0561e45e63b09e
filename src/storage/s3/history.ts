/**
 * The histories of an S3Store: immutable segments under one prefix per history (layout.ts), one segment per
 * commit, so appending never rewrites the history; a base segment, written once commits outnumber the live
 * records, holds the live records and replaces every segment before it (which are then deleted).
 *
 * - A commit is ONE PUT of a new key, created with `If-None-Match: *`: of two writers of the same history,
 *   S3 lets only one create segment n (the other gets 412). (s3rver ignores the header: against it, one
 *   writer is not enforced.)
 * - Load lists the history's keys and reads the segments from the newest base on: they must be numbered
 *   without gaps, and each must match its length and checksum (segment.ts), else CorruptHistoryError.
 * - A running workflow's history always has an object (its empty base 0 is written with the entry; a clear
 *   leaves an empty base), so a running workflow without one lost its history: damage.
 * - A crash between writing a base and deleting what it replaces leaves older segments: ignored, deleted by
 *   the next compaction.
 * - A torn tail: AWS S3 stores an object whole or not at all, but servers that do not check the length
 *   (s3rver) keep what arrived of a PUT whose writer died. When the store was not closed cleanly (a writer's
 *   mark is left under `writers/`, see S3Store), a last segment cut short is ignored as that torn commit
 *   (never acknowledged), and deleted before the next segment is written in its place. Otherwise it is damage.
 */
import type { HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError, StorageError } from '../../core/errors.js';
import { KeyedQueues } from '../files/fs.js';
import { inParallel } from '../aws-options.js';
import type { Bucket } from './objects.js';
import type { Layout, SegmentName } from './layout.js';
import { decodeSegment, encodeSegment, looksCut } from './segment.js';

/** What this process knows of a history: enough to commit without reading. */
interface HistoryState {
  /** The number of the next segment. */
  next: number;
  /** The live records by seq, in seq order. */
  live: Map<number, HistoryRecord>;
  /** Commit segments since the newest base (or since the start). */
  sinceBase: number;
  /** Every key of the history this process knows of (deleted when a new base replaces them). */
  keys: string[];
  /** A torn last segment found on load, numbered `next`: deleted before a segment is written in its place. */
  torn?: string;
}

/** Segments read at once on load. */
const READ_CONCURRENCY = 16;
/** A base is written once the commits since the last one exceed the live records and this. */
const MIN_COMMITS_BEFORE_BASE = 32;

/** The history operations of one S3Store. */
export class S3Histories {
  private readonly states = new Map<string, HistoryState>();
  private readonly queues = new KeyedQueues();
  /** Bases written (compactions), for tests and benchmarks. */
  bases = 0;

  constructor(
    private readonly bucket: Bucket,
    private readonly layout: Layout,
    /** Whether the running entry of `workflowId` exists (then its history must). */
    private readonly isRunning: (workflowId: string) => Promise<boolean>,
    /** Whether a torn last segment may exist (the store was not closed cleanly): then it is ignored, not damage. */
    private readonly tornTailPossible: boolean,
    /** Called before this store writes its first segment (S3Store leaves its writer's mark). */
    private readonly beforeFirstWrite: () => Promise<void>,
  ) {}

  /** The live records of `workflowId`, checked. Reads only. */
  load(workflowId: string): Promise<HistoryRecord[]> {
    return this.queues.run(workflowId, async () => {
      const state = await this.read(workflowId, true);
      this.states.set(workflowId, state);
      return [...state.live.values()];
    });
  }

  commit(workflowId: string, change: HistoryChange): Promise<void> {
    return this.queues.run(workflowId, async () => {
      if (change.append.length === 0 && change.remove.length === 0) return;
      const state = this.states.get(workflowId) ?? (await this.read(workflowId, false));
      // Forgotten until the commit is known to be written: a failed PUT may or may not have landed.
      this.states.delete(workflowId);
      const n = state.next;
      const body = { append: [...change.append], remove: [...change.remove] };
      const key = this.layout.segment(workflowId, n, 'c');
      await this.createSegment(workflowId, key, encodeSegment({ n, kind: 'c' }, body), state);
      for (const record of change.append) state.live.set(record.seq, record);
      for (const seq of change.remove) state.live.delete(seq);
      state.next = n + 1;
      state.sinceBase++;
      state.keys.push(key);
      this.states.set(workflowId, state);
      if (state.sinceBase > Math.max(MIN_COMMITS_BEFORE_BASE, state.live.size)) await this.compact(workflowId, state);
    });
  }

  /** Write an empty base (nothing before it counts), then delete every older segment. */
  clear(workflowId: string): Promise<void> {
    return this.queues.run(workflowId, async () => {
      const state = this.states.get(workflowId) ?? (await this.read(workflowId, false));
      this.states.delete(workflowId);
      if (state.keys.length === 0) {
        this.states.set(workflowId, state);
        return;
      }
      state.live.clear();
      await this.writeBase(workflowId, state);
      this.states.set(workflowId, state);
    });
  }

  /** Delete every object of the history (deleteWorkflow). */
  remove(workflowId: string): Promise<void> {
    return this.queues.run(workflowId, async () => {
      this.states.delete(workflowId);
      await this.bucket.deleteMany(await this.bucket.list(this.layout.historyPrefix(workflowId)));
    });
  }

  /**
   * Make sure the history of a running workflow has an object: its empty base 0 (a no-op when it has
   * anything, or when S3 refuses because base 0 exists; below a newer base, base 0 is ignored).
   */
  ensureExists(workflowId: string): Promise<void> {
    return this.queues.run(workflowId, async () => {
      const known = this.states.get(workflowId);
      if (known !== undefined && known.keys.length > 0) return;
      const key = this.layout.segment(workflowId, 0, 'b');
      await this.beforeFirstWrite();
      await this.bucket.create(key, encodeSegment({ n: 0, kind: 'b' }, { append: [], remove: [] }));
      // Forget the state: the next commit reads the keys again (rare: once per new workflow without a commit yet).
      this.states.delete(workflowId);
    });
  }

  /** Resolves when every queued operation is done. */
  idle(): Promise<void> {
    return this.queues.idle();
  }

  /** Replace the segments so far with one base holding the live records. A failure leaves them valid. */
  private async compact(workflowId: string, state: HistoryState): Promise<void> {
    try {
      await this.writeBase(workflowId, state);
    } catch {
      // The commit itself is durable; the history reads as before. Read it again before the next commit.
      this.states.delete(workflowId);
    }
  }

  private async writeBase(workflowId: string, state: HistoryState): Promise<void> {
    const n = state.next;
    const key = this.layout.segment(workflowId, n, 'b');
    await this.createSegment(workflowId, key, encodeSegment({ n, kind: 'b' }, { append: [...state.live.values()], remove: [] }), state);
    this.bases++;
    const replaced = state.keys;
    state.next = n + 1;
    state.sinceBase = 0;
    state.keys = [key];
    await this.bucket.deleteMany(replaced);
  }

  private async createSegment(workflowId: string, key: string, bytes: Uint8Array, state: HistoryState): Promise<void> {
    await this.beforeFirstWrite();
    if (state.torn !== undefined) {
      await this.bucket.delete(state.torn);
      state.keys = state.keys.filter((known) => known !== state.torn);
      delete state.torn;
    }
    if (!(await this.bucket.create(key, bytes))) {
      throw new StorageError(
        `Segment ${key} of the history of workflow ${JSON.stringify(workflowId)} exists already: another process writes this history, ` +
          'or it changed since this process read it. One writer per history: stop the other one. This commit was not written.',
      );
    }
  }

  /** List and read the history; `checkEntry`: no object at all is damage when the workflow runs. */
  private async read(workflowId: string, checkEntry: boolean): Promise<HistoryState> {
    const keys = await this.bucket.list(this.layout.historyPrefix(workflowId));
    if (keys.length === 0) {
      if (checkEntry && (await this.isRunning(workflowId))) {
        throw new CorruptHistoryError('its history is missing (the objects of a running workflow were deleted)', { workflowId });
      }
      return { next: 1, live: new Map(), sinceBase: 0, keys: [] };
    }
    let names = keys.map((key) => this.layout.parseSegment(workflowId, key));
    const fetched = new Map<string, Uint8Array>();
    let torn: SegmentName | undefined;
    const last = names.at(-1)!;
    if (this.tornTailPossible) {
      const bytes = await this.fetch(last, workflowId);
      if (looksCut(bytes)) {
        torn = last;
        names = names.slice(0, -1);
      } else {
        fetched.set(last.key, bytes);
      }
    }
    const base = names.filter((name) => name.kind === 'b').at(-1);
    // From the newest base on (a commit numbered like the base too: two writers); without a base, from 1.
    const segments = base === undefined ? names : names.filter((name) => name.n >= base.n);
    checkNumbering(segments, base?.n ?? 1, workflowId);
    if (torn !== undefined) checkNumbering([...segments, torn], base?.n ?? 1, workflowId);
    const bodies = await inParallel(segments.map((name) => async () => {
      return decodeSegment(name, fetched.get(name.key) ?? (await this.fetch(name, workflowId)), workflowId);
    }), READ_CONCURRENCY);
    const live = new Map<number, HistoryRecord>();
    for (const body of bodies) {
      for (const record of body.append) live.set(record.seq, record);
      for (const seq of body.remove) live.delete(seq);
    }
    const ordered = new Map([...live.entries()].sort(([a], [b]) => a - b));
    const next = (segments.at(-1)?.n ?? 0) + 1;
    const sinceBase = segments.filter((name) => name.kind === 'c').length;
    return { next, live: ordered, sinceBase, keys, ...(torn === undefined ? {} : { torn: torn.key }) };
  }

  private async fetch(name: SegmentName, workflowId: string): Promise<Uint8Array> {
    const bytes = await this.bucket.get(name.key);
    if (bytes === undefined) throw new CorruptHistoryError(`segment ${name.n} (${name.key}) was listed but cannot be read (deleted)`, { workflowId });
    return bytes;
  }
}

/** Segments from `from` on must be numbered one after the other: a gap is a deleted commit, a repeat a second writer. */
function checkNumbering(segments: readonly SegmentName[], from: number, workflowId: string): void {
  let expected = from;
  for (const name of segments) {
    if (name.n < expected) throw new CorruptHistoryError(`segment ${name.n} exists twice (two writers wrote this history)`, { workflowId });
    if (name.n > expected) throw new CorruptHistoryError(`segment ${expected} is missing (${name.key} follows it)`, { workflowId });
    expected++;
  }
}
