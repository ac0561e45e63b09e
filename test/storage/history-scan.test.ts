/**
 * The histories of every running workflow (runningHistories): SQLite and PostgreSQL read them by batches in one
 * query each (HistoryScan), other stores a load each, and every store gives each running workflow once with what
 * its load gives, finished ones left out. The batches page by start time (ties included), see the writes queued
 * before them, name a damaged history (changed bytes, a deleted record) without failing the others, and refuse a
 * cursor they did not make. Real SQLite files, a real FileStore directory, a real PostgreSQL server (a schema per
 * test).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { FileStore } from '../../src/storage/files.js';
import { hasHistoryScan, runningHistories, type HistoryScan, type ScannedHistory } from '../../src/storage/history-scan.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import { entry, record } from './conformance.js';
import { inTempDir } from '../helpers.js';
import { adminPool, describePostgres, withPostgresStore } from './postgres-support.js';

/**
 * Running r0..r5 (r1 and r2 started in the same millisecond; r3 with an empty history; r4 with three records of
 * which one was removed), and finished f0, f1 between them.
 */
async function seed(store: Store): Promise<void> {
  const starts: Array<[string, number, 'running' | 'completed']> = [
    ['r0', 100, 'running'], ['f0', 150, 'completed'], ['r1', 200, 'running'], ['r2', 200, 'running'],
    ['r3', 300, 'running'], ['f1', 350, 'completed'], ['r4', 400, 'running'], ['r5', 500, 'running'],
  ];
  for (const [id, startedAt, state] of starts) await store.putWorkflow({ ...entry(id, startedAt, state), ...(state === 'running' ? {} : { finishedAt: startedAt + 1 }) });
  for (const id of ['r0', 'r1', 'r2', 'r5']) await store.history(id).commit({ append: [record(1, id), record(2, id)], remove: [] });
  await store.history('r4').commit({ append: [record(1), record(2), record(3)], remove: [2] });
}

/** Every scanned history as [id, seqs] or [id, the damage's code]. */
async function scanned(store: Store): Promise<Array<[string, number[] | string]>> {
  const found: Array<[string, number[] | string]> = [];
  for await (const history of runningHistories(store)) found.push(summary(history));
  return found;
}

function summary(history: ScannedHistory): [string, number[] | string] {
  return 'damage' in history ? [history.workflowId, history.damage.code] : [history.workflowId, history.records.map((r) => r.seq)];
}

const EXPECTED: Array<[string, number[]]> = [['r0', [1, 2]], ['r1', [1, 2]], ['r2', [1, 2]], ['r3', []], ['r4', [1, 3]], ['r5', [1, 2]]];

/** Changes the bytes of r1's second record and deletes r5's first (`:SCHEMA.` before each table, for PostgreSQL). */
const DAMAGE = [
  "UPDATE :SCHEMA.records SET body = body || ' ' WHERE workflow_id = 'r1' AND seq = 2",
  "DELETE FROM :SCHEMA.records WHERE workflow_id = 'r5' AND seq = 1",
];

/** Delete the seeded workflows (a store of a fresh schema or file has nothing else). */
async function clearSeed(store: Store): Promise<void> {
  for (const workflow of await store.listWorkflows()) await store.deleteWorkflow(workflow.id);
}

/** Batches of two on a seeded store, a write queued before a batch, and a cursor the store did not make. */
async function checkBatches(store: Store & HistoryScan): Promise<void> {
  await seed(store);
  const batches: string[][] = [];
  let after: string | undefined;
  do {
    const batch = await store.scanRunningHistories(after === undefined ? { limit: 2 } : { after, limit: 2 });
    batches.push(batch.histories.map((history) => history.workflowId));
    after = batch.next;
  } while (after !== undefined);
  assert.deepEqual(batches, [['r0', 'r1'], ['r2', 'r3'], ['r4', 'r5'], []]);
  // Queued, not awaited: the scan sees them.
  const written = Promise.all([store.putWorkflow(entry('r6', 600)), store.history('r6').commit({ append: [record(1)], remove: [] })]);
  const last = await store.scanRunningHistories({ limit: 10 });
  assert.deepEqual(last.histories.map(summary).at(-1), ['r6', [1]]);
  assert.equal(last.next, undefined);
  await written;
  await assert.rejects(store.scanRunningHistories({ after: 'not-a-cursor', limit: 2 }), (error: unknown) => isQuestError(error, 'INVALID_ARGUMENT'));
}

