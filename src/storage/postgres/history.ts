/**
 * The history of one workflow in a {@link PostgresStore}: its rows of the `records` table, one row per live
 * record. A commit appends rows and deletes rows by seq (never rewrites the history), group-committed with
 * every other write of the store.
 */
import type { History, HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError } from '../../core/errors.js';
import type { RecordsChange } from './group-commit.js';

/** What a history needs of its store (PostgresStore implements it). */
export interface RecordStore {
  /** @internal Rows of `workflowId` in seq order, after every write queued before the call. */
  loadRecords(workflowId: string): Promise<readonly HistoryRecord[]>;
  /** @internal Queue a commit for the next group transaction. */
  commitRecords(workflowId: string, change: HistoryChange): Promise<void>;
  /** @internal Queue the removal of every row of `workflowId`. */
  clearRecords(workflowId: string): Promise<void>;
}

/**
 * The history of one workflow in a {@link PostgresStore}. Obtain it with `store.history(id)`. `commit()`
 * resolves after the group transaction holding it is committed, and rejects with StorageError (writing nothing
 * of the change) when it fails — for instance because it appends a seq that is already in the history.
 * `clear()` is one DELETE.
 *
 * @example
 * const history = store.history('order-1');
 * await history.commit({ append: [record], remove: [] });
 */
export class PostgresHistory implements History {
  /** @internal Created by {@link PostgresStore.history}. */
  constructor(
    private readonly store: RecordStore,
    /** The workflow this history belongs to. */
    readonly workflowId: string,
  ) {}

  load(): Promise<readonly HistoryRecord[]> {
    return this.store.loadRecords(this.workflowId);
  }

  commit(change: HistoryChange): Promise<void> {
    return this.store.commitRecords(this.workflowId, change);
  }

  clear(): Promise<void> {
    return this.store.clearRecords(this.workflowId);
  }
}

/** Serialize a change now: what is stored is the records as they were at the call. Throws on unserializable data. */
export function serializeChange(workflowId: string, change: HistoryChange): RecordsChange {
  return {
    workflowId,
    seqs: change.append.map((record) => record.seq),
    bodies: change.append.map((record) => JSON.stringify(record)),
    remove: [...change.remove],
  };
}

/** A row of the `records` table (seq as text: bigint). */
export interface RecordRow {
  seq: string;
  body: string;
}

/** Parse a stored record; a body that is not JSON, or holds another seq, is damage. */
export function parseRecord(row: RecordRow, workflowId: string): HistoryRecord {
  let record: HistoryRecord;
  try {
    record = JSON.parse(row.body) as HistoryRecord;
  } catch {
    throw new CorruptHistoryError(`record ${row.seq} of workflow ${JSON.stringify(workflowId)} is not JSON`);
  }
  if (typeof record !== 'object' || record === null || String(record.seq) !== row.seq) {
    throw new CorruptHistoryError(`record ${row.seq} of workflow ${JSON.stringify(workflowId)} holds another seq (${JSON.stringify((record as { seq?: unknown } | null)?.seq)})`);
  }
  return record;
}
