/**
 * Local-file storage: a directory holding one append-only log per workflow history and one small JSON file per
 * workflow entry and per alias. No dependencies, readable with `cat` and `jq`, durable across a crash of the
 * process or the machine. For one process on one machine (a lock file keeps a second process out); use
 * SQLite (src/storage/sqlite.ts) when many workflows commit at once, since every file commit pays its own
 * fsync while SQLite shares one among all commits of an event-loop turn.
 *
 * Layout of the directory:
 * ```
 * quest-store.json         format marker ({"kind":"quest-files","format":1})
 * owner.<n>.json           the process that has the store open (see ./owner-file.ts)
 * histories/<name>.log     one line per commit: {"a":[records appended],"r":[seqs removed]}
 * workflows/<name>.json    one WorkflowEntry
 * aliases/<name>.json      {"alias":…,"workflowId":…}
 * deleting/<name>.json     {"workflowId":…} while deleteWorkflow runs (finished at the next open after a crash)
 * ```
 * `<name>` is a readable prefix of the id plus a hash of it (see {@link fileNameFor}), so any id — `'a/b'`,
 * `'..'`, `'ü'`, a 10 kB string — maps to one safe file name, and ids differing only in case do not collide
 * on case-insensitive file systems.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { History, HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import { CorruptHistoryError, StorageError, isQuestError } from '../core/errors.js';
import { InProcessOwnership, newStoreOwner } from './owner.js';
import { OwnerFile } from './owner-file.js';
import type { Store, StoreOwner, StoreOwnership, WorkflowEntry, WorkflowState } from './store.js';

/** Tuning of a {@link FileStore}; the defaults suit most applications. */
export interface FileStoreOptions {
  /** A log is compacted only once it has more lines than this (default 1000). */
  compactMinLines?: number;
  /** ...and more than `compactRatio` times as many lines as live records (default 2). */
  compactRatio?: number;
  /** Most history logs kept open at once; idle ones beyond it are closed, least recently used first (default 128). */
  maxOpenFiles?: number;
}

/** Counters of a {@link FileStore}, for tests and monitoring. */
export interface FileStoreStats {
  /** History commits made durable. */
  commits: number;
  /** Logs rewritten to their live records. */
  compactions: number;
  /** Compactions that failed (the log was left as it was, or as the complete new file; never half of each). */
  compactionFailures: number;
  /** Incomplete last lines (writes interrupted by a crash) cut off a log when it was read. */
  tornTails: number;
}

const FORMAT = { kind: 'quest-files', format: 1 } as const;
const RECORDS_PER_COMPACTED_LINE = 256;
const NEWLINE = 0x0a;

/**
 * The file name (without extension) that stores `key`: up to 48 characters of the key with everything but
 * `[A-Za-z0-9_-]` replaced by `_`, then `~` and 128 bits of a SHA-256 of the key. The prefix is for people
 * listing the directory; the hash makes the name unique, case-insensitively too. Hashing the JSON text of
 * the key keeps lone surrogates distinct (UTF-8 would turn them all into U+FFFD).
 *
 * @example
 * fileNameFor('order/42') // 'order_42~…32 hex digits…'
 */
export function fileNameFor(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  const digest = createHash('sha256').update(JSON.stringify(key), 'utf8').digest('hex').slice(0, 32);
  return `${readable}~${digest}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Small file-system helpers

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Make a rename, creation or removal in `directory` durable (its entry lives in the directory, not the file). */
async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its metadata changes itself.
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replace `path` with `text` all at once: a crash leaves the old file or the new one, never a mix. */
async function writeFileAtomically(directory: string, path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await syncDirectory(directory);
}

/** Remove `path` durably; a missing file is fine. */
async function removeFile(directory: string, path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  await syncDirectory(directory);
}

async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/** Write all of `data` (a write may be short, e.g. near a full disk). */
async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** Run `job`, turning any failure that is not already a Quest error into a StorageError about `what`. */
async function guard<T>(what: string, job: () => Promise<T>): Promise<T> {
  try {
    return await job();
  } catch (error) {
    if (isQuestError(error)) throw error;
    throw new StorageError(`Could not ${what}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

/** Runs jobs one after another (per history, per entry, per alias), so that writes to one file never interleave. */
class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every job queued so far has settled. */
  idle(): Promise<void> {
    return this.tail;
  }
}

