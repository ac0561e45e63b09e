/**
 * The migrations of a SqliteStore's schema: databases of older schemas (made by their own migrations, their rows
 * written as those versions wrote them: sqlite-support.ts) open, migrate, and read as before.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION, openSqliteStore } from '../../src/storage/sqlite.js';
import type { Json } from '../../src/core/serializer.js';
import type { WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import { record } from './conformance.js';
import { insertOldEntries, onDatabase, schemaOf, sqliteAtVersion } from './sqlite-support.js';

const T0 = 1_700_000_000_000;

/** An entry of `type` started at T0 + `startedAt`, finished at T0 + `finishedAt` when given. */
function entry(id: string, type: string, state: WorkflowState, startedAt: number, finishedAt?: number, args: Json[] = [id]): WorkflowEntry {
  return { id, type, args, state, startedAt: T0 + startedAt, deleteOnFinish: false, ...(finishedAt === undefined ? {} : { finishedAt: T0 + finishedAt }) };
}

/** Run `body` with the path of a database in a fresh directory, then remove the directory. */
async function inTempDir(body: (path: string, directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-migrations-'));
  try {
    await body(join(directory, 'quest.sqlite'), directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('sqlite store: migrations', () => {
  test('a database of schema 2 (before checksums) opens: old rows are read as before, counts start from what is there', () => inTempDir(async (path) => {
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

  test('a database of schema 6 (before the index of finish times) opens, and counts its workflows over time', () => inTempDir(async (path) => {
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
