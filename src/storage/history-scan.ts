/**
 * The histories of every running workflow, read many at a time: what `quest versions`, the server's `versions`
 * call and other whole-store inspections need. A store with {@link HistoryScan} reads a batch of histories in
 * one query (SQLite: ./sqlite-history-scan.ts), without parsing the entries; on another store
 * {@link runningHistories} lists the running entries and loads each history.
 */
import { isQuestError, type QuestError } from '../core/errors.js';
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
 * Optional store capability: the histories of the running workflows by batches (SQLite), each batch one read
 * that sees every write issued before it. A workflow started or finished while a scan goes on may or may not be
 * in it; one running throughout is read once.
 */
export interface HistoryScan {
  scanRunningHistories(query: HistoryScanQuery): Promise<HistoryScanBatch>;
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
