/**
 * The paged workflow list of a SqliteStore ({@link WorkflowPages}): keyset pages on (started_at, rowid), which
 * the indexes workflows_by_start, workflows_by_state and workflows_by_type hold in that order (SQLite appends
 * the rowid to every index), so a page reads its own rows only. A rowid never changes: entries are upserted,
 * never replaced. Also its counts over time ({@link WorkflowTimeline}), read from the indexes of start and finish times.
 */
import type { ListReads, ReadParams } from './sqlite-list-reads.js';
import type { WorkflowEntry, WorkflowState } from './store.js';
import { pageOf, type PageKey, type WorkflowCount, type WorkflowEntryPage, type WorkflowPageQuery } from './workflow-pages.js';
import type { TimeBuckets, TimeCounts } from './workflow-timeline.js';

/** The counts by state and type: read from the index workflows_by_type (state, type, started_at) alone. */
export const COUNT_SQL = 'SELECT state, type, count(*) AS count FROM workflows GROUP BY state, type';

/** A search's condition on one entry `w` (`@search`): its id contains the text, or an alias it holds does. */
const FINDS_ENTRY = '(instr(w.id, @search) > 0 OR w.id IN (SELECT workflow_id FROM aliases WHERE instr(alias, @search) > 0))';

/**
 * Every entry a search finds, as rowids, read from the index of ids (sqlite_autoindex_workflows_1) and the
 * aliases' alone, never an entry: 80–110 ms at a million workflows when it finds few, where checking the entries
 * in page order (which reads each from the table) takes 1.5–1.9 s (docs/performance.md, eleventh round).
 */
const FOUND_ROWIDS = `rowid IN (SELECT rowid FROM workflows AS w WHERE ${FINDS_ENTRY})`;

/**
 * The newest entries a search looks through first, in page order, before it reads the index of ids whole: a
 * search that finds many (the first letters typed) fills its page from them in a millisecond or two.
 */
export const SEARCH_WINDOW = 5_000;

/** The newest SEARCH_WINDOW entries (of `@state`, `@type`, after the cursor as `filters` say), as rowids `k`. */
function windowSql(filters: readonly string[]): string {
  return `SELECT rowid AS k FROM workflows ${filters.length === 0 ? '' : `WHERE ${filters.join(' AND ')} `}ORDER BY started_at DESC, rowid DESC LIMIT ${SEARCH_WINDOW}`;
}

/** How many of the newest SEARCH_WINDOW entries a search finds: a sample of how many it finds in all. */
const SEARCH_SAMPLE_SQL = `SELECT count(*) AS found FROM (${windowSql([])}) AS recent JOIN workflows AS w ON w.rowid = recent.k WHERE ${FINDS_ENTRY}`;

/**
 * The counts by state and type of the workflows a search finds. By their rowids (FOUND_ROWIDS) when it finds few;
 * when it finds most (half of the sample or more), checking every entry costs less than looking each up.
 */
export const SEARCH_COUNT_SQL = {
  few: `SELECT state, type, count(*) AS count FROM workflows WHERE ${FOUND_ROWIDS} GROUP BY state, type`,
  most: `SELECT state, type, count(*) AS count FROM workflows AS w WHERE ${FINDS_ENTRY} GROUP BY state, type`,
};

/** The earliest start: the first key of the index workflows_by_start. */
export const EARLIEST_START_SQL = 'SELECT min(started_at) AS first FROM workflows';

/**
 * The workflows started and finished in each bucket: a count over a range of the index workflows_by_start, and
 * one of workflows_by_finish (the column finished_at, migration 8), per bucket. Counting a range of an index reads
 * its keys only, never an entry: 6 times faster than one GROUP BY over the start times (which sorts every key into
 * its bucket), and 30 times faster than reading every finished entry's finishedAt out of its JSON (at a million
 * workflows).
 */
export const TIME_COUNTS_SQL = `WITH RECURSIVE bucket(n, low, high) AS (
    SELECT 0, @origin, @origin + @bucketMs WHERE @buckets > 0
    UNION ALL SELECT n + 1, high, high + @bucketMs FROM bucket WHERE n + 1 < @buckets
  )
  SELECT (SELECT count(*) FROM workflows WHERE started_at >= low AND started_at < high) AS started,
    (SELECT count(*) FROM workflows WHERE finished_at >= low AND finished_at < high) AS finished
  FROM bucket ORDER BY n`;

/**
 * How a page is read: `all` with no search; with one, first among the newest SEARCH_WINDOW entries (`window`),
 * then, when those do not fill the page, among every entry the search finds (`found`).
 */
