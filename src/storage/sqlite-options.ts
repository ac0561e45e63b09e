/** What a SqliteStore can be told when it opens, and the counters it keeps (re-exported by ./sqlite.ts). */
import type { ListReadPlace } from './sqlite-list-reads.js';

/** How hard SQLite works to make a commit durable. */
export type SqliteSynchronous = 'full' | 'normal';

/** Options of a {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * `'full'` (default): a write is acknowledged once it survives a crash of the process and of the machine (the
   * WAL is synced to disk after its transaction; off the event loop when the disk is slow and many workflows are
   * busy). `'normal'`: once it survives a crash of the process; a power loss may lose the last transactions
   * (never corrupt the database).
   */
  synchronous?: SqliteSynchronous;
  /** How long to wait for another connection's write lock before failing with StorageError (default 5000 ms). */
  busyTimeoutMs?: number;
  /** A queue of this many writes is flushed at once instead of at the end of the turn (default 1000). */
  maxBatch?: number;
  /**
   * `true` (default): a missing or empty file becomes a new Quest database. `false`: the file must be a Quest
   * database already (NotAQuestStoreError otherwise, and nothing is written to it).
   */
  create?: boolean;
  /**
   * Open for inspection: never write the file, nor create any (see src/storage/sqlite-open.ts for how), even in
   * a read-only directory. Writes fail with StorageError. See {@link SqliteStore.openReadOnly}.
   */
  readOnly?: boolean;
  /**
   * Where the store reads its workflow list as a whole (pages, counts, counts over time, which take 80–500 ms of
   * SQLite at a million workflows, and the batches of HistoryScan): `'auto'` (default) on a second, read-only
   * connection in a worker thread once the database is larger than 16 MiB (about 50,000 workflows), so that the
   * event loop, and every workflow of the manager, goes on meanwhile; `'worker'` there whatever its size;
   * `'inline'` on the store's own connection.
   * A store in memory (`:memory:`) or open read-only always reads on its own connection.
   */
  listReads?: ListReadPlace;
}

/** Counters of a {@link SqliteStore}, for tests and monitoring. */
export interface SqliteStoreStats {
  /** Write transactions committed. */
  transactions: number;
  /**
   * Syncs of the WAL to disk (`synchronous: 'full'`): one after a transaction commits, or one for all the
   * transactions committed while the one before was under way (./sqlite-wal-sync.ts).
   */
  walSyncs: number;
  /** Write transactions that failed as a whole (every write in them was rejected). */
  failedTransactions: number;
  /** Writes (history commits, entry and alias changes) committed. */
  writes: number;
  /** Read transactions begun for the reads of entries and histories: one per turn that has any (./sqlite-reads.ts). */
  readTransactions: number;
}
