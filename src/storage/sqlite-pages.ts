/**
 * The paged workflow list of a SqliteStore ({@link WorkflowPages}): keyset pages on (started_at, rowid), which
 * the indexes workflows_by_start and workflows_by_state hold in that order (SQLite appends the rowid to every
 * index), so a page reads its own rows only. A rowid never changes: entries are upserted, never replaced.
 */
import type Database from 'better-sqlite3';
import type { WorkflowEntry, WorkflowState } from './store.js';
import { pageOf, type PageKey, type WorkflowCount, type WorkflowEntryPage, type WorkflowPageQuery } from './workflow-pages.js';

/** The type of an entry, as the index workflows_by_type holds it (the same expression, or the index is not used). */
const TYPE = "json_extract(body, '$.type')";

/** The counts by state and type: read from the index workflows_by_type alone (migration 6). */
export const COUNT_SQL = `SELECT state, ${TYPE} AS type, count(*) AS count FROM workflows GROUP BY state, ${TYPE}`;

interface PageRow {
  position: number;
  started_at: number;
  body: string;
}

/** The page statements of one connection, prepared on first use (one per combination of filters). */
export class SqlitePages {
  private readonly statements = new Map<string, Database.Statement<[Record<string, unknown>], PageRow>>();
  private countStatement: Database.Statement<[], WorkflowCount> | undefined;

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

  private statement(byState: boolean, byType: boolean, after: boolean): Database.Statement<[Record<string, unknown>], PageRow> {
    const key = `${Number(byState)}${Number(byType)}${Number(after)}`;
    let statement = this.statements.get(key);
    if (statement === undefined) {
      const where = [
        ...(byState ? ['state = @state'] : []),
        ...(byType ? [`${TYPE} = @type`] : []),
        ...(after ? ['(started_at, rowid) < (@startedAt, @position)'] : []),
      ];
      statement = this.db.prepare(
        `SELECT rowid AS position, started_at, body FROM workflows ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ` +
          'ORDER BY started_at DESC, rowid DESC LIMIT @limit',
      );
      this.statements.set(key, statement);
    }
    return statement;
  }
}