/** A SerialQueue per key, dropped when it runs empty. */
class KeyedQueues {
  private readonly queues = new Map<string, SerialQueue>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(key) ?? new SerialQueue();
    this.queues.set(key, queue);
    const result = queue.run(job);
    const tail = queue.idle();
    void tail.then(() => {
      if (queue.idle() === tail) this.queues.delete(key);
    });
    return result;
  }

  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.idle()));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a log

/** A log read back: its live records in append order, and how much of the file is whole lines. */
interface Replay {
  records: Map<number, HistoryRecord>;
  lines: number;
  /** Bytes of complete, valid lines; anything after them is a write a crash interrupted. */
  validBytes: number;
}

/** Where each complete line starts and ends (end excludes the newline). */
function lineBounds(bytes: Buffer): Array<[number, number]> {
  const bounds: Array<[number, number]> = [];
  let start = 0;
  for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
    bounds.push([start, end]);
    start = end + 1;
  }
  return bounds;
}

/** Parse one log line; undefined when it is not a valid commit line. */
function parseLine(text: string): { a: HistoryRecord[]; r: number[] } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { a, r } = value as { a?: unknown; r?: unknown };
  if (!Array.isArray(a) || !Array.isArray(r)) return undefined;
  const recordsOk = a.every((record: unknown) => typeof record === 'object' && record !== null && Number.isInteger((record as { seq?: unknown }).seq));
  if (!recordsOk || !r.every((seq: unknown) => typeof seq === 'number')) return undefined;
  return { a: a as HistoryRecord[], r: r as number[] };
}

/**
 * Replay a log. Bytes after the last newline, or an unreadable last line with nothing after it, are a write a
 * crash interrupted (a power loss can persist a line's newline but not its beginning): never acknowledged,
 * because commits of one history are sequential and each is acknowledged only once its whole line is on disk.
 * An unreadable line followed by anything is damage: CorruptHistoryError.
 */
function replayLog(bytes: Buffer, workflowId: string): Replay {
  const records = new Map<number, HistoryRecord>();
  const bounds = lineBounds(bytes);
  let validBytes = 0;
  let lines = 0;
  for (const [index, [start, end]] of bounds.entries()) {
    const line = parseLine(bytes.toString('utf8', start, end));
    if (line === undefined) {
      if (index === bounds.length - 1 && end + 1 === bytes.length) break;
      throw new CorruptHistoryError(`line ${index + 1} of the history log of workflow ${JSON.stringify(workflowId)} is unreadable`);
    }
    applyLine(records, line, workflowId);
    validBytes = end + 1;
    lines++;
  }
  return { records, lines, validBytes };
}

/** Apply one commit: appends first, then removals (which may name a record appended by the same commit). */
function applyLine(records: Map<number, HistoryRecord>, line: { a: HistoryRecord[]; r: number[] }, workflowId: string): void {
  for (const record of line.a) {
    if (records.has(record.seq)) {
      throw new CorruptHistoryError(`the history log of workflow ${JSON.stringify(workflowId)} appends seq ${record.seq} twice`);
    }
    records.set(record.seq, record);
  }
  for (const seq of line.r) records.delete(seq);
}

/** The records in seq order (they are appended in order, so sorting is rarely needed). */
function inSeqOrder(records: Map<number, HistoryRecord>): HistoryRecord[] {
  const list = [...records.values()];
  const sorted = list.every((record, index) => index === 0 || list[index - 1]!.seq < record.seq);
  return sorted ? list : list.sort((a, b) => a.seq - b.seq);
}

// ---------------------------------------------------------------------------------------------------------------
// Histories

/** What a history knows about its log between commits, so that appending needs no read. */
interface LogState {
  /** Seqs of the records currently in the history. */
  live: Set<number>;
  /** Complete lines in the file. */
  lines: number;
  /** Bytes of complete lines: the file's length. */
  size: number;
  /** Whether the file's directory entry is known durable (a new file needs a directory fsync once). */
  directorySynced: boolean;
}

/** The part of FileStore a history needs. */
interface LogOwner {
  readonly directory: string;
  readonly options: Required<FileStoreOptions>;
  readonly stats: FileStoreStats;
  checkOpen(): void;
  opened(history: FileHistory): void;
  closed(history: FileHistory): void;
}

