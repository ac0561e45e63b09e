/**
 * The owner of a SQLite database (StoreOwnership): one row in table `owner`, read and written in one IMMEDIATE
 * transaction. IMMEDIATE takes SQLite's write lock before reading, so of several processes taking over a dead
 * owner at once, the first sees it dead and writes itself; the others then read the new, live owner.
 */
import type Database from 'better-sqlite3';
import { StorageError } from '../core/errors.js';
import { isStoreOwner, ownerIsGone, storeOwnedError } from './owner.js';
import { attempt } from './storage-error.js';
import type { StoreOwner } from './store.js';

/** The migration that adds the table (appended to SqliteStore's MIGRATIONS). */
export const OWNER_TABLE = `CREATE TABLE owner (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     owner_id TEXT NOT NULL,
     body TEXT NOT NULL
   );`;

/** Become the owner of the database in `db` (see StoreOwnership.acquireOwnership). */
export function acquireOwner(db: Database.Database, owner: StoreOwner, path: string): void {
  db.transaction(() => {
    const current = readOwner(db);
    if (current !== undefined && current.id !== owner.id && !ownerIsGone(current)) {
      throw storeOwnedError(path, current, clearOwnerHint(path));
    }
    db.prepare('INSERT OR REPLACE INTO owner (singleton, owner_id, body) VALUES (1, ?, ?)').run(owner.id, JSON.stringify(owner));
  }).immediate();
}

/** What to run to clear the owner of the database at `path` by hand (when it runs on another host and is gone). */
export function clearOwnerHint(path: string): string {
  return `run: sqlite3 ${path} 'DELETE FROM owner'`;
}

/** Remove the owner row if it is still `ownerId`'s (another process may have taken a store it thought dead). */
export function releaseOwner(db: Database.Database, ownerId: string): void {
  db.prepare('DELETE FROM owner WHERE owner_id = ?').run(ownerId);
}

/** The owner row, or undefined. */
export function readOwner(db: Database.Database): StoreOwner | undefined {
  const row = db.prepare<[], { body: string }>('SELECT body FROM owner WHERE singleton = 1').get();
  if (row === undefined) return undefined;
  let owner: unknown;
  try {
    owner = JSON.parse(row.body);
  } catch {
    owner = undefined;
  }
  // A damaged row names nobody: treat it as no owner rather than locking everyone out for good.
  return isStoreOwner(owner) ? owner : undefined;
}

/** Whether the database has the owner table (a read-only opening may find a schema from before it). */
export function hasOwnerTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'owner'").get() !== undefined;
}

/**
 * The ownership one SqliteStore holds through its connection: the owner id it took, if any, and whether it gave
 * it up, after which its writes would race the next owner's and are refused.
 *
 * @example
 * const held = new HeldOwnership(db, path);
 * await held.acquire(owner);
 * await held.release();
 * held.refusal('save workflow "w"'); // a StorageError: the next owner writes now
 */
export class HeldOwnership {
  private ownerId: string | undefined;
  private released = false;

  /** `durable` resolves once what was committed until it is called is on disk (see ./sqlite-wal-sync.ts). */
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly durable: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /** Whether this connection owns the database. */
  get held(): boolean {
    return this.ownerId !== undefined;
  }

  /** Become the owner (see acquireOwner); writes are accepted again. Resolves once that is on disk. */
  acquire(owner: StoreOwner): Promise<void> {
    return attempt(`take ownership of ${this.path}`, () => {
      acquireOwner(this.db, owner, this.path);
      this.ownerId = owner.id;
      this.released = false;
    }).then(this.durable);
  }

  /** Give the ownership up, if held: from now on writes are refused (see refusal()). Resolves once that is on disk. */
  release(): Promise<void> {
    const ownerId = this.ownerId;
    if (ownerId === undefined) return Promise.resolve();
    return attempt(`release ownership of ${this.path}`, () => {
      releaseOwner(this.db, ownerId);
      this.ownerId = undefined;
      this.released = true;
    }).then(this.durable);
  }

  /** Why a write must be refused (ownership given up), or undefined. */
  refusal(what: string): StorageError | undefined {
    if (!this.released) return undefined;
    return new StorageError(`Could not ${what}: this SqliteStore released its ownership of ${this.path}; the next owner writes now.`);
  }
}
