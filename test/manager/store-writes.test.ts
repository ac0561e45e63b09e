/**
 * What a short workflow costs the store through the manager: on a store with one-write entry operations
 * (WorkflowEntryWrites: SqliteStore, MemoryStore), a start is one insert with no read first, and the outcome
 * is written with the clear of the history in one write; duplicates are still refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuplicateWorkflowError, WorkflowManager, WorkflowNotFoundError, queue, step } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

const one = step('one', async (n: number) => n + 1);

const workflows = {
  single: (n: number): Promise<number> => one(n),
  waiter: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    return await numbers.get();
  },
};

async function withSqlite(body: (store: SqliteStore, path: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-writes-'));
  try {
    await body(new SqliteStore(join(directory, 'quest.sqlite')), join(directory, 'quest.sqlite'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('a one-step workflow through the manager on SqliteStore costs three writes: its entry, its step, its outcome with the clear of its history', () =>
  withSqlite(async (store) => {
    const manager = await WorkflowManager.open({ store, workflows });
    const before = store.stats.writes;
    const handle = await manager.start('single', 'w1', 41);
    assert.equal(await handle.result(), 42);
    assert.equal(store.stats.writes - before, 3);
    assert.deepEqual(await store.history('w1').load(), []);
    assert.equal((await store.getWorkflow('w1'))?.state, 'completed');
    await manager.close();
  }));

test('on SqliteStore, a start of an id that exists (running or finished) is refused, and ifExists: resume returns that workflow', () =>
  withSqlite(async (store, path) => {
    const manager = await WorkflowManager.open({ store, workflows });
    await (await manager.start('single', 'done', 1)).result();
    await manager.start('waiter', 'waiting');
    await assert.rejects(manager.start('single', 'done', 2), DuplicateWorkflowError);
    await assert.rejects(manager.start('waiter', 'waiting'), DuplicateWorkflowError);
    const again = await manager.startWith('single', 'done', [2], { ifExists: 'resume' });
    assert.equal(again.created, false);
    assert.equal(await again.result(), 2);
    await manager.close();
    // A new manager over the same file: 'done' is in the store only, 'waiting' was resumed.
    const third = await WorkflowManager.open({ store: new SqliteStore(path), workflows });
    await assert.rejects(third.start('single', 'done', 3), DuplicateWorkflowError);
    await assert.rejects(third.start('waiter', 'waiting'), DuplicateWorkflowError);
    await third.close();
  }));

/** A real SqliteStore that counts its entry reads. */
class ReadCountingStore extends SqliteStore {
  entryReads = 0;
  override getWorkflow(id: string): ReturnType<SqliteStore['getWorkflow']> {
    this.entryReads++;
    return super.getWorkflow(id);
  }
}

test('the result of a workflow that finished here lately is answered without reading the store; once deleted, it is gone', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-writes-'));
  try {
    const store = new ReadCountingStore(join(directory, 'quest.sqlite'));
    const manager = await WorkflowManager.open({ store, workflows });
    assert.equal(await (await manager.start('single', 'w1', 1)).result(), 2);
    const before = store.entryReads;
    assert.equal(await manager.getResult('w1'), 2);
    assert.equal(await manager.getResult('w1'), 2);
    assert.equal(store.entryReads - before, 0);
    await manager.delete('w1');
    await assert.rejects(manager.getResult('w1'), WorkflowNotFoundError);
    await manager.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
