/**
 * The paged workflow list of a PostgresStore ({@link WorkflowPages}): keyset pages on (started_at, position),
 * the order of the indexes workflows_by_start, workflows_by_state and workflows_by_type, so a page reads its own
 * rows only. `position` never changes: an upsert keeps it. The counts read the index workflows_by_type alone.
 * Also its counts over time ({@link WorkflowTimeline}), read from the indexes of start and finish times.
 */
import type pg from 'pg';
import type { WorkflowEntry, WorkflowState } from '../store.js';
import { pageOf, type PageKey, type WorkflowCount, type WorkflowEntryPage, type WorkflowPageQuery } from '../workflow-pages.js';
import { storedType } from './entries.js';
import type { TimeBuckets, TimeCounts } from '../workflow-timeline.js';
import { quoteIdentifier } from './migrations.js';

/** The statement of the page `query` asks for, after `cursor` (decoded by the caller), from the workflows of `schema`. */
export function pageQuery(schema: string, query: WorkflowPageQuery, cursor: PageKey | undefined): pg.QueryConfig<unknown[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown): string => `$${values.push(value)}`;
  if (query.state !== undefined) where.push(`state = ${param(query.state)}`);
  if (query.type !== undefined) where.push(`type = ${param(storedType(query.type))}`);
  if (cursor !== undefined) where.push(`(started_at, position) < (${param(cursor.startedAt)}::bigint, ${param(cursor.position)}::bigint)`);
  // PostgreSQL's text holds no NUL, so no id or alias contains one (and it may not be sent as a parameter).
  if (query.search !== undefined) where.push(query.search.includes('\0') ? 'false' : searchCondition(schema, param(query.search)));
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
 * A page's or a count's `search` (the parameter `search`): the id contains it, or an alias held does. Checked
 * row by row in the order of the index the query walks (no entry's JSON is parsed).
 */
function searchCondition(schema: string, search: string): string {
  return `(strpos(id, ${search}) > 0 OR id IN (SELECT workflow_id FROM ${quoteIdentifier(schema)}.aliases WHERE strpos(alias, ${search}) > 0))`;
}

/**
 * The counts by state and type of the workflows of `schema`: one GROUP BY, in the order of the index
 * workflows_by_type (type, state, ...), which holds every column it reads (an index-only scan). With `search`,
 * of the workflows it finds ($1).
 */
export function countQuery(schema: string, search = false): string {
  const where = search ? ` WHERE ${searchCondition(schema, '$1')}` : '';
  return `SELECT state, type, count(*)::text AS count FROM ${quoteIdentifier(schema)}.workflows${where} GROUP BY type, state`;
}

/** The counts by state and type of the workflows of `schema` (that `search` finds, when given). */
export async function selectCounts(pool: pg.Pool, schema: string, search?: string): Promise<WorkflowCount[]> {
  if (search?.includes('\0') === true) return []; // as in pageQuery
  const { rows } = await pool.query<{ state: string; type: string; count: string }>(countQuery(schema, search !== undefined), search === undefined ? [] : [search]);
  return rows.map(({ state, type, count }) => ({ state: state as WorkflowState, type, count: Number(count) }));
}

/** The earliest start of the workflows of `schema` (the first key of workflows_by_start), or undefined when there are none. */
export async function selectEarliestStart(pool: pg.Pool, schema: string): Promise<number | undefined> {
  const { rows } = await pool.query<{ first: string | null }>(`SELECT min(started_at)::text AS first FROM ${quoteIdentifier(schema)}.workflows`);
  const first = rows[0]?.first;
  return first === null || first === undefined ? undefined : Number(first);
}

/**
 * The workflows of `schema` started and finished in each bucket ($1 origin, $2 bucketMs, $3 buckets): a count over
 * a range of workflows_by_start, and one of workflows_by_finish (the column finished_at, migration 4), per bucket, in
 * one query. Counting ranges of the finish index parses no entry's JSON (6 s at a million: the stats call now takes 0.3–0.4 s).
 */
export function timeCountsSql(schema: string): string {
  const workflows = `${quoteIdentifier(schema)}.workflows`;
  return `SELECT (SELECT count(*) FROM ${workflows} WHERE started_at >= low AND started_at < high)::text AS started,
      (SELECT count(*) FROM ${workflows} WHERE finished_at >= low AND finished_at < high)::text AS finished
    FROM (SELECT n, $1::bigint + n * $2::bigint AS low, $1::bigint + (n + 1) * $2::bigint AS high FROM generate_series(0, $3::int - 1) AS n) AS bucket
    ORDER BY n`;
}

/** The counts over time `query` asks for (checked by the caller), of the workflows of `schema` ({@link timeCountsSql}). */
export async function selectTimeCounts(pool: pg.Pool, schema: string, query: TimeBuckets): Promise<TimeCounts> {
  const { rows } = await pool.query<{ started: string; finished: string }>(timeCountsSql(schema), [query.origin, query.bucketMs, query.buckets]);
  return { started: rows.map((row) => Number(row.started)), finished: rows.map((row) => Number(row.finished)) };
}
