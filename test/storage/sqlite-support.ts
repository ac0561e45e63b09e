/**
 * Helpers of the SqliteStore tests: a store in a fresh directory, and SQLite databases as older versions of Quest
 * left them, for the tests of migrations: the schema of a version is made by its own migrations (never by undoing
 * later ones), and its rows written as that version wrote them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/storage/sqlite-migrations.js';
import { SqliteStore, type SqliteStoreOptions } from '../../src/storage/sqlite.js';
import type { WorkflowEntry } from '../../src/storage/store.js';

/** Run `body` with a store in a fresh directory, then close it and remove the directory. */
export async function withStore(body: (store: SqliteStore, path: string) => Promise<void>, options?: SqliteStoreOptions): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-'));
  const path = join(directory, 'quest.sqlite');
  const store = new SqliteStore(path, options);
  try {
    await body(store, path);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/** Create the database at `path` with the schema of `version` (its first `version` migrations), in WAL mode as a store leaves it. */
export function sqliteAtVersion(path: string, version: number): void {
  onDatabase(path, (db) => {
    db.pragma('journal_mode = WAL');
    for (const migration of MIGRATIONS.slice(0, version)) db.exec(migration);
    db.pragma(`user_version = ${version}`);
  });
}

/** Run `body` on the database at `path`, open for writing, then close it. */
export function onDatabase<T>(path: string, body: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return body(db);
  } finally {
    db.close();
  }
}

/**
 * Write `entries` into the database at `path` as every schema up to 7 wrote them: the body holds the type and the
 * finish time, no column does; history_rows (schema 5 on) left NULL, "not counted".
 */
export function insertOldEntries(path: string, entries: readonly WorkflowEntry[]): void {
  onDatabase(path, (db) => {
    const insert = db.prepare('INSERT INTO workflows (id, state, started_at, body) VALUES (?, ?, ?, ?)');
    for (const entry of entries) insert.run(entry.id, entry.state, entry.startedAt, JSON.stringify(entry));
  });
}

/** The schema version of the database at `path` (SQLite's user_version). */
export function schemaOf(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
}
