/**
 * In-memory histories: fast, and gone with the process. For tests, benchmarks and workflows that need replay
 * across suspend/resume inside one process but not across restarts.
 */
import type { History, HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';

/** A history kept in this process's memory. Commits apply synchronously. */
export class MemoryHistory implements History {
  // A Map keeps insertion (= seq) order and removes by seq in O(1).
  private readonly records = new Map<number, HistoryRecord>();

  load(): Promise<readonly HistoryRecord[]> {
    return Promise.resolve([...this.records.values()]);
  }

  commit(change: HistoryChange): void {
    for (const seq of change.remove) this.records.delete(seq);
    for (const record of change.append) this.records.set(record.seq, record);
  }

  clear(): void {
    this.records.clear();
  }

  /** Number of records currently kept. */
  get size(): number {
    return this.records.size;
  }

  /** A copy of the records, in order (for inspection and tests). */
  snapshot(): HistoryRecord[] {
    return [...this.records.values()];
  }
}
