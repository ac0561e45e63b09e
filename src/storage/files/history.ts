/**
 * The history of one workflow in a FileStore: an append-only log of checksummed frames (format:
 * ./log-format.ts), appended in O(1) with what the history remembers between commits, compacted when dead
 * commits outnumber live records, and checked for damage whenever it is read.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CorruptHistoryError, StorageError } from '../../core/errors.js';
import type { History, HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { SerialQueue, fileSize, guard, readIfExists, removeFile, syncDirectory, truncateFile, writeAll, writeFileAtomically } from './fs.js';
import { HEADER, commitBody, commitFrame, hasHeader, inSeqOrder, logOf, readLegacyLog, readLog, type LogReplay } from './log-format.js';
import type { FileStoreOptions, FileStoreStats } from './options.js';

/** What a history knows about its log between commits, so that appending needs no read. */
interface LogState {
  /** Seqs of the records currently in the history. */
  live: Set<number>;
  /** Commit frames in the file (the header not counted). */
  commits: number;
  /** Bytes of whole frames: the file's length. */
  size: number;
  /** Whether the file exists (with its header); the first commit of a history without one creates it. */
  created: boolean;
  /** Whether the file's directory entry is known durable (a new file needs a directory fsync once). */
  directorySynced: boolean;
}

/** The part of FileStore a history needs. */
export interface LogOwner {
  readonly options: Required<FileStoreOptions>;
  readonly stats: FileStoreStats;
  checkOpen(): void;
  /** Whether the store holds a running entry for this workflow: then its log must exist (created with the entry). */
  expectsHistory(workflowId: string): boolean;
  /** Before opening the log file: wait for one of the store's open-file slots (maxOpenFiles). */
  opening(history: FileHistory): Promise<void>;
  /** The log file was used: it is the most recently used. */
  used(history: FileHistory): void;
  /** The log file was closed (or could not be opened): its slot is free. */
  closed(history: FileHistory): void;
}

/**
 * The history of one workflow in a {@link FileStore}: an append-only log, one checksummed frame per commit
 * (docs/storage-format.md). Obtain it with `store.history(id)`.
 *
 * - `commit()` appends one frame and resolves after fdatasync (the first commit of a history without a log
 *   writes the whole new file atomically). It rejects with StorageError when the write fails, after cutting
 *   the partial frame off again; a commit that appends a seq already in the history is refused (StorageError)
 *   before anything is written.
 * - `load()` replays the log and rejects with CorruptHistoryError (naming the file and byte offset) when it
 *   is damaged: a frame that does not match its checksum, a missing header, a commit missing or cut, and the
 *   log of a running workflow missing or emptied. Only the one commit a crash interrupted is cut off silently.
 * - Once dead commits outnumber live records (see {@link FileStoreOptions}), the log is rewritten to just its
 *   live records, atomically (temp file, fsync, rename, directory fsync).
 *
 * @example
 * const history = store.history('order-1');
 * await history.commit({ append: [record], remove: [] });
 * const records = await history.load();
 */
export class FileHistory implements History {
  private readonly queue = new SerialQueue();
  private state: LogState | null = null;
  private handle: FileHandle | null = null;
  /** A write of this history failed and its partial frame may not have been cut off: tolerated once, at the next read. */
  private tornTailPossible = false;

  /** @internal Created by {@link FileStore.history}. */
  constructor(
    private readonly owner: LogOwner,
    /** The workflow this history belongs to. */
    readonly workflowId: string,
    /** The log file. */
    readonly path: string,
  ) {}

  /** @internal Whether a failed write may have left a partial frame in the log (the store then does not count as closed cleanly). */
  get mayHaveTornTail(): boolean {
    return this.tornTailPossible;
  }

  load(): Promise<readonly HistoryRecord[]> {
    return this.schedule('read the history', () => this.readAndCompact());
  }

  commit(change: HistoryChange): Promise<void> {
    if (change.append.length === 0 && change.remove.length === 0) return this.schedule('commit', () => Promise.resolve());
    let body: string;
    try {
      // Serialize now: what becomes durable is the change as it was when commit() was called.
      body = commitBody(change.append, change.remove);
    } catch (error) {
      return Promise.reject(new StorageError(`Could not serialize a commit of workflow ${JSON.stringify(this.workflowId)}: ${String(error)}`, error));
    }
    return this.schedule('write the history', () => this.append(change, body));
  }

