/**
 * SqliteStore's HistoryScan (./history-scan.ts): the histories of a batch of running workflows in one query,
 * in order of start (the index of states and start times, keyed by start time and rowid, so that a batch costs
 * the same wherever it is), each checked for damage as a load checks it (checksums, and the count of records
 * the workflow's commits kept). `quest versions` over a million running workflows of one record each: 11.8 s
 * and 157 MB, where a load each (and the entries parsed to list them) took 20.6 s and 590 MB; the query is 6 s
 * of it, mostly the lookups of the records (kept by workflow id, not by start) and of the rows' ids.
 */
import { isQuestError } from '../core/errors.js';
import { decodeScanCursor, encodeScanCursor, rowsByWorkflow, type HistoryScanBatch, type HistoryScanQuery, type ScannedHistory } from './history-scan.js';
import type { ListReads } from './sqlite-list-reads.js';
import { checkedRecords, type RecordRow } from './sqlite-statements.js';

/** A row of the scan: a running workflow, and one of its records (none: NULLs, for an empty history). */
interface ScanRow {
  id: string;
  counted: number | null;
  started_at: number;
  position: number;
  seq: number | null;
  body: string | null;
  crc: number | null;
}

/** The SQL of a batch: the workflows of the batch first (a LIMIT on records would split a history), then their records. */
function batchSql(after: boolean): string {
  return `
    SELECT w.id, w.history_rows AS counted, w.started_at, w.rowid AS position, r.seq, r.body, r.crc
    FROM (SELECT rowid, id, history_rows, started_at FROM workflows
          WHERE state = 'running' ${after ? 'AND (started_at, rowid) > (@startedAt, @position)' : ''}
          ORDER BY started_at, rowid LIMIT @limit) AS w
    LEFT JOIN records AS r ON r.workflow_id = w.id
    ORDER BY w.started_at, w.rowid, r.seq`;
}

const FIRST_BATCH_SQL = batchSql(false);
const NEXT_BATCH_SQL = batchSql(true);

/**
 * The scan of one store, through its ListReads (./sqlite-list-reads.ts: on the store's connection, or in the worker
 * thread that reads its list once the database is large, so that the query leaves the event loop).
 */
export class SqliteHistoryScan {
  constructor(private readonly reads: ListReads, private readonly file: string) {}

  /** One batch (see HistoryScan.scanRunningHistories); InvalidArgumentError for a cursor not made here. */
  async read(query: HistoryScanQuery): Promise<HistoryScanBatch> {
    const limit = Math.max(1, Math.floor(query.limit));
    let rows: ScanRow[];
    if (query.after === undefined) rows = await this.reads.all<ScanRow>(FIRST_BATCH_SQL, { limit });
    else {
      const [startedAt, position] = decodeScanCursor(query.after);
      rows = await this.reads.all<ScanRow>(NEXT_BATCH_SQL, { startedAt, position, limit });
    }
    const workflows = rowsByWorkflow(rows);
    const histories = workflows.map((workflowRows) => this.checked(workflowRows));
    const last = workflows.at(-1)?.[0];
    if (histories.length < limit || last === undefined) return { histories };
    return { histories, next: encodeScanCursor(last.started_at, last.position) };
  }

  /** One workflow's history from its rows, or the damage a load would find in them. */
  private checked(rows: readonly ScanRow[]): ScannedHistory {
    const workflow = rows[0] as ScanRow;
    const records: RecordRow[] = [];
    for (const row of rows) if (row.seq !== null && row.body !== null) records.push({ seq: row.seq, body: row.body, crc: row.crc });
    try {
      return { workflowId: workflow.id, records: checkedRecords(records, workflow.counted, workflow.id, this.file) };
    } catch (error) {
      if (!isQuestError(error, 'CORRUPT_HISTORY')) throw error;
      return { workflowId: workflow.id, damage: error };
    }
  }
}
