/**
 * The histories of every running workflow, read many at a time: what `quest versions`, the server's `versions`
 * call and other whole-store inspections need. A store with {@link HistoryScan} reads a batch of histories in
 * one query (./sqlite-history-scan.ts, ./postgres/history-scan.ts), without parsing the entries; on another
 * store {@link runningHistories} lists the running entries and loads each history.
 */
import { InvalidArgumentError, isQuestError, type QuestError } from '../core/errors.js';
import type { HistoryRecord } from '../core/records.js';
import { hasMethods, type Store } from './store.js';

/**
 * One running workflow's history as a scan read it: its records (as `history(id).load()` returns them), or the
 * damage that keeps them from being read (CorruptHistoryError, checked as a load checks it).
 */
export type ScannedHistory = { workflowId: string; records: readonly HistoryRecord[] } | { workflowId: string; damage: QuestError };

/** Which batch of a scan to read. */
export interface HistoryScanQuery {
  /** The `next` of the batch before (from the same store): this batch starts after it. */
  after?: string;
  /** At most this many workflows (a workflow's records are never split between batches). */
  limit: number;
}

/** A batch of a scan. */
export interface HistoryScanBatch {
  histories: ScannedHistory[];
  /** What to pass as `after` for the next batch; absent at the end. */
  next?: string;
}

/**
 * Optional store capability: the histories of the running workflows by batches (SQLite, PostgreSQL), each batch
 * one read that sees every write issued before it. A workflow started or finished while a scan goes on may or
 * may not be in it; one running throughout is read once.
 */
export interface HistoryScan {
  scanRunningHistories(query: HistoryScanQuery): Promise<HistoryScanBatch>;
}

/** The cursor of a scan's batch whose last workflow started at `startedAt` and sits at `position` (SQLite's rowid, PostgreSQL's position). */
export function encodeScanCursor(startedAt: number, position: number): string {
  return `${startedAt}:${position}`;
}

/** The start time and position of a scan cursor; InvalidArgumentError for a cursor not made by {@link encodeScanCursor}. */
export function decodeScanCursor(cursor: string): [startedAt: number, position: number] {
  const match = /^(-?\d+(?:\.\d+)?):(\d+)$/.exec(cursor);
  if (match === null) throw new InvalidArgumentError(`${JSON.stringify(cursor)} is not a cursor of this store's history scan: pass the \`next\` of the batch before.`);
  return [Number(match[1]), Number(match[2])];
}

/**
 * The rows of a batch's query, a workflow's rows together (its records in order of seq; one row without a record
 * for an empty history), as the rows of each workflow, in order.
 */
export function rowsByWorkflow<R extends { id: string }>(rows: readonly R[]): R[][] {
  const groups: R[][] = [];
  for (const row of rows) {
    const group = groups.at(-1);
    if (group?.[0]?.id === row.id) group.push(row);
    else groups.push([row]);
  }
  return groups;
}

/** True when `store` reads the running histories by batches ({@link HistoryScan}). */
export function hasHistoryScan<S extends Store>(store: S): store is S & HistoryScan {
  return hasMethods<HistoryScan>(store, ['scanRunningHistories']);
}

/** How many workflows a batch of {@link runningHistories} holds: a few milliseconds of reading. */
const SCAN_BATCH = 1000;

/**
 * Every running workflow's history: by the store's {@link HistoryScan} when it has one, else by listing the
 * running entries and loading each history. A damaged history (CorruptHistoryError) comes as its `damage`; any
 * other failure rejects.
 *
 * @example
 * for await (const scanned of runningHistories(store)) if ('damage' in scanned) console.log(scanned.workflowId);
 */
export async function* runningHistories(store: Pick<Store, 'listWorkflows' | 'history'>): AsyncGenerator<ScannedHistory> {
  if (hasHistoryScan(store as Store)) {
    const scan = store as unknown as HistoryScan;
    let after: string | undefined;
    do {
      const batch = await scan.scanRunningHistories(after === undefined ? { limit: SCAN_BATCH } : { after, limit: SCAN_BATCH });
      yield* batch.histories;
      after = batch.next;
    } while (after !== undefined);
    return;
  }
  for (const entry of await store.listWorkflows('running')) yield await loaded(store, entry.id);
}

/** The history of `workflowId`, or the damage its load found. */
async function loaded(store: Pick<Store, 'history'>, workflowId: string): Promise<ScannedHistory> {
  try {
    return { workflowId, records: await store.history(workflowId).load() };
  } catch (error) {
    if (!isQuestError(error, 'CORRUPT_HISTORY')) throw error;
    return { workflowId, damage: error };
  }
}
