/**
 * Group commit for a {@link PostgresStore}: every write issued while the previous transaction is in flight (or
 * in the same event-loop turn) goes into ONE transaction, so many workflows share one round of WAL flush.
 * Transactions run one at a time, on one connection at a time, in the order the writes were issued.
 *
 * The fast path runs the batch without savepoints and merges neighbouring history commits into one INSERT
 * and one DELETE. When a write fails (say, a duplicate seq), the transaction is rolled back and the batch runs
 * again with one savepoint per write, so the failing write is rejected alone and the others are kept — the
 * same outcome SqliteStore gives. When the transaction itself fails (connection lost, server down), every
 * write of the batch is rejected with StorageError.
 */
import type pg from 'pg';
import { LeaseLostError, StorageError } from '../../core/errors.js';
import { describeFailure, storageError } from '../storage-error.js';
import { lostFences, type FencedWrite, type LeaseStatements } from './leases.js';
import type { Statements } from './sql.js';
import { flatten, removesOwnAppend, segments, type RecordsChange, type Segment, type WriteBody } from './write-groups.js';

export type { RecordsChange, WriteBody } from './write-groups.js';

/** What a write carries besides its body: the lease it must still hold, what to notify once committed. */
export interface WriteExtras {
  /** Refused with LeaseLostError (nothing written) unless the workflow's lease is still this one: see leases.ts. */
  fenced?: FencedWrite;
  /** A notification payload sent on the store's channel once the write committed (see notifications.ts). */
  notify?: string;
}

interface Write extends WriteExtras {
  what: string;
  body: WriteBody;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Counters of a {@link PostgresStore}, for tests and monitoring. */
export interface PostgresStoreStats {
  /** Write transactions committed. */
  transactions: number;
  /** Write transactions that failed as a whole (every write in them was rejected). */
  failedTransactions: number;
  /** Batches run a second time, with a savepoint per write, because one write in them failed. */
  retriedTransactions: number;
  /** Writes (history commits, entry and alias changes, events) committed. */
  writes: number;
}

function ignore(): void {}



/** The transaction as a whole failed: not the fault of one write. */
class TransactionFailure extends Error {
  constructor(
    override readonly cause: unknown,
    /** COMMIT itself failed: the server may have committed before the connection broke. */
    readonly uncertain = false,
  ) {
    super(describeFailure(cause));
  }
}

/** The queue and the transactions of one store. */
export class GroupCommit {
  readonly stats: PostgresStoreStats = { transactions: 0, failedTransactions: 0, retriedTransactions: 0, writes: 0 };
  private queue: Write[] = [];
  private inFlight: readonly Write[] = [];
  private running = false;
  private scheduled = false;
  /**
   * The connection the transactions run on, kept while writes keep coming: a writer that went back to the
   * pool for each transaction would queue behind the reads waiting for a connection.
   */
  private writer: pg.PoolClient | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sql: Statements,
    private readonly maxBatch: number,
    private readonly leaseSql: LeaseStatements,
    /** The channel notifications go to. */
    private readonly channel: string,
  ) {}

  /** Queue a write; it resolves once its transaction committed, or rejects with StorageError. */
  enqueue(what: string, body: WriteBody, extras: WriteExtras = {}): Promise<void> {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    this.queue.push({ what, body, done, resolve, reject, ...extras });
    this.schedule();
    return done;
  }

  /** Resolves once every write queued so far is settled (committed or rejected); never rejects. */
  drain(): Promise<void> {
    const pending = [...this.inFlight, ...this.queue].map((write) => write.done);
    if (pending.length === 0) return Promise.resolve();
    return Promise.allSettled(pending).then(() => undefined);
  }

