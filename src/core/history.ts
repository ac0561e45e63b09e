/**
 * The one interface between the engine and storage: the history of one workflow. Backends (memory, files,
 * SQLite, PostgreSQL, ...) implement it in `src/storage/`; the engine never imports a backend.
 */
import type { HistoryRecord } from './records.js';

/** One atomic change to a history: records to append (in order) and records to remove (by `seq`). */
export interface HistoryChange {
  append: readonly HistoryRecord[];
  remove: readonly number[];
}

/**
 * The stored history of one workflow.
 *
 * Contract (checked by the storage conformance suite):
 * - `load()` returns the records in `seq` order, as they were appended and not removed.
 * - `commit()` applies the whole change or nothing. When it resolves, the change is durable for the backend's
 *   durability level (memory: the process; SQLite/PostgreSQL: a crash of the process or machine). Returning
 *   `void` means the change is already applied (used by in-memory backends to skip a promise).
 * - Commits of one history are issued one at a time by the engine; appending costs O(1) in the history size.
 * - `clear()` removes the whole history (the workflow finished or was deleted).
 */
export interface History {
  load(): Promise<readonly HistoryRecord[]>;
  commit(change: HistoryChange): Promise<void> | void;
  clear(): Promise<void> | void;
}
