/**
 * WAL checkpoints of a SqliteStore off the event loop. better-sqlite3 is synchronous, and SQLite's automatic
 * checkpoint (every 1000 WAL pages) runs inside the commit that crosses the mark: it copies every page of the
 * WAL into the database file and fsyncs it, on the event-loop thread, while the callers of that commit wait
 * (measured by bench/cold-put-profile.ts on a 100,000-workflow database: 24 ms at the median, 49 ms at the 99th
 * percentile, in one put to a cold workflow out of ~160: a good part of the slowest 1 % of puts).
 *
 * So a busy store checkpoints from a second connection in a worker thread: `PRAGMA wal_checkpoint(PASSIVE)`,
 * which never blocks the store's writers nor readers (nor waits for them), every CHECKPOINT_INTERVAL_MS while
 * the store commits. SQLite's automatic checkpoint stays on in the store's connection: it still bounds the WAL
 * (a writer restarts the WAL only once every frame in it is copied, which a checkpoint running alongside the
 * writes seldom sees), but it finds the worker has copied all but the last CHECKPOINT_INTERVAL_MS of commits,
 * so what it does on the event loop is small. Checkpointing after every commit instead would keep that even
 * smaller, but its fsyncs (two per checkpoint) would compete with the commits' own for the disk. Durability is SQLite's: the checkpointer syncs the WAL before copying and
 * the database file before it records the pages as copied (synchronous FULL or NORMAL, as the store's).
 *
 * The worker starts with the store's WORKER_AFTER_TRANSACTIONS-th write transaction (a store that writes little
 * never pays for a thread; the WAL's length says nothing of how much it holds, as the store fills it with zeros
 * when it opens: ./sqlite-wal.ts), and stops, its connection closed, before the store's connection closes (so
 * that the store's, the last, folds the WAL into the database and removes it, as before).
 *
 * @example
 * const checkpoints = new BackgroundCheckpoints(path, 'full');
 * checkpoints.committed();   // after each write transaction
 * await checkpoints.stop();  // before closing the store's connection
 */
import type { Worker } from 'node:worker_threads';
import { startSqliteWorker } from './sqlite-worker.js';
import type { SqliteSynchronous } from './sqlite-options.js';

/** How long the worker lets pages gather in the WAL between two checkpoints while the store writes. */
export const CHECKPOINT_INTERVAL_MS = 50;
/**
 * The write transaction with which a store starts checkpointing in the background: by then a store committing
 * one small transaction at a time has written ~0.5 MB to its WAL (SQLite's own mark is 1000 pages: ~4 MB), a
 * busy one batching its commits much more.
 */
export const WORKER_AFTER_TRANSACTIONS = 64;

/** Slots of the memory shared with the worker (Int32). */
const COMMITS = 0;
const STOP = 1;
const CHECKPOINTS = 2;
const SLOTS = 3;

/**
 * The worker: a CommonJS script (./sqlite-worker.ts). It waits for commits, checkpoints, waits
 * CHECKPOINT_INTERVAL_MS, and so on until told to stop; then it closes its connection. A checkpoint that fails
 * (the file went away, a lock held by another process's checkpoint) is tried again at the next commit: the
 * store's own checkpoints bound the WAL meanwhile.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const state = new Int32Array(workerData.shared);
const db = new Database(workerData.path, { fileMustExist: true, timeout: 0 });
try {
  db.pragma('synchronous = ' + workerData.synchronous);
  let seen = 0;
  while (Atomics.load(state, ${STOP}) === 0) {
    Atomics.wait(state, ${COMMITS}, seen);
    if (Atomics.load(state, ${STOP}) !== 0) break;
    seen = Atomics.load(state, ${COMMITS});
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
      Atomics.add(state, ${CHECKPOINTS}, 1);
    } catch {}
    Atomics.wait(state, ${STOP}, 0, workerData.intervalMs);
  }
} finally {
  db.close();
}
`;

export class BackgroundCheckpoints {
  private readonly shared = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private transactions = 0;
  private stopped = false;
  /** Why the worker failed, if it did: the store then checkpoints as SQLite does by itself (in its commits). */
  failure: unknown;

  constructor(
    private readonly path: string,
    private readonly synchronous: SqliteSynchronous,
    private readonly afterTransactions = WORKER_AFTER_TRANSACTIONS,
  ) {}

  /** Checkpoints the worker has run. */
  get checkpoints(): number {
    return Atomics.load(this.shared, CHECKPOINTS);
  }

  /** Whether the worker runs (it starts with the `afterTransactions`-th write transaction). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** A write transaction was committed: wake the worker (started once the store has committed enough). */
  committed(): void {
    if (this.stopped || this.failure !== undefined) return;
    if (this.worker === undefined && ++this.transactions >= this.afterTransactions) this.start();
    if (this.worker === undefined) return;
    Atomics.add(this.shared, COMMITS, 1);
    Atomics.notify(this.shared, COMMITS);
  }

  /** Stop the worker and wait until its connection is closed. */
  stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.shared, STOP, 1);
    // A commit too: a worker between its look at STOP and its wait for commits then does not wait.
    Atomics.add(this.shared, COMMITS, 1);
    Atomics.notify(this.shared, COMMITS);
    Atomics.notify(this.shared, STOP);
    // Whoever awaits the stop keeps the process alive until the worker's connection is closed.
    this.worker?.ref();
    return this.exited ?? Promise.resolve();
  }

  private start(): void {
    // It never keeps the process alive: an unclosed store's WAL is recovered by the next opening, as after a crash.
    const worker = startSqliteWorker(WORKER_SOURCE, {
      path: this.path,
      synchronous: this.synchronous === 'full' ? 'FULL' : 'NORMAL',
      shared: this.shared.buffer,
      intervalMs: CHECKPOINT_INTERVAL_MS,
    });
    this.worker = worker;
    this.exited = new Promise<void>((resolve) => {
      worker.once('error', (error) => {
        this.failure = error;
      });
      worker.once('exit', () => {
        this.worker = undefined;
        resolve();
      });
    });
  }
}
