/**
 * The paged workflow list of a PostgresStore ({@link WorkflowPages}): keyset pages on (started_at, position),
 * the order of the indexes workflows_by_start, workflows_by_state and workflows_by_type, so a page reads its own
 * rows only. `position` never changes: an upsert keeps it. The counts read the index workflows_by_type alone.
 */
import type pg from 'pg';
import type { WorkflowEntry, WorkflowState } from '../store.js';
import { pageOf, type PageKey, type WorkflowCount, type WorkflowEntryPage, type WorkflowPageQuery } from '../workflow-pages.js';
import { storedType } from './entries.js';
import { quoteIdentifier } from './migrations.js';

/** The statement of the page `query` asks for, after `cursor` (decoded by the caller), from the workflows of `schema`. */
export function pageQuery(schema: string, query: WorkflowPageQuery, cursor: PageKey | undefined): pg.QueryConfig<unknown[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => `$${values.push(value)}`;
  if (query.state !== undefined) where.push(`state = ${param(query.state)}`);
  if (query.type !== undefined) where.push(`type = ${param(storedType(query.type))}`);
  if (cursor !== undefined) where.push(`(started_at, position) < (${param(cursor.startedAt)}::bigint, ${param(cursor.position)}::bigint)`);
  // Text aliases that are not the columns' names: ORDER BY a text alias would sort "10" before "9" (and read every row).
  const text =
    `SELECT position::text AS at_position, started_at::text AS started, body FROM ${quoteIdentifier(schema)}.workflows ` +
    `${where.length === 0 ? '' : `WHERE ${where.join(' AND ')} `}ORDER BY started_at DESC, position DESC LIMIT ${param(query.limit + 1)}`;
  return { text, values };
}

/** The page `query` asks for, after `cursor` (decoded by the caller), from the workflows of `schema`. */
export async function selectPage(pool: pg.Pool, schema: string, query: WorkflowPageQuery, cursor: PageKey | undefined): Promise<WorkflowEntryPage> {
  const { rows } = await pool.query<{ at_position: string; started: string; body: string }>(pageQuery(schema, query, cursor));
  return pageOf(rows, query.limit, (row) => JSON.parse(row.body) as WorkflowEntry, (row) => ({ startedAt: Number(row.started), position: Number(row.at_position) }));
}

/**
 * The counts by state and type of the workflows of `schema`: one GROUP BY, in the order of the index
 * workflows_by_type (type, state, ...), which holds every column it reads (an index-only scan).
 */
export function countQuery(schema: string): string {
  return `SELECT state, type, count(*)::text AS count FROM ${quoteIdentifier(schema)}.workflows GROUP BY type, state`;
}

/** The counts by state and type of the workflows of `schema`. */
export async function selectCounts(pool: pg.Pool, schema: string): Promise<WorkflowCount[]> {
  const { rows } = await pool.query<{ state: string; type: string; count: string }>(countQuery(schema));
  return rows.map(({ state, type, count }) => ({ state: state as WorkflowState, type, count: Number(count) }));
}
