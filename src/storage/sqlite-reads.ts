/**
 * The reads a SqliteStore gets many of at once (an entry by id, a history) share one read transaction per
 * event-loop turn, as its writes share one write transaction (./sqlite-writes.ts).
 *
 * Why: a statement run outside a transaction opens and closes a read transaction of its own, which in WAL mode
 * takes and drops a lock on the shared-memory index (system calls). A point read of an entry costs 8–9 µs alone
 * against 2.3–2.5 µs among others in one transaction (80,000 reads of a 100,000-workflow database, JSON parsing
 * included); 100,000 one-step workflows whose results are asked for once they have finished spent 11 % of their
 * time reading entries one at a time.
 *
 * The reads stay synchronous: the first one of a turn begins the transaction, which ends at the end of the turn
 * (setImmediate), or before the store's connection writes or closes (`end()`, which the group commit calls before
 * each write transaction: the store's own writes are never read from an older snapshot). Writes of other
 * processes made during the turn are seen from the next one.
 */
import type Database from 'better-sqlite3';

/**
 * @example
 * const snapshot = new TurnSnapshot(db);
 * snapshot.enter();
 * const row = statement.get('w1');
 * snapshot.end(); // before writing
 */
export class TurnSnapshot {
  private open = false;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;

  /** `onBegin`: called when a turn's read transaction begins (the store counts them). */
  constructor(
    private readonly db: Database.Database,
    private readonly onBegin: () => void = () => undefined,
  ) {
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
  }

  /** Be in this turn's read transaction, begun now if this is the first read of the turn: read right after. */
  enter(): void {
    if (this.open || this.db.inTransaction) return;
    this.begin.run();
    this.open = true;
    this.onBegin();
    setImmediate(() => this.end());
  }

  /** End this turn's read transaction, if one is open: before the connection writes or closes. */
  end(): void {
    if (!this.open) return;
    this.open = false;
    if (this.db.open && this.db.inTransaction) this.commit.run();
  }
}
