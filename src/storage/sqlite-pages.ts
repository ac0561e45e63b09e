/**
 * The paged workflow list of a SqliteStore ({@link WorkflowPages}): keyset pages on (started_at, rowid), which
 * the indexes workflows_by_start, workflows_by_state and workflows_by_type hold in that order (SQLite appends
 * the rowid to every index), so a page reads its own rows only. A rowid never changes: entries are upserted,
 * never replaced. Also its counts over time ({@link WorkflowTimeline}), read from the indexes of start and finish times.
 */
import type Database from 'better-sqlite3';
import type { WorkflowEntry, WorkflowState } from './store.js';
import { pageOf, type PageKey, type WorkflowCount, type WorkflowEntryPage, type WorkflowPageQuery } from './workflow-pages.js';
import type { TimeBuckets, TimeCounts } from './workflow-timeline.js';

/** The counts by state and type: read from the index workflows_by_type (state, type, started_at) alone. */
export const COUNT_SQL = 'SELECT state, type, count(*) AS count FROM workflows GROUP BY state, type';

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
 * A page of the workflows (of one state, of one type, after a cursor: `@state`, `@type`, `@startedAt` and
 * `@position`), newest start first, `@limit` rows. Of one state (and type): a range of workflows_by_state
 * (workflows_by_type), read in its order, no sort.
 */
export function pageSql(byState: boolean, byType: boolean, after: boolean): string {
  const where = [
    ...(byState ? ['state = @state'] : []),
    ...(byType ? ['type = @type'] : []),
    ...(after ? ['(started_at, rowid) < (@startedAt, @position)'] : []),
  ];
  return `SELECT rowid AS position, started_at, body FROM workflows ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')} `}` +
    'ORDER BY started_at DESC, rowid DESC LIMIT @limit';
}

interface PageRow {
  position: number;
  started_at: number;
  body: string;
}

/** The page statements of one connection, prepared on first use (one per combination of filters). */
export class SqlitePages {
  private readonly statements = new Map<string, Database.Statement<[Record<string, unknown>], PageRow>>();
  private countStatement: Database.Statement<[], WorkflowCount> | undefined;
  private earliestStatement: Database.Statement<[], { first: number | null }> | undefined;
  private timeStatement: Database.Statement<[TimeBuckets], { started: number; finished: number }> | undefined;

  constructor(private readonly db: Database.Database) {}

  /** The page `query` asks for, after `cursor` (decoded by the caller). */
  page(query: WorkflowPageQuery, cursor: PageKey | undefined): WorkflowEntryPage {
    const params: Record<string, unknown> = { limit: query.limit + 1 };
    if (query.state !== undefined) params.state = query.state;
    if (query.type !== undefined) params.type = query.type;
    if (cursor !== undefined) Object.assign(params, cursor);
    const rows = this.statement(query.state !== undefined, query.type !== undefined, cursor !== undefined).all(params);
    return pageOf(rows, query.limit, (row) => JSON.parse(row.body) as WorkflowEntry, (row) => ({ startedAt: row.started_at, position: row.position }));
  }

  /** The counts by state and type: one GROUP BY. */
  counts(): WorkflowCount[] {
    this.countStatement ??= this.db.prepare(COUNT_SQL);
    return this.countStatement.all().map(({ state, type, count }) => ({ state: state as WorkflowState, type, count }));
  }

  /** The earliest start, or undefined when there is no workflow. */
  earliestStart(): number | undefined {
    this.earliestStatement ??= this.db.prepare(EARLIEST_START_SQL);
    return this.earliestStatement.get()?.first ?? undefined;
  }

  /** The counts over time `query` asks for (checked by the caller): one read. */
  countByTime(query: TimeBuckets): TimeCounts {
    this.timeStatement ??= this.db.prepare(TIME_COUNTS_SQL);
    const rows = this.timeStatement.all({ origin: query.origin, bucketMs: query.bucketMs, buckets: query.buckets });
    return { started: rows.map((row) => row.started), finished: rows.map((row) => row.finished) };
  }

  private statement(byState: boolean, byType: boolean, after: boolean): Database.Statement<[Record<string, unknown>], PageRow> {
    const key = `${Number(byState)}${Number(byType)}${Number(after)}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare(pageSql(byState, byType, after));
      this.statements.set(key, statement);
    }
    return statement;
  }
}