export type PageForm = 'all' | 'window' | 'found';

/**
 * A page of the workflows (of one state, of one type, after a cursor, found by a search: `@state`, `@type`,
 * `@startedAt` and `@position`, `@search`), newest start first, `@limit` rows. Of one state (and type): a range
 * of workflows_by_state (workflows_by_type), read in its order, no sort.
 */
export function pageSql(byState: boolean, byType: boolean, after: boolean, form: PageForm = 'all'): string {
  const filters = [
    ...(byState ? ['state = @state'] : []),
    ...(byType ? ['type = @type'] : []),
    ...(after ? ['(started_at, rowid) < (@startedAt, @position)'] : []),
  ];
  if (form === 'window') {
    return `SELECT w.rowid AS position, w.started_at, w.body FROM (${windowSql(filters)}) AS recent JOIN workflows AS w ON w.rowid = recent.k ` +
      `WHERE ${FINDS_ENTRY} ORDER BY w.started_at DESC, w.rowid DESC LIMIT @limit`;
  }
  const where = form === 'found' ? [...filters, FOUND_ROWIDS] : filters;
  return `SELECT rowid AS position, started_at, body FROM workflows ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')} `}` +
    'ORDER BY started_at DESC, rowid DESC LIMIT @limit';
}

interface PageRow {
  position: number;
  started_at: number;
  body: string;
}

/**
 * The list reads of one store, each through its ListReads (./sqlite-list-reads.ts: on the store's connection, or
 * in a worker thread once the database is large), which prepares each statement once.
 */
export class SqlitePages {
  /** The SQL of each page form, by the filters it has. */
  private readonly pageSqls = new Map<string, string>();

  constructor(private readonly reads: ListReads) {}

  /** The page `query` asks for, after `cursor` (decoded by the caller). */
  async page(query: WorkflowPageQuery, cursor: PageKey | undefined): Promise<WorkflowEntryPage> {
    const params: ReadParams = { limit: query.limit + 1 };
    if (query.state !== undefined) params.state = query.state;
    if (query.type !== undefined) params.type = query.type;
    if (query.search !== undefined) params.search = query.search;
    if (cursor !== undefined) Object.assign(params, cursor);
    const read = (form: PageForm): Promise<PageRow[]> => this.reads.all<PageRow>(this.pageSql(query.state !== undefined, query.type !== undefined, cursor !== undefined, form), params);
    let rows = await read(query.search === undefined ? 'all' : 'window');
    if (query.search !== undefined && rows.length <= query.limit) rows = await read('found');
    return pageOf(rows, query.limit, (row) => JSON.parse(row.body) as WorkflowEntry, (row) => ({ startedAt: row.started_at, position: row.position }));
  }

  /** The counts by state and type (of the workflows `search` finds, when given): one GROUP BY. */
  async counts(search: string | undefined): Promise<WorkflowCount[]> {
    let rows: WorkflowCount[];
    if (search === undefined) rows = await this.reads.all<WorkflowCount>(COUNT_SQL, {});
    else {
      const sample = (await this.reads.all<{ found: number }>(SEARCH_SAMPLE_SQL, { search }))[0]?.found ?? 0;
      rows = await this.reads.all<WorkflowCount>(SEARCH_COUNT_SQL[sample * 2 >= SEARCH_WINDOW ? 'most' : 'few'], { search });
    }
    return rows.map(({ state, type, count }) => ({ state: state as WorkflowState, type, count }));
  }

  /** The earliest start, or undefined when there is no workflow. */
  async earliestStart(): Promise<number | undefined> {
    return (await this.reads.all<{ first: number | null }>(EARLIEST_START_SQL, {}))[0]?.first ?? undefined;
  }

  /** The counts over time `query` asks for (checked by the caller): one read. */
  async countByTime(query: TimeBuckets): Promise<TimeCounts> {
    const rows = await this.reads.all<{ started: number; finished: number }>(TIME_COUNTS_SQL, { origin: query.origin, bucketMs: query.bucketMs, buckets: query.buckets });
    return { started: rows.map((row) => row.started), finished: rows.map((row) => row.finished) };
  }

  private pageSql(byState: boolean, byType: boolean, after: boolean, form: PageForm): string {
    const key = `${Number(byState)}${Number(byType)}${Number(after)}${form}`;
    let sql = this.pageSqls.get(key);
    if (sql === undefined) {
      sql = pageSql(byState, byType, after, form);
      this.pageSqls.set(key, sql);
    }
    return sql;
  }
}