/**
 * The history of one workflow in a {@link FileStore}: an append-only log, one JSON line per commit. Obtain it
 * with `store.history(id)`.
 *
 * - `commit()` appends one line and resolves after fdatasync (and a directory fsync when it created the file).
 *   It rejects with StorageError when the write fails, after cutting the partial line off again; a commit that
 *   appends a seq already in the history is refused (StorageError) before anything is written.
 * - `load()` replays the log; an interrupted last line is cut off, a damaged line before the last is a
 *   CorruptHistoryError.
 * - Once dead lines outnumber live records (see {@link FileStoreOptions}), the log is rewritten to just its
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

  /** @internal Created by {@link FileStore.history}. */
  constructor(
    private readonly owner: LogOwner,
    /** The workflow this history belongs to. */
    readonly workflowId: string,
    /** The log file. */
    readonly path: string,
  ) {}

  load(): Promise<readonly HistoryRecord[]> {
    return this.schedule('read the history', () => this.readAndCompact());
  }

  commit(change: HistoryChange): Promise<void> {
    if (change.append.length === 0 && change.remove.length === 0) return this.schedule('commit', () => Promise.resolve());
    let line: Buffer;
    try {
      // Serialize now: what becomes durable is the change as it was when commit() was called.
      line = Buffer.from(`${JSON.stringify({ a: change.append, r: change.remove })}\n`, 'utf8');
    } catch (error) {
      return Promise.reject(new StorageError(`Could not serialize a commit of workflow ${JSON.stringify(this.workflowId)}: ${String(error)}`, error));
    }
    return this.schedule('write the history', () => this.append(change, line));
  }

  clear(): Promise<void> {
    return this.schedule('clear the history', () => this.removeLog());
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

  /** Read the log (cutting off an interrupted last line) and rebuild the state appends rely on. */
  private async recover(): Promise<Replay & { state: LogState }> {
    const bytes = (await readIfExists(this.path)) ?? Buffer.alloc(0);
    const replay = replayLog(bytes, this.workflowId);
    if (replay.validBytes < bytes.length) {
      // Cut it off now: the next line must start on a line of its own, not glued to the remains.
      await this.closeHandle();
      await truncate(this.path, replay.validBytes);
      this.owner.stats.tornTails++;
    }
    const state = { live: new Set(replay.records.keys()), lines: replay.lines, size: replay.validBytes, directorySynced: false };
    this.state = state;
    return { ...replay, state };
  }

  private async readAndCompact(): Promise<readonly HistoryRecord[]> {
    const replay = await this.recover();
    const records = inSeqOrder(replay.records);
    if (this.needsCompaction()) await this.compactSafely(records);
    return records;
  }

  private async append(change: HistoryChange, line: Buffer): Promise<void> {
    const state = this.state ?? (await this.recover()).state;
    refuseDuplicates(state.live, change, this.workflowId);
    try {
      await this.writeLine(state, line);
    } catch (error) {
      await this.undoAppend(state.size);
      throw error;
    }
    state.size += line.length;
    state.lines++;
    for (const record of change.append) state.live.add(record.seq);
    for (const seq of change.remove) state.live.delete(seq);
    this.owner.stats.commits++;
    if (this.needsCompaction()) await this.compactSafely();
  }

  private async writeLine(state: LogState, line: Buffer): Promise<void> {
    const handle = await this.openHandle();
    await writeAll(handle, line);
    await handle.datasync();
    if (!state.directorySynced) {
      await syncDirectory(this.logDirectory());
      state.directorySynced = true;
    }
  }

  /** After a failed write: cut the partial line off, and re-read the log before the next commit. */
  private async undoAppend(size: number): Promise<void> {
    this.state = null;
    try {
      await this.closeHandle();
      await truncate(this.path, size);
    } catch {
      // The next commit or load re-reads the log and cuts off whatever is left of the line.
    }
  }

  private needsCompaction(): boolean {
    const state = this.state;
    if (state === null) return false;
    const { compactMinLines, compactRatio } = this.owner.options;
    return state.lines > compactMinLines && state.lines > compactRatio * state.live.size;
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
    const lines: string[] = [];
    for (let i = 0; i < records.length; i += RECORDS_PER_COMPACTED_LINE) {
      lines.push(`${JSON.stringify({ a: records.slice(i, i + RECORDS_PER_COMPACTED_LINE), r: [] })}\n`);
    }
    const text = lines.join('');
    await this.closeHandle();
    await writeFileAtomically(this.logDirectory(), this.path, text);
    const live = new Set(records.map((record) => record.seq));
    this.state = { live, lines: lines.length, size: Buffer.byteLength(text, 'utf8'), directorySynced: true };
  }

  private async removeLog(): Promise<void> {
    await this.closeHandle();
    await removeFile(this.logDirectory(), this.path);
    await rm(`${this.path}.tmp`, { force: true });
    this.state = { live: new Set(), lines: 0, size: 0, directorySynced: false };
  }

  private async openHandle(): Promise<FileHandle> {
    if (this.handle === null) {
      // 'a': every write goes to the end of the file, whatever the file position.
      this.handle = await open(this.path, 'a');
    }
    this.owner.opened(this);
    return this.handle;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    if (handle === null) return;
    this.handle = null;
    this.owner.closed(this);
    await handle.close();
  }

  private logDirectory(): string {
    return join(this.owner.directory, 'histories');
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

// ---------------------------------------------------------------------------------------------------------------
// The store

interface AliasFile {
  alias: string;
  workflowId: string;
}

/**
 * A {@link Store} in a local directory (see the module comment for the layout). Open it with
 * {@link FileStore.open}; one process at a time (an owner file keeps others out with StoreOwnedError, and is
 * taken over when that process is gone), and one WorkflowManager at a time over a FileStore object
 * ({@link StoreOwnership}). Entries and aliases are cached in memory, so reads cost no I/O.
 *
 * Durability: every write resolves after its data and directory entry are fsynced. A crash in the middle of
 * `deleteWorkflow` is finished at the next open (a `deleting/` note is written first). Failures reject with
 * StorageError; a damaged history log rejects `load()` with CorruptHistoryError.
 *
 * @example
 * const store = await FileStore.open('./data/quest');
 * const history = store.history('order-1');
 * await history.commit({ append: [record], remove: [] });
 * await store.close();
 */
export class FileStore implements Store, StoreOwnership {
  /** Counters for tests and monitoring. */
  readonly stats: FileStoreStats = { commits: 0, compactions: 0, compactionFailures: 0, tornTails: 0 };
  private readonly histories = new Map<string, FileHistory>();
  private readonly workflows = new Map<string, WorkflowEntry>();
  private readonly aliases = new Map<string, string>();
  private readonly writes = new KeyedQueues();
  /** Histories with an open log file, least recently used first. */
  private readonly openLogs = new Set<FileHistory>();
  private isClosed = false;
  private readonly owner: LogOwner;
  private ownerFile: OwnerFile | undefined;
  private readonly ownership: InProcessOwnership;

  private constructor(
    /** The store's directory. */
    readonly directory: string,
    private readonly options: Required<FileStoreOptions>,
  ) {
    this.owner = {
      directory,
      options,
      stats: this.stats,
      checkOpen: () => this.checkOpen(),
      opened: (history) => this.logOpened(history),
      closed: (history) => this.openLogs.delete(history),
    };
    this.ownership = new InProcessOwnership(`file store in ${directory}`);
  }

  /**
   * Open (creating if needed) the store in `directory`: takes the lock, removes temp files left by a crash,
   * finishes interrupted deletions and reads the entries and aliases. Rejects with StorageError when the
   * directory is in use by another live process, holds a newer format, or cannot be read.
   *
   * @example
   * const store = await FileStore.open('/var/lib/my-app/quest', { maxOpenFiles: 64 });
   */
  static async open(directory: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(directory, {
      compactMinLines: options.compactMinLines ?? 1000,
      compactRatio: options.compactRatio ?? 2,
      maxOpenFiles: options.maxOpenFiles ?? 128,
    });
    try {
      await guard(`open the file store in ${directory}`, () => store.initialize());
    } catch (error) {
      // A store that failed to open holds nothing: let the next open (of this process too) have the directory.
      await store.ownerFile?.release().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /** The log file of a workflow's history (for tooling and tests; it may not exist yet). */
  historyPath(workflowId: string): string {
    return join(this.directory, 'histories', `${fileNameFor(workflowId)}.log`);
  }

  history(workflowId: string): FileHistory {
    this.checkOpen();
    return this.historyFor(workflowId);
  }

  private historyFor(workflowId: string): FileHistory {
    let history = this.histories.get(workflowId);
    if (history === undefined) {
      history = new FileHistory(this.owner, workflowId, this.historyPath(workflowId));
      this.histories.set(workflowId, history);
    }
    return history;
  }

  putWorkflow(entry: WorkflowEntry): Promise<void> {
    let text: string;
    try {
      // Serialize now: what becomes durable is the entry as it was when putWorkflow() was called.
      text = JSON.stringify(entry);
    } catch (error) {
      return Promise.reject(new StorageError(`Could not serialize workflow entry ${JSON.stringify(entry.id)}: ${String(error)}`, error));
    }
    return this.write(`save workflow ${JSON.stringify(entry.id)}`, `w:${entry.id}`, async () => {
      await writeFileAtomically(this.path('workflows'), this.path('workflows', entry.id), text);
      this.workflows.set(entry.id, JSON.parse(text) as WorkflowEntry);
    });
  }

  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.read(() => {
      const entry = this.workflows.get(workflowId);
      return entry === undefined ? undefined : structuredClone(entry);
    });
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.read(() => {
      const entries = [...this.workflows.values()].filter((entry) => state === undefined || entry.state === state);
      // Array.prototype.sort is stable: ties keep the order entries were first written.
      entries.sort((a, b) => a.startedAt - b.startedAt);
      return entries.map((entry) => structuredClone(entry));
    });
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    return this.write(`delete workflow ${JSON.stringify(workflowId)}`, `w:${workflowId}`, async () => {
      const note = this.path('deleting', workflowId);
      // The note makes the deletion all-or-nothing across a crash: the next open finishes it.
      await writeFileAtomically(this.path('deleting'), note, JSON.stringify({ workflowId }));
      await this.purgeWorkflow(workflowId);
      await removeFile(this.path('deleting'), note);
    });
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    return this.write(`save alias ${JSON.stringify(alias)}`, `a:${alias}`, async () => {
      const file: AliasFile = { alias, workflowId };
      await writeFileAtomically(this.path('aliases'), this.path('aliases', alias), JSON.stringify(file));
      this.aliases.set(alias, workflowId);
    });
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    return this.write(`delete alias ${JSON.stringify(alias)}`, `a:${alias}`, () => this.removeAlias(alias, workflowId));
  }

  getAlias(alias: string): Promise<string | undefined> {
    return this.read(() => this.aliases.get(alias));
  }

  acquireOwnership(owner: StoreOwner): Promise<void> {
    this.checkOpen();
    return this.ownership.acquire(owner);
  }

  releaseOwnership(): Promise<void> {
    return this.ownership.release();
  }

  currentOwner(): Promise<StoreOwner | undefined> {
    return this.ownership.current();
  }

  /** Wait for the writes in progress, close every file and release the lock. Later calls fail; closing twice is fine. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await guard(`close the file store in ${this.directory}`, async () => {
      await this.writes.idle();
      await Promise.all([...this.histories.values()].map((history) => history.release()));
      await this.ownerFile?.release();
    });
  }

  private async initialize(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    await this.checkFormat();
    this.ownerFile = await OwnerFile.acquire(this.directory, newStoreOwner(), `file store in ${this.directory}`);
    for (const sub of ['histories', 'workflows', 'aliases', 'deleting']) {
      await mkdir(this.path(sub), { recursive: true });
      await this.removeTempFiles(sub);
    }
    await syncDirectory(this.directory);
    await this.loadAliases();
    await this.loadWorkflows();
    await this.finishDeletions();
  }

  private async checkFormat(): Promise<void> {
    const path = join(this.directory, 'quest-store.json');
    const bytes = await readIfExists(path);
    if (bytes === null) {
      await writeFileAtomically(this.directory, path, JSON.stringify(FORMAT));
      return;
    }
    const found = parseJsonFile(bytes, path) as { kind?: unknown; format?: unknown };
    if (found.kind !== FORMAT.kind || typeof found.format !== 'number') {
      throw new StorageError(`${this.directory} is not a Quest file store (its quest-store.json says otherwise).`);
    }
    if (found.format > FORMAT.format) {
      throw new StorageError(`${this.directory} was written by a newer Quest (file store format ${found.format}); upgrade Quest.`);
    }
  }

  private async removeTempFiles(sub: string): Promise<void> {
    for (const name of await readdir(this.path(sub))) {
      if (name.endsWith('.tmp')) await rm(join(this.path(sub), name), { force: true });
    }
  }

  private async loadAliases(): Promise<void> {
    for (const [path, value] of await this.readJsonFiles('aliases')) {
      const file = value as Partial<AliasFile>;
      if (typeof file.alias !== 'string' || typeof file.workflowId !== 'string') throw new StorageError(`${path} is not an alias file.`);
      this.aliases.set(file.alias, file.workflowId);
    }
  }

  private async loadWorkflows(): Promise<void> {
    const entries = (await this.readJsonFiles('workflows')).map(([path, value]) => {
      const entry = value as Partial<WorkflowEntry>;
      if (typeof entry.id !== 'string' || typeof entry.startedAt !== 'number') throw new StorageError(`${path} is not a workflow entry.`);
      return entry as WorkflowEntry;
    });
    // File order is arbitrary; start order is the best stand-in for the order entries were written.
    entries.sort((a, b) => a.startedAt - b.startedAt);
    for (const entry of entries) this.workflows.set(entry.id, entry);
  }

  private async finishDeletions(): Promise<void> {
    for (const [path, value] of await this.readJsonFiles('deleting')) {
      const { workflowId } = value as { workflowId?: unknown };
      if (typeof workflowId !== 'string') throw new StorageError(`${path} is not a deletion note.`);
      await this.purgeWorkflow(workflowId);
      await removeFile(this.path('deleting'), path);
    }
  }

  private async readJsonFiles(sub: string): Promise<Array<[string, unknown]>> {
    const names = (await readdir(this.path(sub))).filter((name) => name.endsWith('.json'));
    const files: Array<[string, unknown]> = [];
    for (const name of names) {
      const path = join(this.path(sub), name);
      files.push([path, parseJsonFile(await readFile(path), path)]);
    }
    return files;
  }

  /** Remove a workflow's entry, then its aliases, then its history (the entry first: it is what makes it exist). */
  private async purgeWorkflow(workflowId: string): Promise<void> {
    await removeFile(this.path('workflows'), this.path('workflows', workflowId));
    this.workflows.delete(workflowId);
    const aliases = [...this.aliases].filter(([, target]) => target === workflowId).map(([alias]) => alias);
    await Promise.all(aliases.map((alias) => this.writes.run(`a:${alias}`, () => this.removeAlias(alias, workflowId))));
    await this.historyFor(workflowId).purge();
  }

  private async removeAlias(alias: string, workflowId: string): Promise<void> {
    if (this.aliases.get(alias) !== workflowId) return;
    await removeFile(this.path('aliases'), this.path('aliases', alias));
    this.aliases.delete(alias);
  }

  /** `<directory>/<sub>`, or the JSON file for `key` in it. */
  private path(sub: string, key?: string): string {
    return key === undefined ? join(this.directory, sub) : join(this.directory, sub, `${fileNameFor(key)}.json`);
  }

  private write(what: string, key: string, job: () => Promise<void>): Promise<void> {
    try {
      this.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writes.run(key, () => guard(what, job));
  }

  private read<T>(job: () => T): Promise<T> {
    try {
      this.checkOpen();
      return Promise.resolve(job());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private checkOpen(): void {
    if (this.isClosed) throw new StorageError(`The file store in ${this.directory} is closed.`);
  }

  /** Keep at most maxOpenFiles logs open: close the least recently used (once their queued work is done). */
  private logOpened(history: FileHistory): void {
    this.openLogs.delete(history);
    this.openLogs.add(history);
    for (const oldest of this.openLogs) {
      if (this.openLogs.size <= this.options.maxOpenFiles) break;
      if (oldest === history) continue;
      this.openLogs.delete(oldest);
      // Closing can only fail if the file is already gone; the next commit reopens it either way.
      oldest.release().catch(() => undefined);
    }
  }
}

function parseJsonFile(bytes: Buffer, path: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new StorageError(`${path} is damaged (not JSON). Restore it from a backup or delete it.`, error);
  }
}

