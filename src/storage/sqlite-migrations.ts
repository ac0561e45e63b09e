/**
 * The schema of a SqliteStore's database: its migrations, applied in order at opening, and the version they
 * bring a database to (SQLite's `user_version`).
 */
import type Database from 'better-sqlite3';
import { StorageError } from '../core/errors.js';
import { ownerIsGone, storeOwnedError } from './owner.js';
import { OWNER_TABLE, clearOwnerHint, readOwner } from './sqlite-owner.js';

/**
 * The schema, one migration per version, applied in order; `PRAGMA user_version` says how many ran. Never edit
 * a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE records (
     workflow_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     body TEXT NOT NULL,
     PRIMARY KEY (workflow_id, seq)
   ) WITHOUT ROWID;
   CREATE TABLE workflows (
     id TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     body TEXT NOT NULL
   );
   CREATE INDEX workflows_by_state ON workflows (state, started_at);
   CREATE INDEX workflows_by_start ON workflows (started_at);
   CREATE TABLE aliases (
     alias TEXT PRIMARY KEY,
     workflow_id TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX aliases_by_workflow ON aliases (workflow_id);`,
  // 2: the inbox of outside events (EventInbox). AUTOINCREMENT: an id is never reused, even after removal.
  `CREATE TABLE inbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     workflow_id TEXT NOT NULL,
     posted_at INTEGER NOT NULL,
     body TEXT NOT NULL
   );`,
  // 3: what became of each settled inbox event, for its sender (EventInbox.eventOutcome), kept for a day.
  `CREATE TABLE inbox_outcomes (
     id INTEGER PRIMARY KEY,
     status TEXT NOT NULL,
     code TEXT,
     message TEXT,
     settled_at INTEGER NOT NULL
   );
   CREATE INDEX inbox_outcomes_by_time ON inbox_outcomes (settled_at);`,
  // 4: the owner (StoreOwnership): the one WorkflowManager running the workflows of the database.
  OWNER_TABLE,
  // 5: damage detection. `records.crc`: the CRC-32 of `body` (NULL in rows written before: not checked).
  // `workflows.history_rows`: how many records the history of the workflow holds, kept by every commit, so
  // that records deleted behind Quest's back (the whole history, or some) are seen; NULL: not counted.
  `ALTER TABLE records ADD COLUMN crc INTEGER;
   ALTER TABLE workflows ADD COLUMN history_rows INTEGER;
   UPDATE workflows SET history_rows = (SELECT count(*) FROM records WHERE records.workflow_id = workflows.id);`,
  // 6: the counts of the paged list (WorkflowPages.countWorkflows: GROUP BY state and type) read this index alone
  // instead of parsing every entry (20 ms instead of 320 ms at 100,000 workflows), and a page of one state and
  // type reads its own rows. On a column since migration 8 (the expression made every write parse the body).
  `CREATE INDEX workflows_by_type ON workflows (state, json_extract(body, '$.type'), started_at);`,
  // 7: the counts over time (WorkflowTimeline.countByTime) read the finish times from this index alone instead of
  // parsing every finished entry (45 ms instead of 1.3 s at a million workflows; built in 1.3 s at a million).
  // Partial: running entries have no finish time. On a column since migration 8.
  `CREATE INDEX workflows_by_finish ON workflows (json_extract(body, '$.finishedAt')) WHERE json_extract(body, '$.finishedAt') IS NOT NULL;`,
  // 8: the type and the finish time of each entry in columns (`type`; `finished_at`, NULL while it runs), written
  // by the store with the body, and the indexes of migrations 6 and 7 rebuilt on them under the same names. Those
  // indexed expressions made SQLite parse the entry's JSON at every write (the new body at a create, the old and
  // the new one at a finish): 17,400 instructions of the 117,000 a one-step workflow spent in SQL (callgrind), now
  // none. Filled here from the bodies: json_extract reads \u0000 and a lone surrogate into the same bytes as the
  // store binds for them; json_valid: a body damaged by hand (which those indexes refused, unless dropped) gets
  // NULLs instead of failing the migration. 0.4 s at 100,000 workflows, 4–4.5 s at a million. finished_at is
  // INTEGER, as Date.now() is; a fractional time stays REAL (SQLite converts only exact integers), compared alike.
  `ALTER TABLE workflows ADD COLUMN type TEXT;
   ALTER TABLE workflows ADD COLUMN finished_at INTEGER;
   DROP INDEX IF EXISTS workflows_by_type;
   DROP INDEX IF EXISTS workflows_by_finish;
   UPDATE workflows SET type = json_extract(body, '$.type'), finished_at = json_extract(body, '$.finishedAt') WHERE json_valid(body);
   CREATE INDEX workflows_by_type ON workflows (state, type, started_at);
   CREATE INDEX workflows_by_finish ON workflows (finished_at) WHERE finished_at IS NOT NULL;`,
];
/** The schema version a database has once every migration ran (SQLite's `user_version`). */
export const SCHEMA_VERSION = MIGRATIONS.length;
/**
 * The first schema a read-only opening (which cannot migrate) can read: the statements prepared at opening and
 * the reads of the workflow list name the columns of migration 8 (and, before it, 5's, and the inbox tables of
 * 2 and 3). An older database is refused with a message saying to open it once for writing, which migrates it.
 */
export const READABLE_SCHEMA = 8;

/** Apply the migrations the database has not had yet, each in its own transaction. */
export function migrate(db: Database.Database, path: string): void {
  // Only a database that is behind takes the write lock; opening a current one is read-only.
  while (schemaVersion(db, path) < MIGRATIONS.length) {
    db.transaction(() => applyNextMigration(db, path)).immediate();
  }
}

function schemaVersion(db: Database.Database, path: string): number {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > MIGRATIONS.length) {
    throw new StorageError(`${path} was written by a newer Quest (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade Quest.`);
  }
  return version;
}

/** Apply the next migration. Reads the version inside the transaction: another process may have just migrated. */
function applyNextMigration(db: Database.Database, path: string): void {
  const version = schemaVersion(db, path);
  const migration = MIGRATIONS[version];
  if (migration === undefined) return;
  refuseWhileOwned(db, path, version);
  db.exec(migration);
  db.pragma(`user_version = ${version + 1}`);
}

/** The schema from which a database has the owner table (migration 4). */
const OWNER_SCHEMA = 4;

/**
 * StoreOwnedError when a manager that still runs owns the database: it runs an older Quest (this one would
 * have nothing to migrate otherwise), whose writes do not fill what the migration adds (migration 8's columns:
 * its entries would drop out of the counts by type and over time). Checked inside the migration's IMMEDIATE
 * transaction, so that no manager takes the database over between the check and the migration.
 */
function refuseWhileOwned(db: Database.Database, path: string, version: number): void {
  if (version < OWNER_SCHEMA) return;
  const owner = readOwner(db);
  if (owner === undefined || ownerIsGone(owner)) return;
  const reason = `This Quest must upgrade the database's schema (version ${version} to ${MIGRATIONS.length}), which it does not do while an older Quest writes it: open it again once that manager is closed.`;
  throw storeOwnedError(path, owner, clearOwnerHint(path), reason);
}
