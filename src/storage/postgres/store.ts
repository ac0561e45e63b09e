/**
 * PostgreSQL storage: the backend for more than one machine. Every table lives in one schema of one database
 * (default `quest`), reached through a node-postgres pool.
 *
 * Glossary (the words of the multi-process design: see leases.ts):
 * - owner: the process that runs a workflow; exactly one at a time.
 * - lease: an owner's claim on a workflow, valid while the owner's row (table `owners`) is, until its
 *   `lease_until` unless renewed (a heartbeat, one row per process).
 * - epoch: a fencing token, incremented by every new owner and checked by every write of the old one.
 * - group commit: the writes of many workflows issued together share one transaction (see group-commit.ts).
 */
import pg from 'pg';
import type { HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { DuplicateWorkflowError, InvalidArgumentError, StorageError } from '../../core/errors.js';
import type {
  ClaimRequest,
  EventInbox,
  EventOutcome,
  EventVerdict,
  InboxEvent,
  PostedEvent,
  Store,
  StoreChange,
  WorkflowEntry,
  WorkflowLease,
  WorkflowLeases,
  WorkflowState,
} from '../store.js';
import { storageError } from '../storage-error.js';
import { GroupCommit, isStatementError, type PostgresStoreStats, type WriteBody, type WriteExtras } from './group-commit.js';
import { Fences, claim, leaseStatementsFor, releaseEach, renew, retireOwners, type LeaseStatements } from './leases.js';
import { ChangeListener, channelOf, encodeChange } from './notifications.js';
import type { RecordStore } from '../record-history.js';
import { PostgresHistory, parseRecords, serializeChange, type RecordRow } from './history.js';
import { selectRunningHistories } from './history-scan.js';
import { decodeScanCursor, type HistoryScan, type HistoryScanBatch, type HistoryScanQuery } from '../history-scan.js';
import { insertEvent, selectEvents, selectOutcome, serializeEvent, settleEvent } from './inbox.js';
import { connect, type PostgresStoreOptions } from './connection.js';
import { statementsFor, type Statements } from './sql.js';
import { selectCounts, selectEarliestStart, selectPage, selectTimeCounts } from './pages.js';
import { entryRow, selectEntries, selectEntry } from './entries.js';
import { checkPageQuery, type WorkflowCount, type WorkflowCountFilter, type WorkflowEntryPage, type WorkflowPageQuery, type WorkflowPages } from '../workflow-pages.js';
import { checkTimeBuckets, type TimeBuckets, type TimeCounts, type WorkflowTimeline } from '../workflow-timeline.js';

/**
 * A {@link Store} in a PostgreSQL database. Open it with {@link PostgresStore.open}: it creates the schema's
 * tables (or brings them up to date) and rejects with StorageError when the server cannot be reached.
 *
 * Writes (history commits, clears, entries, aliases, deletions, inbox events) are group-committed: every write
 * issued while the previous transaction runs, or in the same event-loop turn, goes into ONE transaction.
 * Each write resolves once its transaction committed (durable: PostgreSQL's `synchronous_commit`, on by
 * default) and rejects with StorageError when it failed — alone when only it failed (say, a duplicate seq),
 * with every other write of its transaction when the transaction failed. Reads wait for the writes issued
 * before them, so they see them. After `close()`, every call fails with StorageError.
 *
 * It has an inbox of outside events ({@link EventInbox}), as SqliteStore has. Damage to a stored history (a
 * changed record, the deleted rows of a running workflow) is a CorruptHistoryError on load, never replayed.
 *
 * Many processes share it: instead of one owner per store (`StoreOwnership`), each running workflow has its
 * own lease (the `WorkflowLeases` capability: `owner`, `epoch` in the `workflows` table, valid while the
 * owner's row in `owners` is), so
 * managers in many processes claim, renew and take over workflows, and every write of a leased workflow is
 * fenced (see leases.ts). Changes other processes should hear of at once (inbox events, finished workflows,
 * released leases) are sent with NOTIFY after their transaction (see notifications.ts).
 *
 * @example
 * const store = await PostgresStore.open({ connectionString: 'postgres://postgres@127.0.0.1:5432/app' });
 * const manager = await WorkflowManager.open({ store, workflows: { order } });
 */
export class PostgresStore implements Store, EventInbox, WorkflowLeases, RecordStore, WorkflowPages, WorkflowTimeline, HistoryScan {
  private readonly committer: GroupCommit;
  private closing: Promise<void> | undefined;
  private readonly leaseSql: LeaseStatements;
  private readonly fences = new Fences();
  private leaseQueue: Promise<unknown> = Promise.resolve();
  private readonly listener: ChangeListener;
  /** The LISTEN/NOTIFY channel of this schema. */
  private readonly channel: string;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    private readonly sql: Statements,
    /** The schema holding this store's tables. */
    readonly schema: string,
    maxBatch: number,
    /** Where the store is, for messages: the server (without password) and the schema. */
    readonly path: string,
  ) {
    this.leaseSql = leaseStatementsFor(schema);
    this.channel = channelOf(schema);
    this.committer = new GroupCommit(pool, sql, maxBatch, this.leaseSql, this.channel);
    this.listener = new ChangeListener(pool, this.channel);
  }

  /**
   * Connect, create or migrate the schema, and return the store. Rejects with StorageError when the server
   * cannot be reached or the schema was written by a newer Quest, InvalidArgumentError for bad options.
   *
   * @example
   * const store = await PostgresStore.open({ connectionString: process.env.DATABASE_URL!, schema: 'orders' });
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const { pool, ownsPool, schema, maxBatch, path } = await connect(options);
    return new PostgresStore(pool, ownsPool, statementsFor(schema), schema, maxBatch, path);
  }

  /** Counters for tests and monitoring: transactions committed, failed, retried; writes committed. */
  get stats(): Readonly<PostgresStoreStats> {
    return this.committer.stats;
  }

  history(workflowId: string): PostgresHistory {
    this.checkOpen();
    return new PostgresHistory(this, workflowId);
  }

  async putWorkflow(entry: WorkflowEntry): Promise<void> {
    const what = `save workflow ${JSON.stringify(entry.id)}`;
    const fence = this.fenceOf(entry.id, false);
    const ends = entry.state !== 'running';
    // Ending a workflow without holding its lease takes it from its owner (see WorkflowLeases).
    const sql = ends && fence === undefined ? this.leaseSql.putWorkflowsTakingOver : this.sql.putWorkflows;
    const notify = encodeChange(ends ? { kind: 'finished', workflowId: entry.id } : { kind: 'claimable' });
    await this.enqueue(what, { row: entryRow(sql, entry, what) }, { fenced: fence, notify });
    if (ends && fence !== undefined) this.fences.end(entry.id, fence.fence);
  }

  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.read(`read workflow ${JSON.stringify(workflowId)}`, () => selectEntry(this.pool, this.sql, workflowId));
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.read('list workflows', () => selectEntries(this.pool, this.sql, state));
  }

  /** See {@link WorkflowPages.pageWorkflows}: keyset pages on (started_at, position), read through the indexes. */
  async pageWorkflows(query: WorkflowPageQuery): Promise<WorkflowEntryPage> {
    const cursor = checkPageQuery(query);
    return this.read('read a page of workflows', () => selectPage(this.pool, this.schema, query, cursor));
  }

  /** See {@link WorkflowPages.countWorkflows}. */
  countWorkflows(filter: WorkflowCountFilter = {}): Promise<WorkflowCount[]> {
    return this.read('count workflows', () => selectCounts(this.pool, this.schema, filter.search));
  }

  /** See {@link HistoryScan.scanRunningHistories}: a batch of running workflows and their records in one query. */
  async scanRunningHistories(query: HistoryScanQuery): Promise<HistoryScanBatch> {
    const cursor = query.after === undefined ? undefined : decodeScanCursor(query.after);
    return this.read('read the histories of the running workflows', () => selectRunningHistories(this.pool, this.schema, query, cursor));
  }

  /** See {@link WorkflowTimeline.earliestStart}. */
  earliestStart(): Promise<number | undefined> {
    return this.read('read the earliest start', () => selectEarliestStart(this.pool, this.schema));
  }

  /** See {@link WorkflowTimeline.countByTime}: a count per bucket over the indexes of start and finish times. */
  async countByTime(query: TimeBuckets): Promise<TimeCounts> {
    checkTimeBuckets(query);
    return this.read('count workflows over time', () => selectTimeCounts(this.pool, this.schema, query));
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    const fenced = this.fenceOf(workflowId, true);
    // One write, so one transaction (and one savepoint): entry, history and aliases go together or not at all.
    return this.enqueue(
      `delete workflow ${JSON.stringify(workflowId)}`,
      {
        apply: async (client) => {
          await client.query(this.sql.deleteWorkflow, [workflowId]);
          await client.query(this.sql.clearRecords, [[workflowId]]);
          await client.query(this.sql.deleteAliasesOf, [workflowId]);
          // Its owner deleting it took it from nobody: no loss to read (a new workflow of that id may come).
          if (fenced !== undefined) await client.query(this.leaseSql.forgetLoss, [fenced.fence.owner, workflowId]);
        },
      },
      { fenced, notify: encodeChange({ kind: 'finished', workflowId }) },
    ).then(() => {
      const fence = this.fences.get(workflowId);
      if (fence !== undefined) this.fences.end(workflowId, fence);
    });
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    return this.enqueue(`save alias ${JSON.stringify(alias)}`, { row: { sql: this.sql.putAliases, target: `aliases:${alias}`, values: [alias, workflowId] } });
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    return this.enqueue(`delete alias ${JSON.stringify(alias)}`, { row: { sql: this.sql.deleteAliases, target: `aliases:${alias}`, values: [alias, workflowId] } });
  }

  getAlias(alias: string): Promise<string | undefined> {
    return this.read(`read alias ${JSON.stringify(alias)}`, async () => {
      const { rows } = await this.pool.query<{ workflow_id: string }>(this.sql.getAlias, [alias]);
      return rows[0]?.workflow_id;
    });
  }

  postEvent(event: InboxEvent): Promise<number> {
    let id = 0;
    const what = `post an event for workflow ${JSON.stringify(event.workflowId)}`;
    return this.serialized(
      what,
      () => serializeEvent(event),
      async (client, body) => {
        id = await insertEvent(client, this.sql, event.workflowId, body);
      },
      { notify: encodeChange({ kind: 'inbox' }) },
    ).then(() => id);
  }

  takeEvents(limit: number, afterId = 0): Promise<PostedEvent[]> {
    return this.read('read the inbox', () => selectEvents(this.pool, this.sql, limit, afterId));
  }

  settleEvent(id: number, verdict: EventVerdict): Promise<void> {
    return this.enqueue(
      `settle event ${id} of the inbox`,
      { apply: (client) => settleEvent(client, this.sql, id, verdict) },
      { notify: encodeChange({ kind: 'settled', eventId: id }) },
    );
  }

  claimWorkflows(request: ClaimRequest): Promise<WorkflowLease[]> {
    if (!(request.leaseMs > 0)) return Promise.reject(new InvalidArgumentError(`A lease must last more than 0 ms (got ${request.leaseMs}).`));
    if (request.limit <= 0 || request.ids?.length === 0 || request.types?.length === 0) return Promise.resolve([]);
    return this.leaseTurn(() => this.read('claim workflows', () => claim(this.pool, this.leaseSql, this.fences, request)));
  }

  async createWorkflow(entry: WorkflowEntry, claim?: { owner: string; leaseMs: number }): Promise<WorkflowLease | undefined> {
    const what = `create workflow ${JSON.stringify(entry.id)}`;
    const row = entryRow(this.leaseSql.createWorkflows, entry, what, [claim?.owner ?? null, Math.ceil(claim?.leaseMs ?? 0)]);
    try {
      await this.enqueue(
        what,
        { row },
        // Only a workflow nobody claimed is news to the other processes.
        claim === undefined ? { notify: encodeChange({ kind: 'claimable' }) } : {},
      );
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code === '23505') throw new DuplicateWorkflowError(entry.id);
      throw error;
    }
    if (claim === undefined) return undefined;
    // The statement registered the owner when it had no row.
    this.fences.hold(entry.id, { owner: claim.owner, epoch: 1 });
    return { entry, owner: claim.owner, epoch: 1 };
  }

  renewLeases(owner: string, leaseMs: number): Promise<string[]> {
    // An owner this store never claimed nor created as holds nothing here (and has no row to extend).
    if (!this.fences.owners.has(owner)) return Promise.resolve([]);
    return this.leaseTurn(() => this.read('renew leases', () => renew(this.pool, this.leaseSql, this.fences, owner, leaseMs, this.channel)));
  }

  releaseLeases(workflowIds: readonly string[]): Promise<void> {
    const released = this.fences.releaseAll(workflowIds);
    if (released.size === 0) return Promise.resolve();
    // After the writes issued before (the lease goes after the last of them), in a statement of its own: inside
    // a group transaction its row locks would come after the fence check's, out of id order (see leases.ts).
    // One that fails is retried by the owner's next renewal: while the owner lives, its lease holds them.
    return this.read(`release the leases of ${workflowIds.length} workflow(s)`, () => releaseEach(this.pool, this.leaseSql, released, this.channel)).catch((error: unknown) => {
      this.fences.releaseLater(released);
      throw error;
    });
  }

  leaseOf(workflowId: string): Promise<{ owner: string; epoch: number; leaseUntil: number } | undefined> {
    return this.read(`read the lease of workflow ${JSON.stringify(workflowId)}`, async () => {
      const { rows } = await this.pool.query<{ owner: string; epoch: string; lease_until: string }>(this.leaseSql.leaseOf, [workflowId]);
      const row = rows[0];
      return row === undefined ? undefined : { owner: row.owner, epoch: Number(row.epoch), leaseUntil: Number(row.lease_until) };
    });
  }

  watch(listener: (change: StoreChange) => void): () => void {
    this.checkOpen();
    return this.listener.watch(listener);
  }

  eventOutcome(id: number): Promise<EventOutcome | undefined> {
    return this.read(`read the outcome of event ${id}`, () => selectOutcome(this.pool, this.sql, id));
  }

  /**
   * Write what is queued, then end the pool the store made (a pool passed in stays open: it is yours). Later
   * calls fail with StorageError; closing twice is fine.
   */
  close(): Promise<void> {
    this.closing ??= this.committer.drain().then(async () => {
      await retireOwners(this.pool, this.leaseSql, this.fences);
      this.committer.releaseWriter();
      await this.listener.close();
      if (!this.ownsPool) return;
      try {
        await this.pool.end();
      } catch (error) {
        throw storageError(`close the PostgreSQL store (schema ${JSON.stringify(this.schema)})`, error);
      }
    });
    return this.closing;
  }

  /** @internal See {@link PostgresHistory.load}: checksums and the record count of a running workflow are checked. */
  loadRecords(workflowId: string): Promise<readonly HistoryRecord[]> {
    return this.read(`read the history of workflow ${JSON.stringify(workflowId)}`, async () => {
      const { rows } = await this.pool.query<RecordRow>(this.sql.selectRecords, [workflowId]);
      return parseRecords(rows, workflowId);
    });
  }

  /** @internal See {@link PostgresHistory.commit}. */
  commitRecords(workflowId: string, change: HistoryChange): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    if (change.append.length === 0 && change.remove.length === 0) return Promise.resolve();
    const what = `write the history of workflow ${JSON.stringify(workflowId)}`;
    try {
      return this.enqueue(what, { records: serializeChange(workflowId, change) }, { fenced: this.fenceOf(workflowId, false) });
    } catch (error) {
      return Promise.reject(storageError(what, error));
    }
  }

  /** @internal See {@link PostgresHistory.clear}. */
  clearRecords(workflowId: string): Promise<void> {
    return this.enqueue(
      `clear the history of workflow ${JSON.stringify(workflowId)}`,
      { row: { sql: this.sql.clearRecords, target: `records:${workflowId}`, values: [workflowId] } },
      { fenced: this.fenceOf(workflowId, true) },
    );
  }

  /**
   * Run claims and renewals one at a time: a claim's list of fences to skip must not be taken while a renewal
   * is between reading the leases taken from an owner and marking their fences lost (see Fences.skipped).
   */
  private leaseTurn<T>(run: () => Promise<T>): Promise<T> {
    const turn = this.leaseQueue.then(run);
    this.leaseQueue = turn.catch(() => undefined);
    return turn;
  }

  /** The fence a write to `workflowId` must pass, when this store holds (or held) its lease. */
  private fenceOf(workflowId: string, rowMayBeGone: boolean): WriteExtras['fenced'] {
    const fence = this.fences.get(workflowId);
    return fence === undefined ? undefined : { workflowId, fence, rowMayBeGone };
  }

  /** Serialize now (what is stored is the value as it was at the call), write with the next group. */
  private serialized<T>(what: string, serialize: () => T, apply: (client: pg.ClientBase, data: T) => Promise<void>, extras?: WriteExtras): Promise<void> {
    let data: T;
    try {
      data = serialize();
    } catch (error) {
      return Promise.reject(storageError(what, error));
    }
    return this.enqueue(what, { apply: (client) => apply(client, data) }, extras);
  }

  private enqueue(what: string, body: WriteBody, extras?: WriteExtras): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    return this.committer.enqueue(what, body, extras);
  }

  /**
   * Run a query after the writes queued before it, so that it sees them. A query that failed on a broken
   * connection (the server restarted: the pool's idle connections are dead until it notices) runs again on a
   * fresh one, twice at most; reads and the lease statements are safe to repeat.
   */
  private async read<T>(what: string, query: () => Promise<T>): Promise<T> {
    this.checkOpen();
    await this.committer.drain();
    for (let attempt = 1; ; attempt++) {
      try {
        return await query();
      } catch (error) {
        if (attempt > 2 || isStatementError(error) || this.closing !== undefined) throw storageError(what, error);
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw this.closedError();
  }

  private closedError(): StorageError {
    return new StorageError(`The PostgreSQL store (schema ${JSON.stringify(this.schema)}) is closed.`);
  }
}
