/**
 * SQLite storage (better-sqlite3, synchronous: a transaction runs on the event-loop thread): the embedded default.
 * One database file in WAL mode holds every history, workflow entry and alias. Every write issued in the same
 * event-loop turn goes into ONE transaction (./sqlite-writes.ts), acknowledged once the WAL is synced after it
 * (./sqlite-wal-sync.ts), and the reads of entries and histories of a turn share one read transaction
 * (./sqlite-reads.ts).
 */
import type Database from 'better-sqlite3';
import type { HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import { StorageError } from '../core/errors.js';
import { attempt, storageError } from './storage-error.js';
import { RecordHistory, type RecordStore } from './record-history.js';
import { eventBody, parseEvent, readOutcome, settle } from './sqlite-inbox.js';
import { openStoreDatabase } from './sqlite-open.js';
import { HeldOwnership, hasOwnerTable, readOwner } from './sqlite-owner.js';
import { BackgroundCheckpoints } from './sqlite-checkpoints.js';
import type { WalSync } from './sqlite-wal-sync.js';
import { GroupCommit } from './sqlite-writes.js';
import { TurnSnapshot } from './sqlite-reads.js';
import { SqlitePages } from './sqlite-pages.js';
import { ListReads } from './sqlite-list-reads.js';
import { SqliteHistoryScan } from './sqlite-history-scan.js';
import type { HistoryScan, HistoryScanBatch, HistoryScanQuery } from './history-scan.js';
import { entryRow, readEntries, readEntry, readRecords, toRows, writeEntryRow, writeRecords, type EntryRow, type EntryWrite, type Statements } from './sqlite-statements.js';
import { checkPageQuery, type WorkflowCount, type WorkflowCountFilter, type WorkflowEntryPage, type WorkflowPageQuery, type WorkflowPages } from './workflow-pages.js';
import { checkTimeBuckets, type TimeBuckets, type TimeCounts, type WorkflowTimeline } from './workflow-timeline.js';
import type {
  EventInbox,
  EventOutcome,
  EventVerdict,
  InboxEvent,
  PostedEvent,
  Store,
  StoreOwner,
  StoreOwnership,
  WorkflowEntry,
  WorkflowEntryWrites,
  WorkflowState,
} from './store.js';

export { SCHEMA_VERSION } from './sqlite-migrations.js';

import type { SqliteStoreOptions, SqliteStoreStats } from './sqlite-options.js';
export type { SqliteStoreOptions, SqliteStoreStats, SqliteSynchronous } from './sqlite-options.js';

/**
 * The history of one workflow in a {@link SqliteStore}: its rows of the `records` table. Obtain it with
 * `store.history(id)`. `commit()` resolves after the group transaction holding it is committed, and rejects
 * with StorageError (writing nothing of the change) when it fails — for instance because it appends a seq
 * that is already in the history. `clear()` is one DELETE.
 *
 * @example
 * const history = store.history('order-1');
 * await history.commit({ append: [record], remove: [] });
 */
export class SqliteHistory extends RecordHistory {}

/**
 * A {@link Store} in one SQLite database file (WAL mode; a write resolves once it would survive a power loss,
 * unless `synchronous: 'normal'`). Several processes may share the file; writes wait up to `busyTimeoutMs` for
 * each other.
 *
 * Every write (history commit, clear, entry, alias, deletion) is queued and written with all the others of the
 * same event-loop turn in one transaction, each inside its own savepoint: a write that fails (say, a duplicate
 * seq) is rolled back and rejected alone; when the transaction itself fails (disk full, lock timeout), every
 * write in it is rejected with StorageError and none is kept. Reads see every write issued before them: they
 * first write whatever is queued, except getWorkflow, which sees the entry writes still queued as they are.
 * getWorkflow and the loads of histories share one read transaction per event-loop turn: what another process
 * writes meanwhile is read from the next turn. After `close()`, every call fails with StorageError.
 *
 * It has an inbox of outside events ({@link EventInbox}, table `inbox`): `postEvent` is group-committed like
 * every write and durable when it resolves, so an event posted by `quest send` from another process survives
 * until a manager settles it; the outcome of a settled event (table `inbox_outcomes`) is kept for a day.
 *
 * @example
 * const store = new SqliteStore('./quest.sqlite');            // or: await openSqliteStore('./quest.sqlite')
 * await store.history('order-1').commit({ append: [record], remove: [] });
 * console.log(store.stats.transactions);
 * await store.close();
 */
export class SqliteStore implements Store, EventInbox, StoreOwnership, RecordStore, WorkflowEntryWrites, WorkflowPages, WorkflowTimeline, HistoryScan {
  /** Counters for tests and monitoring. */
  readonly stats: SqliteStoreStats = { transactions: 0, walSyncs: 0, failedTransactions: 0, writes: 0, readTransactions: 0 };
  private readonly db: Database.Database;
  private readonly statements: Statements;
  private readonly pages: SqlitePages;
  private readonly historyScan: SqliteHistoryScan;
  /** Where the list reads run: this connection, or a worker's once the database is large (./sqlite-list-reads.ts). */
  private readonly listReads: ListReads;
  /** The queue of writes, committed together (see ./sqlite-writes.ts). */
  private readonly writes: GroupCommit;
  /** The read transaction the reads of entries and histories share within a turn (see ./sqlite-reads.ts). */
  private readonly snapshot: TurnSnapshot;
  /** WAL checkpoints off the event loop, once the store is busy (see ./sqlite-checkpoints.ts); none in memory or read-only. */
  private readonly checkpoints: BackgroundCheckpoints | undefined;
  /** Syncs the WAL after commits before they are acknowledged (`synchronous: 'full'`; see ./sqlite-wal-sync.ts). */
  private readonly walSync: WalSync | undefined;
  private closed = false;
  private readonly readOnly: boolean;
  private readonly ownership: HeldOwnership;

  /**
   * Open (creating if needed, unless `create: false`) the database at `path` and bring its schema up to date,
   * or open it read-only (`readOnly: true`). Throws StorageError when the file cannot be opened, cannot use
   * WAL, or was written by a newer Quest; NotAQuestStoreError when `create: false` or `readOnly` finds no
   * Quest database there.
   */
  constructor(
    /** The database file (`':memory:'` for a throwaway database, which is not durable). */
    readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    this.readOnly = options.readOnly === true;
    ({ db: this.db, statements: this.statements, walSync: this.walSync } = openStoreDatabase(path, options, this.stats));
    const walSync = this.walSync;
    this.ownership = new HeldOwnership(this.db, path, walSync === undefined ? undefined : () => walSync.durable());
    const checkpoints = this.readOnly || this.db.memory ? undefined : new BackgroundCheckpoints(path, options.synchronous ?? 'full');
    this.checkpoints = checkpoints;
    this.snapshot = new TurnSnapshot(this.db, () => this.stats.readTransactions++);
    this.writes = new GroupCommit(this.db, this.stats, options.maxBatch ?? 1000, {
      beforeWrite: () => this.snapshot.end(),
      ...(checkpoints === undefined ? {} : { onCommitted: () => checkpoints.committed() }),
      ...(walSync === undefined ? {} : { afterCommit: (settle, writes) => walSync.afterCommit(settle, writes), refusal: () => walSync.refusal() }),
    });
    // A database no other connection can open (`:memory:`), or open read-only here, reads its list on this connection.
    this.listReads = new ListReads(this.db, this.readOnly || this.db.memory ? undefined : path, options.listReads ?? 'auto');
    this.pages = new SqlitePages(this.listReads);
    this.historyScan = new SqliteHistoryScan(this.listReads, path);
  }

  /**
   * Open the Quest database at `path` for inspection: nothing is written or created, even in a read-only
   * directory or on a read-only mount; writes (and ownership) fail with StorageError. NotAQuestStoreError when
   * `path` is missing, empty, not SQLite, or another application's database.
   *
   * @example
   * const store = await SqliteStore.openReadOnly('./quest.sqlite');
   * console.log(await store.listWorkflows('running'));
   */
  static openReadOnly(path: string): Promise<SqliteStore> {
    return SqliteStore.open(path, { readOnly: true });
  }

  /** Same as the constructor, as a promise (rejecting instead of throwing), like the other stores' `open`. */
  static open(path: string, options?: SqliteStoreOptions): Promise<SqliteStore> {
    try {
      return Promise.resolve(new SqliteStore(path, options));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new StorageError(String(error)));
    }
  }

  history(workflowId: string): SqliteHistory {
    this.checkOpen();
    return new SqliteHistory(this, workflowId);
  }

  putWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.writeEntry(entry, 'save');
  }

  /** See {@link WorkflowEntryWrites.insertWorkflow}: one INSERT, no read first. */
  insertWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.writeEntry(entry, 'create');
  }

  /** See {@link WorkflowEntryWrites.finishWorkflow}: the entry and the clear of the history in one write. */
  finishWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.writeEntry(entry, 'finish');
  }

  /** Queue a write of `entry` (serialized now) that getWorkflow sees while it is queued (an insert: see QueuedEntry). */
  private writeEntry(entry: WorkflowEntry, kind: EntryWrite): Promise<void> {
    const what = `${kind} workflow ${JSON.stringify(entry.id)}`;
    let row: EntryRow;
    try {
      row = entryRow(entry);
    } catch (error) {
      return Promise.reject(storageError(what, error));
    }
    return this.enqueue(what, () => writeEntryRow(this.statements, kind, row), row.id, kind === 'create' ? null : row.body);
  }

  /** Sees the entry writes still queued (see ./sqlite-pending.ts), without committing them first. */
  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    if (this.closed) return Promise.reject(this.closedError());
    const queued = this.writes.latestEntry(workflowId);
    // An insert is known once committed: commit the queue, then read.
    if (queued?.body === null) return this.read(`read workflow ${JSON.stringify(workflowId)}`, () => readEntry(this.statements, workflowId));
    // A read per workflow: no closure, and the message only when it fails.
    try {
      if (queued !== undefined) return Promise.resolve(queued.body === undefined ? undefined : (JSON.parse(queued.body) as WorkflowEntry));
      this.snapshot.enter();
      return Promise.resolve(readEntry(this.statements, workflowId));
    } catch (error) {
      return Promise.reject(storageError(`read workflow ${JSON.stringify(workflowId)}`, error));
    }
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.read('list workflows', () => readEntries(this.statements, state));
  }

  /** See {@link WorkflowPages.pageWorkflows}: keyset pages on (started_at, rowid), read through the indexes. */
  pageWorkflows(query: WorkflowPageQuery): Promise<WorkflowEntryPage> {
    let cursor;
    try {
      cursor = checkPageQuery(query);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.readList('read a page of workflows', () => this.pages.page(query, cursor));
  }

  /** See {@link WorkflowPages.countWorkflows}. */
  countWorkflows(filter: WorkflowCountFilter = {}): Promise<WorkflowCount[]> {
    return this.readList('count workflows', () => this.pages.counts(filter.search));
  }

  /** See {@link HistoryScan.scanRunningHistories}: a batch of running workflows and their records in one query. */
  scanRunningHistories(query: HistoryScanQuery): Promise<HistoryScanBatch> {
    return this.readList('read the histories of the running workflows', () => this.historyScan.read(query));
  }

  /** See {@link WorkflowTimeline.earliestStart}. */
  earliestStart(): Promise<number | undefined> {
    return this.readList('read the earliest start', () => this.pages.earliestStart());
  }

  /** See {@link WorkflowTimeline.countByTime}: a count per bucket over the indexes of start and finish times. */
  countByTime(query: TimeBuckets): Promise<TimeCounts> {
    try {
      checkTimeBuckets(query);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.readList('count workflows over time', () => this.pages.countByTime(query));
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    // One write, so one savepoint: the entry, the history and the aliases go together or not at all.
    const apply = (): void => {
      this.statements.deleteWorkflow.run(workflowId);
      this.statements.clearRecords.run(workflowId);
      this.statements.deleteAliasesOf.run(workflowId);
    };
    return this.enqueue(`delete workflow ${JSON.stringify(workflowId)}`, apply, workflowId, undefined);
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    return this.enqueue(`save alias ${JSON.stringify(alias)}`, () => {
      this.statements.putAlias.run(alias, workflowId);
    });
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    return this.enqueue(`delete alias ${JSON.stringify(alias)}`, () => {
      this.statements.deleteAlias.run(alias, workflowId);
    });
  }

  getAlias(alias: string): Promise<string | undefined> {
    return this.read(`read alias ${JSON.stringify(alias)}`, () => this.statements.getAlias.get(alias)?.workflow_id);
  }

  postEvent(event: InboxEvent): Promise<number> {
    let id = 0;
    const what = `post an event for workflow ${JSON.stringify(event.workflowId)}`;
    return this.serialized(what, () => eventBody(event), (json) => {
      id = Number(this.statements.postEvent.run(event.workflowId, Date.now(), json).lastInsertRowid);
    }).then(() => id);
  }

  takeEvents(limit: number, afterId = 0): Promise<PostedEvent[]> {
    return this.read('read the inbox', () =>
      this.statements.selectEvents.all(afterId, Math.max(0, Math.floor(limit))).map((row) => parseEvent(row)),
    );
  }

  settleEvent(id: number, verdict: EventVerdict): Promise<void> {
    // One write, so one savepoint: the event leaves the inbox exactly when its outcome is recorded.
    return this.enqueue(`settle event ${id} of the inbox`, () => settle(this.statements, id, verdict));
  }

  eventOutcome(id: number): Promise<EventOutcome | undefined> {
    return this.read(`read the outcome of event ${id}`, () => readOutcome(this.statements, id));
  }

  acquireOwnership(owner: StoreOwner): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.readOnly) return Promise.reject(this.readOnlyError('take ownership'));
    // Queued writes go first: they were issued before, by whoever used the store until now.
    this.flush();
    return this.ownership.acquire(owner);
  }

  releaseOwnership(): Promise<void> {
    if (this.closed || !this.ownership.held) return Promise.resolve();
    // After every queued write: the next owner must not start before our last write is in.
    this.flush();
    return this.ownership.release();
  }

  currentOwner(): Promise<StoreOwner | undefined> {
    return this.read('read the owner', () => (this.readOnly && !hasOwnerTable(this.db) ? undefined : readOwner(this.db)));
  }

  /**
   * Write what is queued, release ownership if this store holds it, then close the database. Later calls fail
   * with StorageError; closing twice is fine.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush();
    this.closed = true;
    const released = this.ownership.release();
    // Then the syncs under way complete (no user code is waited for), the checkpointer's connection closes, and
    // the store's, the last, folds the WAL into the file.
    const closed = released
      .catch(() => undefined)
      .then(() => this.walSync?.close())
      .then(() => this.checkpoints?.stop())
      .then(() => this.listReads.stop())
      .then(() => attempt(`close the SQLite database ${this.path}`, () => this.db.close()));
    return closed.then(() => released);
  }

  /**
   * @internal See {@link SqliteHistory.load}. Checks every record against its checksum, and the number of
   * records of a running workflow against the count its commits kept: damage is a CorruptHistoryError.
   */
  loadRecords(workflowId: string): Promise<readonly HistoryRecord[]> {
    if (this.closed) return Promise.reject(this.closedError());
    // The writes queued before it first (which end the turn's read transaction only if there are some).
    this.writes.flush();
    // A load per workflow run, as getWorkflow: no closure, and the message only when it fails.
    try {
      this.snapshot.enter();
      return Promise.resolve(readRecords(this.statements, workflowId, this.path));
    } catch (error) {
      return Promise.reject(storageError(`read the history of workflow ${JSON.stringify(workflowId)}`, error));
    }
  }

  /** @internal See {@link SqliteHistory.commit}. */
  commitRecords(workflowId: string, change: HistoryChange): Promise<void> {
    if (change.append.length === 0 && change.remove.length === 0) return this.read('commit', () => undefined);
    const what = `write the history of workflow ${JSON.stringify(workflowId)}`;
    const remove = [...change.remove];
    return this.serialized(what, () => toRows(change), (rows) => writeRecords(this.statements, workflowId, rows, remove));
  }

  /** @internal See {@link SqliteHistory.clear}. */
  clearRecords(workflowId: string): Promise<void> {
    return this.enqueue(`clear the history of workflow ${JSON.stringify(workflowId)}`, () => {
      this.statements.clearRecords.run(workflowId);
      this.statements.resetCount.run(workflowId);
    });
  }

  /** Serialize now (what is stored is the value as it was at the call), write with the next group. */
  private serialized<T>(what: string, serialize: () => T, apply: (data: T) => void): Promise<void> {
    let data: T;
    try {
      data = serialize();
    } catch (error) {
      return Promise.reject(storageError(what, error));
    }
    return this.enqueue(what, () => apply(data));
  }

  /**
   * Queue a write for the group transaction at the end of this turn (or now, when the queue is full). A write
   * of an entry names it (`entryId`, with its `entryBody`), so that getWorkflow sees it meanwhile.
   */
  private enqueue(what: string, apply: () => void, entryId?: string, entryBody?: string | null): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.readOnly) return Promise.reject(this.readOnlyError(what));
    const refusal = this.ownership.refusal(what);
    if (refusal !== undefined) return Promise.reject(refusal);
    return this.writes.push(what, apply, entryId, entryBody);
  }

  /** Commit the queued writes now (unless closed), after ending this turn's read transaction (so that it reads anew). */
  private flush(): void {
    if (this.closed) return;
    this.snapshot.end();
    this.writes.flush();
  }

  /** A read of the list as a whole (./sqlite-list-reads.ts), after writing what is queued, as {@link read}. */
  private readList<T>(what: string, query: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    this.flush();
    return query().catch((error: unknown) => {
      throw storageError(what, error);
    });
  }

  /** Run a read after writing what is queued, so that it sees every write issued before it. */
  private read<T>(what: string, query: () => T): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    this.flush();
    return attempt(what, query);
  }

  private checkOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private readOnlyError(what: string): StorageError {
    return new StorageError(`Could not ${what}: the SQLite store ${this.path} is open read-only.`);
  }

  private closedError(): StorageError {
    return new StorageError(`The SQLite store ${this.path} is closed.`);
  }
}

/**
 * Open a {@link SqliteStore}; the promise rejects with StorageError when the database cannot be opened.
 *
 * @example
 * const store = await openSqliteStore('./quest.sqlite', { synchronous: 'normal' });
 */
export function openSqliteStore(path: string, options?: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(path, options);
}
