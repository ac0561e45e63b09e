/**
 * The workflow entries a SqliteStore has queued for its next group commit, so that `getWorkflow` sees them
 * without forcing that commit.
 *
 * Why: a read must see every write issued before it, and reads used to get that by committing the queue first.
 * A manager reads the entry of every workflow it starts (is the id taken?), so with many starts at once every
 * start cut the group commit short: a transaction, and an fsync, per start. The store is the one writer of its
 * entries, so the entry a read must see is the last one queued for the id, if any; otherwise the database has it.
 */

/**
 * The last write queued for one entry: its JSON, or `undefined` for a deletion; `null` when what it leaves is
 * not known before it is committed (an insert, which changes nothing when the id exists).
 */
export interface QueuedEntry {
  readonly body: string | undefined | null;
}

/**
 * @example
 * const queued = pending.queued('w1', JSON.stringify(entry)); // with the write
 * pending.settled('w1', queued);                            // once the write is committed or has failed
 * pending.latest('w1')?.body;                               // what a read sees meanwhile
 */
export class PendingEntries {
  private readonly entries = new Map<string, QueuedEntry>();

  /** A write of entry `id` was queued (see QueuedEntry.body); pass the result to settled(). */
  queued(id: string, body: string | undefined | null): QueuedEntry {
    const queued = { body };
    this.entries.set(id, queued);
    return queued;
  }

  /** The write `queued` of entry `id` was committed or failed: from now on the database says what it is. */
  settled(id: string, queued: QueuedEntry): void {
    if (this.entries.get(id) === queued) this.entries.delete(id);
  }

  /** The last write of entry `id` still queued, if any. */
  latest(id: string): QueuedEntry | undefined {
    return this.entries.get(id);
  }
}