  /** Start a transaction at the end of this turn, unless one runs (it starts the next when it ends). */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.runNext();
    });
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    if (this.queue.length === 0) {
      // A turn went by without a write: give the connection back to the pool.
      this.releaseWriter();
      return;
    }
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = batch;
    try {
      await this.run(batch);
    } finally {
      this.inFlight = [];
      this.running = false;
    }
    // What was queued while this transaction ran goes next, at the end of this turn: the writers its commits
    // woke up queue their next writes in this turn's microtasks, and they should share the next transaction.
    this.schedule();
  }

  /** Give the writer's connection back to the pool (discarding it when `broken`). */
  releaseWriter(broken?: Error): void {
    const client = this.writer;
    if (client === undefined) return;
    this.writer = undefined;
    client.removeListener('error', ignore);
    client.release(broken);
  }

  private async acquireWriter(): Promise<pg.PoolClient> {
    if (this.writer !== undefined) return this.writer;
    const client = await this.pool.connect();
    // A connection that breaks while checked out emits 'error'; unheard, that would end the process. The
    // query in flight fails too, which is how the transaction learns of it.
    client.on('error', ignore);
    this.writer = client;
    return client;
  }

  /** Write `batch` in one transaction and settle each write's promise. Never throws. */
  private async run(batch: readonly Write[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.acquireWriter();
    } catch (error) {
      this.fail(batch, error, new Map());
      return;
    }
    const failures = new Map<Write, unknown>();
    const lost = new Set<Write>();
    try {
      if (!(await this.fastPath(client, batch, lost))) {
        this.stats.retriedTransactions++;
        lost.clear();
        await this.carefulPath(client, batch, failures, lost);
      }
    } catch (error) {
      // A connection whose transaction failed is discarded: its state is unknown.
      this.releaseWriter(error instanceof Error ? error : new Error(String(error)));
      this.fail(batch, error, failures);
      return;
    }
    this.stats.transactions++;
    this.stats.writes += batch.length - failures.size - lost.size;
    for (const write of batch) {
      if (lost.has(write)) write.reject(new LeaseLostError(write.fenced!.workflowId, write.what));
      else if (failures.has(write)) write.reject(storageError(write.what, failures.get(write)));
      else write.resolve();
    }
    await this.notify(client, batch.filter((write) => !lost.has(write) && !failures.has(write)));
  }

  /** Send the notifications of the committed writes (deduplicated). Best effort: listeners poll anyway. */
  private async notify(client: pg.PoolClient, committed: readonly Write[]): Promise<void> {
    const payloads = [...new Set(committed.flatMap((write) => (write.notify === undefined ? [] : [write.notify])))];
    if (payloads.length === 0) return;
    try {
      await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [this.channel, payloads]);
    } catch (error) {
      this.releaseWriter(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * The batch without savepoints. False (rolled back) when a write failed. Fenced writes whose lease is lost
   * are left out and added to `lost`.
   */
  private async fastPath(client: pg.PoolClient, batch: readonly Write[], lost: Set<Write>): Promise<boolean> {
    const groups = segments(batch.map((write) => write.body));
    const [only] = groups;
    if (groups.length === 1 && only !== undefined && 'records' in only && only.rows.size === 0 && !only.records.some(removesOwnAppend)) {
      return this.oneStatement(client, only.records, batch);
    }
    await this.statement(client, 'BEGIN');
    try {
      for (const write of await this.lockFences(client, batch)) lost.add(write);
      for (const group of lost.size === 0 ? groups : segments(batch.filter((write) => !lost.has(write)).map((write) => write.body))) {
        if ('apply' in group) await group.apply(client);
        else await this.applySegment(client, group);
      }
    } catch (error) {
      if (error instanceof TransactionFailure) throw error;
      await this.statement(client, 'ROLLBACK');
      return false;
    }
    await this.commit(client);
    return true;
  }

  /** The batch with one savepoint per write: a failing write is rolled back and noted in `failures`. */
  private async carefulPath(client: pg.PoolClient, batch: readonly Write[], failures: Map<Write, unknown>, lost: Set<Write>): Promise<void> {
    await this.statement(client, 'BEGIN');
    for (const write of await this.lockFences(client, batch)) lost.add(write);
    for (const write of batch) {
      if (lost.has(write)) continue;
      await this.statement(client, 'SAVEPOINT quest_write');
      try {
        const body = write.body;
        if ('records' in body) await this.applyRecords(client, [body.records]);
        else if ('row' in body) await client.query(body.row.sql, body.row.values.map((value) => [value]));
        else await body.apply(client);
        await this.statement(client, 'RELEASE SAVEPOINT quest_write');
      } catch (error) {
        if (error instanceof TransactionFailure) throw error;
        failures.set(write, error);
        await this.statement(client, 'ROLLBACK TO SAVEPOINT quest_write');
      }
    }
    await this.commit(client);
  }

  /** Lock the rows of the batch's fenced writes; the writes whose lease is lost. A failure fails the transaction. */
  private async lockFences(client: pg.PoolClient, batch: readonly Write[]): Promise<Set<Write>> {
    try {
      return await lostFences(client, this.leaseSql, batch);
    } catch (error) {
      throw new TransactionFailure(error);
    }
  }

  private async commit(client: pg.PoolClient): Promise<void> {
    try {
      await client.query('COMMIT');
    } catch (error) {
      throw new TransactionFailure(error, true);
    }
  }

  /** The writes of a segment: one statement per kind (they touch distinct rows, so their order does not matter). */
  private async applySegment(client: pg.ClientBase, segment: Segment): Promise<void> {
    if (segment.records.length > 0) await this.applyRecords(client, segment.records);
    for (const [sql, columns] of segment.rows) await client.query(sql, columns);
  }

  /** The appends of `changes` in one INSERT, then their removals in one DELETE. */
  private async applyRecords(client: pg.ClientBase, changes: readonly RecordsChange[]): Promise<void> {
    const { ids, seqs, bodies, crcs, removeIds, removeSeqs } = flatten(changes);
    // Appends first, then removals: a change may remove a record it appends.
    if (ids.length > 0) await client.query(this.sql.insertRecords, [ids, seqs, bodies, crcs]);
    if (removeIds.length > 0) await client.query(this.sql.deleteRecords, [removeIds, removeSeqs]);
  }

  /**
   * History commits of distinct workflows, none removing a record it appends, as ONE statement (with the record
   * counts of their workflows): atomic by itself (no BEGIN, no COMMIT), so a sequential writer pays one round
   * trip per commit instead of three. False
   * when a write in it was refused (nothing was written).
   */
  private async oneStatement(client: pg.ClientBase, changes: readonly RecordsChange[], batch: readonly Write[]): Promise<boolean> {
    const { ids, seqs, bodies, crcs, removeIds, removeSeqs } = flatten(changes);
    const fences = new Map(batch.flatMap((write) => (write.fenced === undefined ? [] : [[write.fenced.workflowId, write.fenced.fence] as const])));
    try {
      // Prepared once per connection (named): the hot statement of a sequential writer is not parsed again.
      if (fences.size === 0) {
        await client.query({ name: this.sql.commitRecordsName, text: this.sql.commitRecords, values: [ids, seqs, bodies, crcs, removeIds, removeSeqs] });
        return true;
      }
      // Leased workflows: the fence is checked in the same statement; a lost lease writes nothing, and the
      // careful path then tells which write lost it.
      const fenceIds = [...fences.keys()];
      const { rows } = await client.query<{ ok: boolean }>({
        name: this.sql.commitFencedRecordsName,
        text: this.sql.commitFencedRecords,
        values: [ids, seqs, bodies, crcs, removeIds, removeSeqs, fenceIds, fenceIds.map((id) => fences.get(id)!.owner), fenceIds.map((id) => fences.get(id)!.epoch), fenceIds.length],
      });
      return rows[0]?.ok === true;
    } catch (error) {
      if (isStatementError(error)) return false;
      // The connection broke: the server may have committed the statement or not.
      throw new TransactionFailure(error, true);
    }
  }

  /** A transaction-control statement: its failure fails the whole transaction. */
  private async statement(client: pg.PoolClient, text: string): Promise<void> {
    try {
      await client.query(text);
    } catch (error) {
      throw new TransactionFailure(error);
    }
  }

  private fail(batch: readonly Write[], error: unknown, failures: Map<Write, unknown>): void {
    this.stats.failedTransactions++;
    const uncertain = error instanceof TransactionFailure && error.uncertain;
    const cause = error instanceof TransactionFailure ? error.cause : error;
    const outcome = uncertain
      ? `the connection failed during COMMIT, so its ${batch.length} write(s) may or may not have been kept: read before retrying`
      : `none of its ${batch.length} write(s) were kept`;
    for (const write of batch) {
      const reason = failures.get(write) ?? cause;
      write.reject(new StorageError(`Could not ${write.what}: the transaction failed (${describeFailure(reason)}); ${outcome}.`, reason));
    }
  }
}

/**
 * True when the server refused the statement itself (a constraint, bad data, a cancelled statement): nothing
 * of it was written and the connection is fine. False for a broken connection or a server going down.
 */
export function isStatementError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  if (code === '57014') return true; // query_canceled (statement_timeout)
  return !['08', '53', '57', '58', 'XX'].includes(code.slice(0, 2));
}
