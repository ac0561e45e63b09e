/**
 * Where a SqliteStore runs its reads of the workflow list as a whole (pages, counts by state and type, counts over
 * time, the scan of the running histories): on its own connection, or on a second, read-only connection in a
 * worker thread.
 *
 * Why a worker: better-sqlite3 is synchronous, and at a million workflows these reads take 80–500 ms of SQLite
 * (a search's page and counts, the counts of every workflow: docs/performance.md, eleventh round), during which
 * the store's event loop, and every workflow of its manager, waits. In a worker they take the same time, and the
 * event loop goes on. A read there sees every write committed before it was sent: the store commits what it has
 * queued before each read (as it does for its own reads), and SQLite's WAL shows a commit to every connection at
 * once. The worker starts with the first such read of a database larger than WORKER_FROM_BYTES (a small one reads
 * in a few milliseconds: a thread would cost more), or of any with `listReads: 'worker'`; it keeps the process
 * alive only while a read is under way. When it fails (its thread or connection could not start, or died), the
 * reads it had not answered, and every later one, run on the store's own connection, as a store whose file is
 * `:memory:` or that is open read-only always reads.
 *
 * @example
 * const reads = new ListReads(db, path, 'auto');
 * const rows = await reads.all<{ n: number }>('SELECT count(*) AS n FROM workflows', {});
 * await reads.stop(); // before closing the store's connection
 */
import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { startSqliteWorker } from './sqlite-worker.js';

/** SqliteStoreOptions.listReads: where the store reads its workflow list as a whole (see this file's comment). */
export type ListReadPlace = 'auto' | 'worker' | 'inline';

/** With `listReads: 'auto'`, a database from this size on reads its list in a worker (about 50,000 workflows). */
export const WORKER_FROM_BYTES = 16 * 1024 * 1024;

/** Named parameters of a statement (better-sqlite3 binds them by name, without the `@`). */
export type ReadParams = Record<string, unknown>;

/** A read sent to the worker: what to run again on the store's connection if the worker stops first. */
interface Pending {
  sql: string;
  params: ReadParams;
  resolve: (rows: unknown[]) => void;
  reject: (error: Error) => void;
}

/**
 * The worker: a CommonJS script (./sqlite-worker.ts). It answers each message `{ id, sql, params }` with
 * `{ id, rows }` or `{ id, error }`, its statements prepared once per text; on `{ close: true }` it closes its
 * connection and ends.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
const statements = new Map();
parentPort.on('message', ({ id, sql, params, close }) => {
  if (close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    parentPort.postMessage({ id, rows: statement.all(params) });
  } catch (error) {
    parentPort.postMessage({ id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
`;

export class ListReads {
  private readonly statements = new Map<string, Database.Statement<[ReadParams], unknown>>();
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stopping = false;
  /** Called once no read is under way in the worker (stop waits for it). */
  private onDrained: (() => void) | undefined;
  /** Why the worker failed, if it did: the store then reads on its own connection. */
  failure: unknown;

  constructor(
    private readonly db: Database.Database,
    /** The database file; undefined for one no other connection can open (`:memory:`), or read-only here. */
    private readonly path: string | undefined,
    private readonly place: ListReadPlace,
  ) {}

  /** Whether the reads go to the worker now. */
  get inWorker(): boolean {
    return this.worker !== undefined;
  }

  /** The rows of `sql` with `params`, read in the worker or on the store's connection (see this file's comment). */
  all<R>(sql: string, params: ReadParams): Promise<R[]> {
    if (this.useWorker()) return this.sendToWorker<R>(sql, params);
    try {
      return Promise.resolve(this.readHere(sql, params) as R[]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private readHere(sql: string, params: ReadParams): unknown[] {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement.all(params);
  }

  /** Stop the worker, once the reads under way are answered; before the store's connection closes. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    // Whoever awaits the stop keeps the process alive until the worker's connection is closed.
    this.stopping = true;
    worker.ref();
    if (this.pending.size > 0) await new Promise<void>((resolve) => (this.onDrained = resolve));
    // The worker closes its connection itself, before the store's closes: the last connection to close folds the
    // WAL into the database and removes it, which one left open (a terminated thread's) would prevent.
    this.worker = undefined;
    worker.postMessage({ close: true });
    await this.exited;
  }

  private useWorker(): boolean {
    if (this.worker !== undefined) return true;
    if (this.path === undefined || this.place === 'inline' || this.failure !== undefined) return false;
    if (this.place === 'auto' && fileSize(this.path) < WORKER_FROM_BYTES) return false;
    this.start(this.path);
    return true;
  }

  private sendToWorker<R>(sql: string, params: ReadParams): Promise<R[]> {
    const worker = this.worker as Worker;
    const id = ++this.nextId;
    if (this.pending.size === 0) worker.ref();
    return new Promise<R[]>((resolve, reject) => {
      this.pending.set(id, { sql, params, resolve: resolve as (rows: unknown[]) => void, reject });
      worker.postMessage({ id, sql, params });
    });
  }

  private answered(message: { id: number; rows?: unknown[]; error?: { message: string; code?: string } }): void {
    const read = this.pending.get(message.id);
    if (read === undefined) return;
    this.pending.delete(message.id);
    if (message.error === undefined) read.resolve(message.rows ?? []);
    else read.reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
    if (this.pending.size === 0) this.drained();
  }

  /** No read is under way in the worker: it no longer keeps the process alive, and a stop goes on. */
  private drained(): void {
    if (!this.stopping) this.worker?.unref();
    this.onDrained?.();
    this.onDrained = undefined;
  }

  private start(path: string): void {
    const worker = startSqliteWorker(WORKER_SOURCE, { path });
    this.worker = worker;
    worker.on('message', (message) => this.answered(message as Parameters<ListReads['answered']>[0]));
    this.exited = new Promise<void>((resolve) => {
      worker.once('error', (error) => {
        this.failure = error;
      });
      worker.once('exit', () => {
        if (this.worker === worker) {
          // It stopped on its own (it could not open the database, or its thread died): read here from now on.
          this.worker = undefined;
          this.failure ??= new Error('the worker reading the workflow list stopped');
        }
        // The reads it had not answered run here, on the store's connection (reads: nothing is done twice).
        const unanswered = [...this.pending.values()];
        this.pending.clear();
        for (const read of unanswered) {
          try {
            if (!this.db.open) throw new Error('the store closed before the read was answered');
            read.resolve(this.readHere(read.sql, read.params));
          } catch (error) {
            read.reject(error as Error);
          }
        }
        this.drained();
        resolve();
      });
    });
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
