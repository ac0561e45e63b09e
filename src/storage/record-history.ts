/**
 * The History of one workflow in a store that keeps records as rows (SqliteStore, PostgresStore): a thin handle
 * that passes load, commit and clear to its store, which group-commits them with its other writes.
 */
import type { History, HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';

/** What a {@link RecordHistory} needs of its store (SqliteStore and PostgresStore implement it). */
export interface RecordStore {
  /** @internal Rows of `workflowId` in seq order, after every write queued before the call. */
  loadRecords(workflowId: string): Promise<readonly HistoryRecord[]>;
  /** @internal Queue a commit for the next group transaction. */
  commitRecords(workflowId: string, change: HistoryChange): Promise<void>;
  /** @internal Queue the removal of every row of `workflowId`. */
  clearRecords(workflowId: string): Promise<void>;
}

/** The history of one workflow in a {@link RecordStore}: every call goes to the store. */
export class RecordHistory implements History {
  /** @internal Created by the store's `history(id)`. */
  constructor(
    private readonly store: RecordStore,
    /** The workflow this history belongs to. */
    readonly workflowId: string,
  ) {}

  load(): Promise<readonly HistoryRecord[]> {
    return this.store.loadRecords(this.workflowId);
  }

  commit(change: HistoryChange): Promise<void> {
    return this.store.commitRecords(this.workflowId, change);
  }

  clear(): Promise<void> {
    return this.store.clearRecords(this.workflowId);
  }
}
