/**
 * The workflow entries of a PostgresStore: the rows of `workflows`, written by the entry statements (sql.ts
 * putWorkflows, leases.ts putWorkflowsTakingOver and createWorkflows), which take the same first columns.
 */
import type pg from 'pg';
import type { WorkflowEntry, WorkflowState } from '../store.js';
import { storageError } from '../storage-error.js';
import type { Statements } from './sql.js';
import type { RowWrite } from './write-groups.js';

/**
 * The type of an entry as the column `type` holds it: PostgreSQL text holds no NUL, so a NUL is stored as U+FFFD
 * (as migration 4 reads it out of the bodies there; a lone surrogate becomes U+FFFD on its way to the server).
 */
export function storedType(type: string): string {
  return type.replaceAll('\0', '\uFFFD');
}

/**
 * The row write of `entry` by the entry statement `sql`: $1 id, $2 state, $3 started_at, $4 body (serialized
 * now: what is stored is the entry as it was at the call), $5 type, $6 finished_at (NULL while it runs), then
 * `more`. StorageError about `what` when the entry cannot be serialized.
 */
export function entryRow(sql: string, entry: WorkflowEntry, what: string, more: readonly unknown[] = []): RowWrite {
  let body: string;
  try {
    body = JSON.stringify(entry);
  } catch (error) {
    throw storageError(what, error);
  }
  return { sql, target: `workflows:${entry.id}`, values: [entry.id, entry.state, entry.startedAt, body, storedType(entry.type), entry.finishedAt ?? null, ...more] };
}

/** The entry of `workflowId`, or undefined. */
export async function selectEntry(pool: pg.Pool, sql: Statements, workflowId: string): Promise<WorkflowEntry | undefined> {
  const { rows } = await pool.query<{ body: string }>(sql.getWorkflow, [workflowId]);
  return rows[0] === undefined ? undefined : (JSON.parse(rows[0].body) as WorkflowEntry);
}

/** Every entry (in `state`, when given), oldest start first. */
export async function selectEntries(pool: pg.Pool, sql: Statements, state: WorkflowState | undefined): Promise<WorkflowEntry[]> {
  const { rows } = state === undefined
    ? await pool.query<{ body: string }>(sql.listWorkflows)
    : await pool.query<{ body: string }>(sql.listWorkflowsIn, [state]);
  return rows.map((row) => JSON.parse(row.body) as WorkflowEntry);
}
