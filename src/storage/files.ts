/**
 * Local-file storage: a directory holding one append-only log per workflow history and one small JSON file per
 * workflow entry and per alias. No dependencies, readable with `cat` and `jq`, durable across a crash of the
 * process or the machine. For one process on one machine (a lock file keeps a second process out); use
 * SQLite (src/storage/sqlite.ts) when many workflows commit at once, since every file commit pays its own
 * fsync while SQLite shares one among all commits of an event-loop turn.
 *
 * Layout of the directory:
 * ```
 * quest-store.json         format marker ({"kind":"quest-files","format":2})
 * owner.<n>.json           the process that has the store open (see ./owner-file.ts)
 * closed-cleanly           present only while no process has the store open and its last one closed it cleanly
 * histories/<name>.log     a header, then one checksummed frame per commit (docs/storage-format.md)
 * workflows/<name>.json    one WorkflowEntry
 * aliases/<name>.json      {"alias":…,"workflowId":…}
 * deleting/<name>.json     {"workflowId":…} while deleteWorkflow runs (finished at the next open after a crash)
 * ```
 * `<name>` is a readable prefix of the id plus a hash of it (see {@link fileNameFor}), so any id — `'a/b'`,
 * `'..'`, `'ü'`, a 10 kB string — maps to one safe file name, and ids differing only in case do not collide
 * on case-insensitive file systems.
 *
 * Damage is detected, never replayed (docs/storage-format.md): a frame that does not match its checksum, a
 * log without its header, a commit missing or cut, the log of a running workflow missing or emptied all make
 * `load()` reject with CorruptHistoryError. Only the last commit of a log, interrupted by a crash, is cut off
 * silently — and only after a crash: `closed-cleanly` tells the next open that no write was interrupted
 * (the markers and the recovery at open: ./files/directory.ts).
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../core/errors.js';
import { checkFormat, markClosedCleanly, markCurrentFormat, readJsonFiles, removeTempFiles, repairLogs, takeCleanMarker } from './files/directory.js';
import { KeyedQueues, guard, removeFile, syncDirectory, writeFileAtomically } from './files/fs.js';
import { FileHistory, type LogOwner } from './files/history.js';
import { LogSlots } from './files/log-slots.js';
import type { FileStoreOptions, FileStoreStats } from './files/options.js';
import { InProcessOwnership, newStoreOwner } from './owner.js';
import { OwnerFile } from './owner-file.js';
import type { Store, StoreOwner, StoreOwnership, WorkflowEntry, WorkflowState } from './store.js';

export { FileHistory } from './files/history.js';
export type { FileStoreOptions, FileStoreStats } from './files/options.js';

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
 * StorageError; a damaged history log rejects `load()` with CorruptHistoryError (see the module comment).
 *
 * @example
 * const store = await FileStore.open('./data/quest');
 * const history = store.history('order-1');
 * await history.commit({ append: [record], remove: [] });
 * await store.close();
 */
export class FileStore implements Store, StoreOwnership {
  /** Counters for tests and monitoring. */
  readonly stats: FileStoreStats = { commits: 0, compactions: 0, compactionFailures: 0, tornTails: 0, migratedLogs: 0 };
  private readonly histories = new Map<string, FileHistory>();
  private readonly workflows = new Map<string, WorkflowEntry>();
  private readonly aliases = new Map<string, string>();
  private readonly writes = new KeyedQueues();
  /** The bound on open log files (maxOpenFiles). */
  private readonly logSlots: LogSlots<FileHistory>;
  private isClosed = false;
  private readonly owner: LogOwner;
  private ownerFile: OwnerFile | undefined;
  private readonly ownership: InProcessOwnership;

  private constructor(
    /** The store's directory. */
    readonly directory: string,
    private readonly options: Required<FileStoreOptions>,
  ) {
    this.logSlots = new LogSlots(options.maxOpenFiles);
    this.owner = {
      options,
      stats: this.stats,
      checkOpen: () => this.checkOpen(),
      expectsHistory: (workflowId) => this.workflows.get(workflowId)?.state === 'running',
      opening: (history) => this.logSlots.acquire(history),
      used: (history) => this.logSlots.touched(history),
      closed: (history) => this.logSlots.released(history),
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
      // A workflow starting gets its log (a header) first: from then on a missing log is damage, not "no commit yet".
      if (entry.state === 'running' && this.workflows.get(entry.id)?.state !== 'running') await this.historyFor(entry.id).prepare();
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

  /**
   * Wait for the writes in progress, close every file, note that the store was closed cleanly and release the
   * lock. Later calls fail; closing twice is fine.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await guard(`close the file store in ${this.directory}`, async () => {
      await this.writes.idle();
      await Promise.all([...this.histories.values()].map((history) => history.release()));
      // Every write is durable and whole, unless a failed write of some history may have left a partial frame.
      if (![...this.histories.values()].some((history) => history.mayHaveTornTail)) await markClosedCleanly(this.directory);
      await this.ownerFile?.release();
    });
  }

  private async initialize(): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const legacy = await checkFormat(this.directory);
    this.ownerFile = await OwnerFile.acquire(this.directory, newStoreOwner(), `file store in ${this.directory}`);
    for (const sub of ['histories', 'workflows', 'aliases', 'deleting']) {
      await mkdir(this.path(sub), { recursive: true });
      await removeTempFiles(this.path(sub));
    }
    const closedCleanly = await takeCleanMarker(this.directory);
    await syncDirectory(this.directory);
    await this.loadAliases();
    await this.loadWorkflows();
    await this.finishDeletions();
    if (!closedCleanly || legacy) await repairLogs(this.path('histories'), legacy, this.stats);
    if (legacy) await this.finishMigration();
  }

  /**
   * Format 1 wrote no log until the first commit: give every running workflow without one its (empty) log now,
   * so that a log missing from here on is damage. Then mark the store as format 2.
   */
  private async finishMigration(): Promise<void> {
    for (const entry of this.workflows.values()) {
      if (entry.state === 'running') await this.historyFor(entry.id).prepare();
    }
    await markCurrentFormat(this.directory);
  }

  private async loadAliases(): Promise<void> {
    for (const [path, value] of await readJsonFiles(this.path('aliases'))) {
      const file = value as Partial<AliasFile>;
      if (typeof file.alias !== 'string' || typeof file.workflowId !== 'string') throw new StorageError(`${path} is not an alias file.`);
      this.aliases.set(file.alias, file.workflowId);
    }
  }

  private async loadWorkflows(): Promise<void> {
    const entries = (await readJsonFiles(this.path('workflows'))).map(([path, value]) => {
      const entry = value as Partial<WorkflowEntry>;
      if (typeof entry.id !== 'string' || typeof entry.startedAt !== 'number') throw new StorageError(`${path} is not a workflow entry.`);
      return entry as WorkflowEntry;
    });
    // File order is arbitrary; start order is the best stand-in for the order entries were written.
    entries.sort((a, b) => a.startedAt - b.startedAt);
    for (const entry of entries) this.workflows.set(entry.id, entry);
  }

  private async finishDeletions(): Promise<void> {
    for (const [path, value] of await readJsonFiles(this.path('deleting'))) {
      const { workflowId } = value as { workflowId?: unknown };
      if (typeof workflowId !== 'string') throw new StorageError(`${path} is not a deletion note.`);
      await this.purgeWorkflow(workflowId);
      await removeFile(this.path('deleting'), path);
    }
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
}
