/**
 * The SqliteStore's reads of entries and histories share one read transaction per turn (src/storage/sqlite-reads.ts),
 * and its finishes update the row in place when it is there (src/storage/sqlite-statements.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { entry, record } from './conformance.js';
import { onDatabase, withStore } from './sqlite-support.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('sqlite store: the reads of a turn', () => {
  test('the entry and history reads of one turn share one read transaction, and the next turn begins another', () => withStore(async (store) => {
    const ids = Array.from({ length: 100 }, (_, i) => `w${i}`);
    await Promise.all(ids.map((id, i) => store.putWorkflow(entry(id, i))));
    await store.history('w0').commit({ append: [record(1, 'w0')], remove: [] });
    await nextTurn();
    const before = store.stats.readTransactions;
    const entries = await Promise.all(ids.map((id) => store.getWorkflow(id)));
    assert.deepEqual(await store.history('w0').load(), [record(1, 'w0')]);
    assert.deepEqual(entries, ids.map((id, i) => entry(id, i)));
    assert.equal(store.stats.readTransactions - before, 1);
    await nextTurn();
    assert.deepEqual(await store.getWorkflow('w1'), entry('w1', 1));
    assert.equal(store.stats.readTransactions - before, 2);
  }));

  test('a write made while the reads of the turn hold their snapshot is committed when it resolves, and read back in the same turn', () => withStore(async (store, path) => {
    await store.putWorkflow(entry('a', 1));
    await nextTurn();
    assert.deepEqual(await store.getWorkflow('a'), entry('a', 1));
    // maxBatch 1: the write is committed at once, in this turn, while the snapshot of the read above is open.
    await store.putWorkflow(entry('b', 2));
    const other = new Database(path, { readonly: true });
    try {
      assert.deepEqual(other.prepare("SELECT id FROM workflows WHERE id = 'b'").all(), [{ id: 'b' }]);
    } finally {
      other.close();
    }
    assert.deepEqual(await store.getWorkflow('b'), entry('b', 2));
  }, { maxBatch: 1 }));

  test('a history read sees the commits queued before it, in the same turn as reads of entries', () => withStore(async (store) => {
    await store.putWorkflow(entry('w', 1));
    await nextTurn();
    assert.deepEqual(await store.getWorkflow('w'), entry('w', 1));
    const committed = store.history('w').commit({ append: [record(1), record(2)], remove: [] });
    assert.deepEqual(await store.history('w').load(), [record(1), record(2)]);
    await committed;
  }));
});

describe('sqlite store: finishes', () => {
  test('a finish updates the row the entry was created in: same position among the entries started at the same time, history cleared', () => withStore(async (store) => {
    for (const id of ['a', 'b', 'c']) await store.insertWorkflow(entry(id, 5));
    await store.history('b').commit({ append: [record(1, 'b')], remove: [] });
    await store.finishWorkflow({ ...entry('b', 5, 'completed'), finishedAt: 9, result: 1 });
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ['a', 'b', 'c']);
    assert.deepEqual(await store.getWorkflow('b'), { ...entry('b', 5, 'completed'), finishedAt: 9, result: 1 });
    assert.deepEqual(await store.history('b').load(), []);
  }));

  test('a finish of an entry whose row is missing, or whose start time differs from the row, writes the whole row', () => withStore(async (store, path) => {
    await store.finishWorkflow({ ...entry('never-created', 3, 'completed'), finishedAt: 4, result: 'x' });
    await store.insertWorkflow(entry('moved', 10));
    await store.finishWorkflow({ ...entry('moved', 1, 'completed'), finishedAt: 11, result: 'y' });
    assert.deepEqual(await store.getWorkflow('never-created'), { ...entry('never-created', 3, 'completed'), finishedAt: 4, result: 'x' });
    assert.deepEqual((await store.listWorkflows()).map((e) => [e.id, e.startedAt]), [['moved', 1], ['never-created', 3]]);
    const rows = onDatabase(path, (db) => db.prepare('SELECT id, state, started_at, type, finished_at, history_rows FROM workflows ORDER BY id').all());
    assert.deepEqual(rows, [
      { id: 'moved', state: 'completed', started_at: 1, type: 'order', finished_at: 11, history_rows: 0 },
      { id: 'never-created', state: 'completed', started_at: 3, type: 'order', finished_at: 4, history_rows: 0 },
    ]);
  }));
});
