/**
 * The SQL of a SqliteStore: its prepared statements (histories, workflow entries, aliases, and the inbox's from
 * sqlite-inbox.ts), the entry rows, and the history rows with their damage checks. The store runs these inside
 * its group commit and reads.
 */
import { crc32 } from 'node:zlib';
import type Database from 'better-sqlite3';
import type { HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import { CorruptHistoryError, DuplicateWorkflowError } from '../core/errors.js';
import { prepareInbox, type InboxStatements } from './sqlite-inbox.js';
import type { WorkflowEntry, WorkflowState } from './store.js';

type Statement<P extends unknown[], R = unknown> = Database.Statement<P, R>;

/** The prepared statements, made once per connection. */
export interface Statements extends InboxStatements {
  insertRecord: Statement<[string, number, string, number]>;
  deleteRecord: Statement<[string, number]>;
  clearRecords: Statement<[string]>;
  countRecords: Statement<[number, string]>;
  resetCount: Statement<[string]>;
  selectRecords: Statement<[string], RecordRow>;
  selectCount: Statement<[string], { state: string; history_rows: number | null }>;
  putWorkflow: Statement<[...EntryValues, recordsOf: string]>;
  insertWorkflow: Statement<[...EntryValues, recordsOf: string]>;
  finishWorkflow: Statement<EntryValues>;
  finishRow: Statement<[state: string, body: string, type: string, finishedAt: number | null, id: string, startedAt: number]>;
  getWorkflow: Statement<[string], { body: string }>;
  listWorkflows: Statement<[], { body: string }>;
  listWorkflowsIn: Statement<[string], { body: string }>;
  deleteWorkflow: Statement<[string]>;
  putAlias: Statement<[string, string]>;
  deleteAlias: Statement<[string, string]>;
  deleteAliasesOf: Statement<[string]>;
  getAlias: Statement<[string], { workflow_id: string }>;
}

export function prepare(db: Database.Database): Statements {
  return {
    insertRecord: db.prepare('INSERT INTO records (workflow_id, seq, body, crc) VALUES (?, ?, ?, ?)'),
    deleteRecord: db.prepare('DELETE FROM records WHERE workflow_id = ? AND seq = ?'),
    clearRecords: db.prepare('DELETE FROM records WHERE workflow_id = ?'),
    countRecords: db.prepare('UPDATE workflows SET history_rows = history_rows + ? WHERE id = ?'),
    resetCount: db.prepare('UPDATE workflows SET history_rows = 0 WHERE id = ?'),
    selectRecords: db.prepare('SELECT seq, body, crc FROM records WHERE workflow_id = ? ORDER BY seq'),
    selectCount: db.prepare('SELECT state, history_rows FROM workflows WHERE id = ?'),
    // An upsert, not INSERT OR REPLACE: the row keeps its rowid, which orders entries started at the same time,
    // and its history_rows count (a new entry counts the records already there: none, when started by a manager).
    // type and finished_at: the entry's, for the indexes of migration 8 (the body is never parsed by SQLite).
    // The parameters: EntryValues, then the id again (whose records are counted).
    putWorkflow: db.prepare(
      `INSERT INTO workflows (id, state, started_at, body, type, finished_at, history_rows)
       VALUES (?, ?, ?, ?, ?, ?, (SELECT count(*) FROM records WHERE workflow_id = ?))
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body,
         type = excluded.type, finished_at = excluded.finished_at`,
    ),
    // A new entry only: no change when the id exists (the store then rejects with DuplicateWorkflowError).
    insertWorkflow: db.prepare(
      `INSERT INTO workflows (id, state, started_at, body, type, finished_at, history_rows)
       VALUES (?, ?, ?, ?, ?, ?, (SELECT count(*) FROM records WHERE workflow_id = ?))
       ON CONFLICT (id) DO NOTHING`,
    ),
    // The entry of a finished workflow, whose history is cleared in the same write: its count is 0.
    finishWorkflow: db.prepare(
      `INSERT INTO workflows (id, state, started_at, body, type, finished_at, history_rows)
       VALUES (?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, body = excluded.body,
         type = excluded.type, finished_at = excluded.finished_at, history_rows = 0`,
    ),
    // The same finish when the row is there, as it is once the manager has created it: an UPDATE leaves the
    // index of start times alone (the upsert's SET names started_at, so SQLite rewrites that index entry too) and
    // tries no insert first: about 13,000 fewer instructions per one-step workflow (callgrind). It changes nothing
    // when the row is missing or started at another time: the upsert above then writes it.
    finishRow: db.prepare(
      'UPDATE workflows SET state = ?, body = ?, type = ?, finished_at = ?, history_rows = 0 WHERE id = ? AND started_at = ?',
    ),
    getWorkflow: db.prepare('SELECT body FROM workflows WHERE id = ?'),
    listWorkflows: db.prepare('SELECT body FROM workflows ORDER BY started_at, rowid'),
    listWorkflowsIn: db.prepare('SELECT body FROM workflows WHERE state = ? ORDER BY started_at, rowid'),
    deleteWorkflow: db.prepare('DELETE FROM workflows WHERE id = ?'),
    putAlias: db.prepare('INSERT OR REPLACE INTO aliases (alias, workflow_id) VALUES (?, ?)'),
    deleteAlias: db.prepare('DELETE FROM aliases WHERE alias = ? AND workflow_id = ?'),
    deleteAliasesOf: db.prepare('DELETE FROM aliases WHERE workflow_id = ?'),
    getAlias: db.prepare('SELECT workflow_id FROM aliases WHERE alias = ?'),
    ...prepareInbox(db),
  };
}

/** A row of the `workflows` table, as written. */
export interface EntryRow {
  id: string;
  state: string;
  startedAt: number;
  body: string;
  /** The entry's type (column `type`). */
  type: string;
  /** When it finished (column `finished_at`), null while it runs. */
  finishedAt: number | null;
}

/**
 * The first parameters of the entry statements, in the order of their columns. Positional: better-sqlite3 binds a
 * named parameter by looking its name up in the object passed, about 1,000 instructions each (callgrind: the two
 * entry writes of a one-step workflow bound by name cost 11,700 more, a tenth of its SQL).
 */
type EntryValues = [id: string, state: string, startedAt: number, body: string, type: string, finishedAt: number | null];

/** The three writes of an entry: a save (upsert), a create (a new id only), a finish (its history cleared too). */
export type EntryWrite = 'save' | 'create' | 'finish';

/** The row of `entry`, its JSON made now (what is stored is the entry as it was). Throws what JSON.stringify throws. */
export function entryRow(entry: WorkflowEntry): EntryRow {
  const body = JSON.stringify(entry);
  return { id: entry.id, state: entry.state, startedAt: entry.startedAt, body, type: entry.type, finishedAt: entry.finishedAt ?? null };
}

/** Write an entry's row; a create whose id exists changes nothing and throws DuplicateWorkflowError. */
export function writeEntryRow(statements: Statements, kind: EntryWrite, row: EntryRow): void {
  const { id, state, startedAt, body, type, finishedAt } = row;
  if (kind === 'save') statements.putWorkflow.run(id, state, startedAt, body, type, finishedAt, id);
  else if (kind === 'create') {
    if (statements.insertWorkflow.run(id, state, startedAt, body, type, finishedAt, id).changes === 0) throw new DuplicateWorkflowError(id);
  } else {
    if (statements.finishRow.run(state, body, type, finishedAt, id, startedAt).changes === 0) {
      statements.finishWorkflow.run(id, state, startedAt, body, type, finishedAt);
    }
    statements.clearRecords.run(id);
  }
}

/** The entry of `workflowId` in the database, or undefined. */
export function readEntry(statements: Statements, workflowId: string): WorkflowEntry | undefined {
  const row = statements.getWorkflow.get(workflowId);
  return row === undefined ? undefined : (JSON.parse(row.body) as WorkflowEntry);
}

/** The entries (in `state`, when given), oldest start first. */
export function readEntries(statements: Statements, state: WorkflowState | undefined): WorkflowEntry[] {
  const rows = state === undefined ? statements.listWorkflows.all() : statements.listWorkflowsIn.all(state);
  return rows.map((row) => JSON.parse(row.body) as WorkflowEntry);
}

/**
 * The records of `workflowId`, each checked against its checksum, and their number, for a running workflow,
 * against the count its commits kept: damage is a CorruptHistoryError.
 */
export function readRecords(statements: Statements, workflowId: string, file: string): HistoryRecord[] {
  const rows = statements.selectRecords.all(workflowId);
  const counted = statements.selectCount.get(workflowId);
  return checkedRecords(rows, counted?.state === 'running' ? counted.history_rows : null, workflowId, file);
}

/**
 * The records of `rows` (a history, in order of seq), each checked against its checksum, and their number
 * against `counted`, the count a running workflow's commits kept (null: not counted): damage is a
 * CorruptHistoryError.
 */
export function checkedRecords(rows: readonly RecordRow[], counted: number | null, workflowId: string, file: string): HistoryRecord[] {
  if (counted !== null && counted !== rows.length) {
    throw new CorruptHistoryError(`its history holds ${rows.length} record(s) where its commits left ${counted} (records were deleted)`, { workflowId, file });
  }
  return rows.map((row) => parseRecord(row, workflowId, file));
}

/** Serialize the records a change appends (now: what is stored is the records as they were at the call). */
export function toRows(change: HistoryChange): NewRecordRow[] {
  return change.append.map((record) => {
    const body = JSON.stringify(record);
    return { seq: record.seq, body, crc: crc32(body) };
  });
}

/** Write a change of the history of `workflowId` (its appends serialized by {@link toRows}) and move its count. */
export function writeRecords(statements: Statements, workflowId: string, rows: readonly NewRecordRow[], remove: readonly number[]): void {
  // Appends first, then removals: a change may remove a record it appends.
  for (const { seq, body, crc } of rows) statements.insertRecord.run(workflowId, seq, body, crc);
  let removed = 0;
  for (const seq of remove) removed += statements.deleteRecord.run(workflowId, seq).changes;
  statements.countRecords.run(rows.length - removed, workflowId);
}

/** A row of the `records` table (`crc` is NULL in rows written before checksums). */
export interface RecordRow {
  seq: number;
  body: string;
  crc: number | null;
}

/** A row written now: always checksummed. */
type NewRecordRow = RecordRow & { crc: number };

function parseRecord(row: RecordRow, workflowId: string, file: string): HistoryRecord {
  if (row.crc !== null && crc32(row.body) !== row.crc) {
    throw new CorruptHistoryError(`record ${row.seq} does not match its checksum (its bytes were changed)`, { workflowId, file });
  }
  try {
    return JSON.parse(row.body) as HistoryRecord;
  } catch {
    throw new CorruptHistoryError(`record ${row.seq} is not JSON`, { workflowId, file });
  }
}
