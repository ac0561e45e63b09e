/**
 * The migrations of a SqliteStore's schema: databases of older schemas (made by their own migrations, their rows
 * written as those versions wrote them: sqlite-support.ts) open, migrate, and read as before.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { newStoreOwner } from '../../src/storage/owner.js';
import { SCHEMA_VERSION, SqliteStore, openSqliteStore } from '../../src/storage/sqlite.js';
import type { Json } from '../../src/core/serializer.js';
import type { StoreOwner, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import type { WorkflowCount } from '../../src/storage/workflow-pages.js';
import { inTempDir } from '../helpers.js';
import { record } from './conformance.js';
import { snapshot } from './snapshot.js';
import { insertOldEntries, onDatabase, schemaOf, sqliteAtVersion } from './sqlite-support.js';

const T0 = 1_700_000_000_000;

/** An entry of `type` started at T0 + `startedAt`, finished at T0 + `finishedAt` when given. */
function entry(id: string, type: string, state: WorkflowState, startedAt: number, finishedAt?: number, args: Json[] = [id]): WorkflowEntry {
  return { id, type, args, state, startedAt: T0 + startedAt, deleteOnFinish: false, ...(finishedAt === undefined ? {} : { finishedAt: T0 + finishedAt }) };
}

/** A type holding a NUL character, a lone surrogate and a quote: SQLite stores what JavaScript binds, json_extract the same bytes. */
const ODD_TYPE = 'ty\0pe\ud800 "ü"';

/** Entries of every state, with bodies holding the escapes \u0000 and lone surrogates, and a type of their own with them. */
const OLD_ENTRIES = [
  entry('running', 'order', 'running', 0),
  entry('completed', 'order', 'completed', 10, 1500),
  entry('failed', 'invoice', 'failed', 20, 2500, ['a\0b', '\ud800', { deep: ['\udc00x', '😀'] }]),
  entry('odd', ODD_TYPE, 'cancelled', 30, 500, ['\\u0000', '\\\0']),
  entry('backslash', 'in\\u0000voice', 'running', 40),
];

function sortedCounts(counts: readonly WorkflowCount[]): string[] {
  return counts.map(({ state, type, count }) => `${state}/${JSON.stringify(type)}=${count}`).sort();
}

/** Run `body` with the path of a database in a fresh directory, then remove the directory. */
function withDatabasePath(body: (path: string, directory: string) => Promise<void>): Promise<void> {
  return inTempDir((directory) => body(join(directory, 'quest.sqlite'), directory));
}

