/**
 * The history of one workflow in a {@link PostgresStore}: its rows of the `records` table, one row per live
 * record. A commit appends rows and deletes rows by seq (never rewrites the history), group-committed with
 * every other write of the store.
 *
 * Damage is detected on load, never replayed: each row holds the CRC-32 of its body (a changed record), and the
 * entry of a workflow counts the rows its commits left (`history_rows`, moved by the commit's own statement),
 * so a running workflow whose rows were deleted is a CorruptHistoryError, not a fresh start.
 */
import { crc32 } from 'node:zlib';
import type { HistoryChange } from '../../core/history.js';
import type { HistoryRecord } from '../../core/records.js';
import { CorruptHistoryError } from '../../core/errors.js';
import { RecordHistory } from '../record-history.js';
import type { RecordsChange } from './group-commit.js';

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
export class PostgresHistory extends RecordHistory {}

/** Serialize a change now: what is stored is the records as they were at the call. Throws on unserializable data. */
export function serializeChange(workflowId: string, change: HistoryChange): RecordsChange {
  const bodies = change.append.map((record) => JSON.stringify(record));
  return {
    workflowId,
    seqs: change.append.map((record) => record.seq),
    bodies,
    crcs: bodies.map((body) => crc32(body)),
    remove: [...change.remove],
  };
}

/**
 * A row of the history query (bigints as text): a record (seq NULL when the history has none) with its
 * workflow's state and record count (NULL without an entry; the count also NULL in entries written before counts).
 */
export interface RecordRow {
  seq: string | null;
  body: string | null;
  /** NULL in rows written before checksums: not checked. */
  crc: string | null;
  state: string | null;
  history_rows: string | null;
}

/**
 * The records of `workflowId` from the rows of its history query. A running workflow with fewer or more records
 * than its commits left, a record whose body does not match its checksum, is not JSON or holds another seq: damage.
 */
export function parseRecords(rows: readonly RecordRow[], workflowId: string): HistoryRecord[] {
  const records = rows.filter((row): row is RecordRow & { seq: string; body: string } => row.seq !== null && row.body !== null);
  const counted = rows[0];
  if (counted?.state === 'running' && counted.history_rows !== null && Number(counted.history_rows) !== records.length) {
    throw new CorruptHistoryError(
      `its history holds ${records.length} record(s) where its commits left ${counted.history_rows} (records were deleted)`,
      { workflowId },
    );
  }
  return records.map((row) => parseRecord(row, workflowId));
}

function parseRecord(row: { seq: string; body: string; crc: string | null }, workflowId: string): HistoryRecord {
  if (row.crc !== null && String(crc32(row.body)) !== row.crc) {
    throw new CorruptHistoryError(`record ${row.seq} does not match its checksum (its bytes were changed)`, { workflowId });
  }
  let record: HistoryRecord;
  try {
    record = JSON.parse(row.body) as HistoryRecord;
  } catch {
    throw new CorruptHistoryError(`record ${row.seq} is not JSON`, { workflowId });
  }
  if (typeof record !== 'object' || record === null || String(record.seq) !== row.seq) {
    throw new CorruptHistoryError(`record ${row.seq} holds another seq (${JSON.stringify((record as { seq?: unknown } | null)?.seq)})`, { workflowId });
  }
  return record;
}