  clear(): Promise<void> {
    return this.schedule('clear the history', async () => {
      await this.removeLog();
      // A running workflow's log must exist: cleared, it is a header with no commits.
      if (this.owner.expectsHistory(this.workflowId)) await this.create();
    });
  }

  /** @internal Give a workflow being started its log (a header only), unless it has one: see FileStore.putWorkflow. */
  prepare(): Promise<void> {
    return this.queue.run(async () => {
      if (this.state?.created === true || ((await fileSize(this.path)) ?? 0) > 0) return;
      await this.create();
    });
  }

  /** @internal Close the log file if it is open (when too many are, or at store close). */
  release(): Promise<void> {
    return this.queue.run(() => this.closeHandle());
  }

  /** @internal Remove the log, for deleteWorkflow (which has already checked that the store is open). */
  purge(): Promise<void> {
    return this.queue.run(() => this.removeLog());
  }

  private schedule<T>(what: string, job: () => Promise<T>): Promise<T> {
    try {
      this.owner.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.queue.run(() => guard(`${what} of workflow ${JSON.stringify(this.workflowId)}`, job));
  }

  /** Read and check the log (cutting off a torn tail where one may be) and rebuild the state appends rely on. */
  private async recover(): Promise<LogReplay & { state: LogState }> {
    const bytes = await readIfExists(this.path);
    if (bytes === null || bytes.length === 0) {
      if (this.owner.expectsHistory(this.workflowId)) {
        const what = bytes === null ? 'its log is missing' : 'its log is empty';
        throw new CorruptHistoryError(`${what}, yet the workflow is running (its log is created with it)`, this.damageAt(0));
      }
      // Never written (or an empty file left by the previous format): an empty history.
      const state: LogState = { live: new Set(), commits: 0, size: 0, created: false, directorySynced: false };
      this.state = state;
      return { records: new Map(), commits: 0, validBytes: 0, legacy: false, state };
    }
    const replay = readLog(bytes, this.damageAt(undefined), this.tornTailPossible);
    if (replay.validBytes < bytes.length) {
      // Cut it off now: the next frame must start on a line of its own, not glued to the remains.
      await this.closeHandle();
      await truncateFile(this.path, replay.validBytes);
      this.owner.stats.tornTails++;
    }
    this.tornTailPossible = false;
    const state = { live: new Set(replay.records.keys()), commits: replay.commits, size: replay.validBytes, created: true, directorySynced: false };
    this.state = state;
    return { ...replay, state };
  }

  private async readState(): Promise<LogState> {
    return (await this.recover()).state;
  }

  private damageAt(offset: number | undefined): { workflowId: string; file: string; offset?: number } {
    return offset === undefined ? { workflowId: this.workflowId, file: this.path } : { workflowId: this.workflowId, file: this.path, offset };
  }

  private async readAndCompact(): Promise<readonly HistoryRecord[]> {
    const replay = await this.recover();
    const records = inSeqOrder(replay.records);
    if (this.needsCompaction()) await this.compactSafely(records);
    return records;
  }

  private async append(change: HistoryChange, body: string): Promise<void> {
    const state = this.state ?? (await this.readState());
    refuseDuplicates(state.live, change, this.workflowId);
    const frame = commitFrame(state.commits + 1, body);
    try {
      await this.writeFrame(state, frame);
    } catch (error) {
      await this.undoAppend(state);
      throw error;
    }
    state.size += frame.length;
    state.commits++;
    for (const record of change.append) state.live.add(record.seq);
    for (const seq of change.remove) state.live.delete(seq);
    this.owner.stats.commits++;
    if (this.needsCompaction()) await this.compactSafely();
  }

  private async writeFrame(state: LogState, frame: Buffer): Promise<void> {
    if (!state.created) {
      // A new log: header and first commit in one atomic file, so that no log ever lacks its header.
      await this.closeHandle();
      await writeFileAtomically(this.logDirectory(), this.path, Buffer.concat([HEADER, frame]));
      Object.assign(state, { created: true, size: HEADER.length, directorySynced: true });
      return;
    }
    const handle = await this.openHandle();
    await writeAll(handle, frame);
    await handle.datasync();
    if (!state.directorySynced) {
      await syncDirectory(this.logDirectory());
      state.directorySynced = true;
    }
  }

  /** After a failed write: cut the partial frame off, and re-read the log before the next commit. */
  private async undoAppend(state: LogState): Promise<void> {
    this.state = null;
    if (!state.created) return; // The atomic write left the old file (or none) in place.
    this.tornTailPossible = true;
    try {
      await this.closeHandle();
      await truncateFile(this.path, state.size);
    } catch {
      // The next commit or load re-reads the log and cuts off whatever is left of the frame.
    }
  }

  private needsCompaction(): boolean {
    const state = this.state;
    if (state === null) return false;
    const { compactMinLines, compactRatio } = this.owner.options;
    return state.commits > compactMinLines && state.commits > compactRatio * state.live.size;
  }

  /**
   * Rewrite the log to its live records. A failure leaves the old log or the complete new one in place, and
   * the commit that triggered it is durable already, so it is counted rather than thrown.
   */
  private async compactSafely(records?: HistoryRecord[]): Promise<void> {
    try {
      const live = records ?? inSeqOrder((await this.recover()).records);
      await this.rewrite(live);
      this.owner.stats.compactions++;
    } catch {
      this.owner.stats.compactionFailures++;
      this.state = null;
      await this.closeHandle().catch(() => undefined);
    }
  }

  private async rewrite(records: HistoryRecord[]): Promise<void> {
    const log = logOf(records);
    await this.closeHandle();
    await writeFileAtomically(this.logDirectory(), this.path, log.bytes);
    const live = new Set(records.map((record) => record.seq));
    this.state = { live, commits: log.commits, size: log.bytes.length, created: true, directorySynced: true };
  }

  /** Write a log holding only its header. */
  private async create(): Promise<void> {
    await this.rewrite([]);
  }

  private async removeLog(): Promise<void> {
    await this.closeHandle();
    await removeFile(this.logDirectory(), this.path);
    await rm(`${this.path}.tmp`, { force: true });
    this.state = { live: new Set(), commits: 0, size: 0, created: false, directorySynced: false };
    this.tornTailPossible = false;
  }

  private async openHandle(): Promise<FileHandle> {
    if (this.handle === null) {
      await this.owner.opening(this);
      try {
        // 'a': every write goes to the end of the file, whatever the file position.
        this.handle = await open(this.path, 'a');
      } catch (error) {
        this.owner.closed(this);
        throw error;
      }
    }
    this.owner.used(this);
    return this.handle;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    if (handle === null) return;
    this.handle = null;
    try {
      await handle.close();
    } finally {
      this.owner.closed(this);
    }
  }

  private logDirectory(): string {
    return dirname(this.path);
  }
}

/** A commit may not append a seq that is already in the history, nor the same seq twice (as SQLite's primary key refuses it). */
function refuseDuplicates(live: ReadonlySet<number>, change: HistoryChange, workflowId: string): void {
  const seen = new Set<number>();
  for (const record of change.append) {
    if (!Number.isInteger(record.seq)) throw new StorageError(`A record of workflow ${JSON.stringify(workflowId)} has no integer seq.`);
    if (live.has(record.seq) || seen.has(record.seq)) {
      throw new StorageError(`Refused a commit to workflow ${JSON.stringify(workflowId)}: seq ${record.seq} is already in its history.`);
    }
    seen.add(record.seq);
  }
}

/**
 * After a crash (the store was not closed cleanly), bring one log back to a whole one before anything reads
 * it: cut off the commit the crash interrupted, and rewrite a log of the previous format (no header, no
 * checksums) in the current one. Damage is left as it is, for `load()` to report. Returns what it did.
 */
export async function repairLog(path: string, legacyStore: boolean): Promise<'torn' | 'migrated' | 'whole' | 'damaged'> {
  const bytes = await readIfExists(path);
  if (bytes === null || bytes.length === 0) return 'whole';
  try {
    if (legacyStore && !hasHeader(bytes)) {
      const replay = readLegacyLog(bytes, { file: path });
      await writeFileAtomically(dirname(path), path, logOf(inSeqOrder(replay.records)).bytes);
      return 'migrated';
    }
    const replay = readLog(bytes, { file: path }, true);
    if (replay.validBytes === bytes.length) return 'whole';
    await truncateFile(path, replay.validBytes);
    return 'torn';
  } catch (error) {
    if (error instanceof CorruptHistoryError) return 'damaged';
    throw error;
  }
}