describe('sqlite store: migrations', () => {
  test('a database of schema 7 (type and finish time in the JSON only) migrates: the columns are filled from every body, and counts, pages and counts over time answer as before', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 7);
    insertOldEntries(path, OLD_ENTRIES);
    // What schema 7 answered, from its expression indexes.
    const before = onDatabase(path, (db) => db.prepare("SELECT state, json_extract(body, '$.type') AS type, count(*) AS count FROM workflows GROUP BY state, json_extract(body, '$.type')").all() as WorkflowCount[]);
    assert.equal(before.length, 5);
    const store = await openSqliteStore(path);
    try {
      assert.deepEqual(sortedCounts(await store.countWorkflows()), sortedCounts(before));
      assert.deepEqual((await store.pageWorkflows({ limit: 10 })).entries, [...OLD_ENTRIES].reverse());
      assert.deepEqual((await store.pageWorkflows({ type: 'order', limit: 10 })).entries.map((e) => e.id), ['completed', 'running']);
      assert.deepEqual((await store.pageWorkflows({ type: 'in\\u0000voice', state: 'running', limit: 10 })).entries.map((e) => e.id), ['backslash']);
      assert.deepEqual((await store.pageWorkflows({ type: ODD_TYPE, limit: 10 })).entries, [OLD_ENTRIES[3]]);
      assert.deepEqual(await store.countByTime({ origin: T0, bucketMs: 1000, buckets: 3 }), { started: [5, 0, 0], finished: [1, 1, 1] });
      // An entry of the odd type written now (its column bound from JavaScript) joins the migrated one (from json_extract).
      await store.putWorkflow(entry('odd2', ODD_TYPE, 'cancelled', 50, 600));
      assert.deepEqual((await store.pageWorkflows({ type: ODD_TYPE, state: 'cancelled', limit: 10 })).entries.map((e) => e.id), ['odd2', 'odd']);
      assert.equal((await store.countWorkflows()).find((count) => count.state === 'cancelled')?.count, 2);
      assert.deepEqual(await store.countByTime({ origin: T0, bucketMs: 1000, buckets: 3 }), { started: [6, 0, 0], finished: [2, 1, 1] });
    } finally {
      await store.close();
    }
    assert.equal(schemaOf(path), SCHEMA_VERSION);
    onDatabase(path, (db) => {
      const rows = db.prepare('SELECT id, type, finished_at FROM workflows ORDER BY rowid').all() as { id: string; type: string; finished_at: number | null }[];
      assert.deepEqual(rows.slice(0, 5).map((row) => [row.id, row.finished_at]), OLD_ENTRIES.map((e) => [e.id, e.finishedAt ?? null]));
      const [odd, odd2] = db.prepare("SELECT hex(type) AS bytes FROM workflows WHERE id IN ('odd', 'odd2') ORDER BY id").all() as { bytes: string }[];
      assert.equal(odd?.bytes, odd2?.bytes);
      const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ('workflows_by_type', 'workflows_by_finish') ORDER BY name").all();
      assert.deepEqual(indexes, [
        { name: 'workflows_by_finish', sql: 'CREATE INDEX workflows_by_finish ON workflows (finished_at) WHERE finished_at IS NOT NULL' },
        { name: 'workflows_by_type', sql: 'CREATE INDEX workflows_by_type ON workflows (state, type, started_at)' },
      ]);
    });
  }));

  test('a database of schema 7 whose expression indexes were dropped by hand and one body damaged still migrates: that entry gets no type', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 7);
    insertOldEntries(path, OLD_ENTRIES.slice(0, 2));
    onDatabase(path, (db) => {
      db.exec('DROP INDEX workflows_by_type; DROP INDEX workflows_by_finish');
      db.prepare("INSERT INTO workflows (id, state, started_at, body) VALUES ('broken', 'running', ?, '{\"type\": \"ord')").run(T0 + 5);
    });
    const store = await openSqliteStore(path);
    try {
      assert.deepEqual(sortedCounts(await store.countWorkflows()), ['completed/"order"=1', 'running/"order"=1', 'running/null=1']);
      assert.deepEqual(await store.countByTime({ origin: T0, bucketMs: 1000, buckets: 2 }), { started: [3, 0], finished: [0, 1] });
    } finally {
      await store.close();
    }
    assert.equal(schemaOf(path), SCHEMA_VERSION);
  }));

  test('after the migration, every write of an entry writes its type and finish time: a create, a save, a finish', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 7);
    const store = await openSqliteStore(path);
    try {
      await store.insertWorkflow(entry('created', 'order', 'running', 0));
      await store.putWorkflow(entry('saved', 'order', 'running', 1));
      await store.putWorkflow(entry('saved', 'invoice', 'failed', 1, 700));
      await store.putWorkflow(entry('finished', 'order', 'running', 2));
      await store.history('finished').commit({ append: [record(1)], remove: [] });
      await store.finishWorkflow(entry('finished', 'order', 'completed', 2, 1200));
    } finally {
      await store.close();
    }
    const rows = onDatabase(path, (db) => db.prepare('SELECT id, type, finished_at, history_rows FROM workflows ORDER BY rowid').all());
    assert.deepEqual(rows, [
      { id: 'created', type: 'order', finished_at: null, history_rows: 0 },
      { id: 'saved', type: 'invoice', finished_at: T0 + 700, history_rows: 0 },
      { id: 'finished', type: 'order', finished_at: T0 + 1200, history_rows: 0 },
    ]);
  }));

  test('a read-only opening of a database older than schema 8 is refused, saying how to upgrade it, and changes nothing', () => withDatabasePath(async (path, directory) => {
    for (const version of [4, 7]) {
      await rm(path, { force: true });
      sqliteAtVersion(path, version);
      insertOldEntries(path, OLD_ENTRIES.slice(0, 1));
      const before = snapshot(directory);
      await assert.rejects(SqliteStore.openReadOnly(path), (error: unknown) =>
        isQuestError(error, 'STORAGE_FAILURE') && new RegExp(`older Quest \\(schema ${version}\\); open it once with a WorkflowManager`).test(String(error)));
      assert.deepEqual(snapshot(directory), before);
    }
    await (await openSqliteStore(path)).close();
    const store = await SqliteStore.openReadOnly(path);
    try {
      assert.deepEqual(await store.countWorkflows(), [{ state: 'running', type: 'order', count: 1 }]);
    } finally {
      await store.close();
    }
  }));

  test('a database whose owner still runs (a manager of an older Quest) is not migrated under it: StoreOwnedError says to close that manager; once the owner is gone, it migrates', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 7);
    insertOldEntries(path, OLD_ENTRIES.slice(0, 1));
    const setOwner = (owner: StoreOwner): void => {
      onDatabase(path, (db) => db.prepare('INSERT OR REPLACE INTO owner (singleton, owner_id, body) VALUES (1, ?, ?)').run(owner.id, JSON.stringify(owner)));
    };
    // This process runs: as far as the store can tell, a manager that writes the database now.
    setOwner(newStoreOwner());
    await assert.rejects(openSqliteStore(path), (error: unknown) =>
      isQuestError(error, 'STORE_OWNED') && String(error).includes(`upgrade the database's schema (version 7 to ${SCHEMA_VERSION})`) && String(error).includes(`process ${process.pid}`));
    assert.equal(schemaOf(path), 7);
    // On another host, whose processes Quest cannot see: refused, with how to clear the owner by hand.
    setOwner({ ...newStoreOwner(), host: 'elsewhere.invalid' });
    await assert.rejects(openSqliteStore(path), (error: unknown) => isQuestError(error, 'STORE_OWNED') && String(error).includes(`sqlite3 ${path} 'DELETE FROM owner'`));
    assert.equal(schemaOf(path), 7);
    // Its process has exited: the migration goes ahead.
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    setOwner({ id: 'exited', pid: exited, host: hostname(), acquiredAt: T0 });
    await (await openSqliteStore(path)).close();
    assert.equal(schemaOf(path), SCHEMA_VERSION);
  }));

  test('a database of schema 2 (before checksums) opens: old rows are read as before, counts start from what is there', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 2);
    insertOldEntries(path, [entry('w', 'order', 'running', 1), entry('fresh', 'order', 'running', 2)]);
    // Rows inserted without a checksum, as schema 2 wrote them.
    onDatabase(path, (db) => {
      const insert = db.prepare("INSERT INTO records (workflow_id, seq, body) VALUES ('w', ?, ?)");
      for (const seq of [1, 2]) insert.run(seq, JSON.stringify(record(seq)));
    });
    let again = await openSqliteStore(path);
    try {
      assert.deepEqual(await again.history('w').load(), [record(1), record(2)]);
      assert.deepEqual(await again.history('fresh').load(), []);
      await again.history('w').commit({ append: [record(3)], remove: [] });
      assert.deepEqual(await again.history('w').load(), [record(1), record(2), record(3)]);
      assert.deepEqual(await again.countWorkflows(), [{ state: 'running', type: 'order', count: 2 }]);
    } finally {
      await again.close();
    }
    onDatabase(path, (db) => db.prepare("UPDATE records SET body = replace(body, '\"seq\":3,', '\"seq\":5,') WHERE seq = 3").run());
    again = await openSqliteStore(path);
    try {
      await assert.rejects(again.history('w').load(), /record 3 does not match its checksum/);
    } finally {
      await again.close();
    }
  }));

  test('a database of schema 6 (before the index of finish times) opens, and counts its workflows over time', () => withDatabasePath(async (path) => {
    sqliteAtVersion(path, 6);
    insertOldEntries(path, [entry('done', 'order', 'completed', 0, 1500), entry('running', 'order', 'running', 10)]);
    const again = await openSqliteStore(path);
    try {
      assert.deepEqual(await again.countByTime({ origin: T0, bucketMs: 1000, buckets: 2 }), { started: [2, 0], finished: [0, 1] });
      await again.putWorkflow(entry('running', 'order', 'failed', 10, 20));
      assert.deepEqual(await again.countByTime({ origin: T0, bucketMs: 1000, buckets: 2 }), { started: [2, 0], finished: [1, 1] });
    } finally {
      await again.close();
    }
    assert.equal(schemaOf(path), SCHEMA_VERSION);
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'workflows_by_finish'").all(), [{ name: 'workflows_by_finish' }]);
    } finally {
      db.close();
    }
  }));
});