/** The seeded store after DAMAGE: r1 and r5 damaged, as their loads say, the others read. */
async function checkDamaged(store: Store): Promise<void> {
  assert.deepEqual(await scanned(store), [['r0', [1, 2]], ['r1', 'CORRUPT_HISTORY'], ['r2', [1, 2]], ['r3', []], ['r4', [1, 3]], ['r5', 'CORRUPT_HISTORY']]);
  for await (const history of runningHistories(store)) {
    if ('damage' in history) await assert.rejects(store.history(history.workflowId).load(), { message: history.damage.message });
  }
}

describe('the histories of the running workflows', () => {
  test('every running workflow once, with what its load gives, finished ones left out: SQLite by its scan, memory and files a load each', () =>
    inTempDir(async (directory) => {
      const stores: Store[] = [await SqliteStore.open(join(directory, 'quest.sqlite')), new MemoryStore(), await FileStore.open(join(directory, 'files'))];
      try {
        assert.deepEqual(stores.map((store) => hasHistoryScan(store)), [true, false, false]);
        for (const store of stores) {
          await seed(store);
          const found = await scanned(store);
          // The order is the store's (SQLite: by start); the histories are the same everywhere.
          assert.deepEqual([...found].sort(([a], [b]) => (a < b ? -1 : 1)), EXPECTED, store.constructor.name);
          for await (const history of runningHistories(store)) {
            if ('records' in history) assert.deepEqual(history.records, await store.history(history.workflowId).load());
          }
        }
      } finally {
        for (const store of stores) await store.close();
      }
    }));

  // On the store's connection, and in the worker that reads the list of a large database (listReads).
  for (const listReads of ['inline', 'worker'] as const) {
    test(`SQLite (list read ${listReads}) pages by start time in batches that never skip or repeat a workflow, ties included, and sees the writes queued before it`, () =>
      inTempDir(async (directory) => {
        const store = await SqliteStore.open(join(directory, 'quest.sqlite'), { listReads });
        try {
          await checkBatches(store);
        } finally {
          await store.close();
        }
      }));

    test(`SQLite (list read ${listReads}) names a damaged history (bytes changed, a record deleted) and reads the others`, () =>
      inTempDir(async (directory) => {
        const path = join(directory, 'quest.sqlite');
        const writer = await SqliteStore.open(path);
        await seed(writer);
        await writer.close();
        const sqlite = new Database(path);
        for (const statement of DAMAGE) sqlite.prepare(statement.replaceAll(':SCHEMA.', '')).run();
        sqlite.close();
        const store = await SqliteStore.open(path, { listReads, create: false });
        try {
          await checkDamaged(store);
        } finally {
          await store.close();
        }
      }));
  }
});

describePostgres('postgres store: the histories of the running workflows', () => {
  test('PostgreSQL gives what a load gives, by batches that never skip or repeat a workflow, and sees the writes queued before it', () =>
    withPostgresStore(async (store) => {
      assert.ok(hasHistoryScan(store));
      await seed(store);
      assert.deepEqual(await scanned(store), EXPECTED);
      for await (const history of runningHistories(store)) {
        if ('records' in history) assert.deepEqual(history.records, await store.history(history.workflowId).load());
      }
      await clearSeed(store);
      await checkBatches(store);
    }));

  test('PostgreSQL names a damaged history (bytes changed, a record deleted) and reads the others', () =>
    withPostgresStore(async (store, schema) => {
      await seed(store);
      const pool = adminPool();
      for (const statement of DAMAGE) await pool.query(statement.replaceAll(':SCHEMA', quoteIdentifier(schema)));
      await checkDamaged(store);
    }));
});
