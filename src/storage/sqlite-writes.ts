/**
 * The write queue of a SqliteStore: group commit. Every write issued in the same event-loop turn goes into ONE
 * transaction (one sync of the WAL, or a share of one: ./sqlite-wal-sync.ts), flushed by `setImmediate`, or at
 * once when the queue is full; a write that fails is rejected alone, a transaction that fails rejects every write
 * in it. The entry writes in the queue are known by id, so that reading an entry need not commit the queue first
 * (./sqlite-pending.ts).
 */
import type Database from 'better-sqlite3';
import { StorageError } from '../core/errors.js';
import { PendingEntries, type QueuedEntry } from './sqlite-pending.js';
import type { SettleDurable } from './sqlite-wal-sync.js';
import type { SqliteStoreStats } from './sqlite-options.js';
import { describeFailure, storageError } from './storage-error.js';

/** One queued write: applied inside the group transaction, settled after it. */
interface Write {
  what: string;
  apply: () => void;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What the store does around the group's transactions. */
export interface GroupCommitHooks {
  /** Called before each write transaction (the store ends its read transaction: ./sqlite-reads.ts). */
  beforeWrite?: () => void;
  /** Called after each write transaction that committed. */
  onCommitted?: () => void;
  /**
   * Settle the writes of a committed transaction once they are durable (./sqlite-wal-sync.ts), or with why they
   * may not be; absent, they are settled when the transaction commits.
   */
  afterCommit?: (settle: SettleDurable, writes: number) => void;
  /** Why no transaction may be written now, if so: the queued writes are rejected with it, none is written. */
  refusal?: () => StorageError | undefined;
}

/**
 * @example
 * const writes = new GroupCommit(db, stats, 1000);
 * await writes.push('save alias "a"', () => statements.putAlias.run('a', 'w1'));
 */
export class GroupCommit {
  private queue: Write[] = [];
  private flushScheduled = false;
  /** The entry writes in the queue, for getWorkflow. */
  private readonly pendingEntries = new PendingEntries();
  private readonly writeBatch: Database.Transaction<(batch: readonly Write[], failures: Map<Write, unknown>) => void>;
  private readonly writeOne: Database.Transaction<(write: Write) => void>;
  /** The whole batch without a savepoint per write: what every batch tries first. */
  private readonly writeAllAtOnce: Database.Transaction<(batch: readonly Write[], onWriteFailure: () => void) => void>;

  constructor(
    private readonly db: Database.Database,
    private readonly stats: SqliteStoreStats,
    private readonly maxBatch: number,
    private readonly hooks: GroupCommitHooks = {},
  ) {
    this.writeOne = db.transaction((write: Write) => write.apply());
    this.writeAllAtOnce = db.transaction((batch: readonly Write[], onWriteFailure: () => void) => {
      for (const write of batch) {
        try {
          write.apply();
        } catch (error) {
          onWriteFailure();
          throw error;
        }
      }
    });
    this.writeBatch = db.transaction((batch: readonly Write[], failures: Map<Write, unknown>) => this.applyAll(batch, failures));
  }

  /**
   * Queue a write for the group transaction at the end of this turn (or now, when the queue is full); resolves
   * once it is committed. A write of an entry names it (`entryId`, with `entryBody`: see QueuedEntry), so that
   * latestEntry() sees it meanwhile.
   */
  push(what: string, apply: () => void, entryId?: string, entryBody?: string | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (entryId === undefined) this.queue.push({ what, apply, resolve, reject });
      else {
        const pending = this.pendingEntries;
        const queued = pending.queued(entryId, entryBody);
        this.queue.push({
          what,
          apply,
          resolve: () => {
            pending.settled(entryId, queued);
            resolve();
          },
          reject: (error) => {
            pending.settled(entryId, queued);
            reject(error);
          },
        });
      }
      if (this.queue.length >= this.maxBatch) this.flush();
      else this.scheduleFlush();
    });
  }

  /** The last write of entry `id` still queued, if any. */
  latestEntry(id: string): QueuedEntry | undefined {
    return this.pendingEntries.latest(id);
  }

  /** Write every queued write in one transaction, then settle their promises. */
  flush(): void {
    const batch = this.queue;
    if (batch.length === 0 || !this.db.open) return;
    this.queue = [];
    const refusal = this.hooks.refusal?.();
    if (refusal !== undefined) {
      for (const write of batch) write.reject(refusal);
      return;
    }
    this.hooks.beforeWrite?.();
    if (this.tryAllAtOnce(batch)) return;
    const failures = new Map<Write, unknown>();
    try {
      // IMMEDIATE takes the write lock up front: no deadlock upgrading a read lock against another process.
      this.writeBatch.immediate(batch, failures);
    } catch (error) {
      this.stats.failedTransactions++;
      for (const write of batch) write.reject(this.transactionError(write, batch.length, failures.get(write) ?? error));
      return;
    }
    for (const [write, failure] of failures) write.reject(storageError(write.what, failure));
    this.committed(failures.size === 0 ? batch : batch.filter((write) => !failures.has(write)));
  }

  /** Count a committed transaction of `written`, and settle them once durable. */
  private committed(written: readonly Write[]): void {
    this.stats.transactions++;
    this.hooks.onCommitted?.();
    this.stats.writes += written.length;
    if (this.hooks.afterCommit === undefined) {
      for (const write of written) write.resolve();
      return;
    }
    this.hooks.afterCommit((failure) => {
      if (failure === undefined) for (const write of written) write.resolve();
      else for (const write of written) write.reject(new StorageError(`Could not ${write.what} durably: ${failure.message}`, failure));
    }, written.length);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Write the batch in one transaction with no savepoints (two statements fewer per write: a third of the
   * cost of a short workflow's writes). When a write fails, the transaction is rolled back whole and the batch
   * is written again a savepoint per write (applyAll), so that the failing write is rejected alone; when the
   * transaction itself fails, every write in it is rejected, as in flush(). True once the batch is settled.
   */
  private tryAllAtOnce(batch: readonly Write[]): boolean {
    let writeFailed = false;
    try {
      this.writeAllAtOnce.immediate(batch, () => (writeFailed = true));
    } catch (error) {
      if (writeFailed) return false;
      // The transaction itself failed (the lock, the commit): trying again with savepoints would fail the same.
      this.stats.failedTransactions++;
      for (const write of batch) write.reject(this.transactionError(write, batch.length, error));
      return true;
    }
    this.committed(batch);
    return true;
  }

  /** Apply each write in its own savepoint, so one failing write does not undo the others. */
  private applyAll(batch: readonly Write[], failures: Map<Write, unknown>): void {
    for (const write of batch) {
      try {
        this.writeOne(write);
      } catch (error) {
        failures.set(write, error);
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction: give up on the batch.
        if (!this.db.inTransaction) throw error;
      }
    }
  }

  private transactionError(write: Write, size: number, cause: unknown): StorageError {
    return new StorageError(
      `Could not ${write.what}: the transaction failed (${describeFailure(cause)}); none of its ${size} write(s) were kept.`,
      cause,
    );
  }
}
