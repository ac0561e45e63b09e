/**
 * The group commit every store that has one keeps (SqliteStore, PostgresStore): the writes issued in one turn of
 * the event loop share one transaction, in the order they were issued, each refused alone when it fails, and a
 * sequential writer gets a transaction per write. Each store's test file runs it with a factory of fresh stores;
 * what only one store can show (a lock held by another connection, a connection that dies) stays in its file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuestError } from '../../src/core/errors.js';
import type { EventInbox, Store } from '../../src/storage/store.js';
import { entry, oneRecord, record } from './conformance.js';

/** A store with a group commit: its counters of transactions and of writes committed. */
export type GroupCommitStore = Store & EventInbox & { readonly stats: { readonly transactions: number; readonly writes: number } };

/**
 * Runs `body` with a fresh store (writes at most `maxBatch` per transaction when given); `reopen` opens the same
 * database again, for what a store left behind once closed (closed by the caller).
 */
export type WithGroupCommitStore<S extends GroupCommitStore> = (
  body: (store: S, reopen: () => Promise<S>) => Promise<void>,
  options?: { maxBatch?: number },
) => Promise<void>;

const isStorageError = (error: unknown): boolean => isQuestError(error, 'STORAGE_FAILURE');

/** The group commit tests, under `describe(name)`; `wrap` is the describe to use (one that skips without a server). */
export function runGroupCommitConformance<S extends GroupCommitStore>(
  name: string,
  withStore: WithGroupCommitStore<S>,
  wrap: (name: string, body: () => void) => void = describe,
): void {
  wrap(`${name} store: group commit`, () => {
    test('commits from 50 histories in one turn share one transaction', () => withStore(async (store) => {
      const before = store.stats.transactions;
      const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
      await Promise.all(ids.map((id) => store.history(id).commit({ append: [record(1, id), record(2, id)], remove: [] })));
      assert.equal(store.stats.transactions - before, 1);
      for (const id of ids) assert.deepEqual(await store.history(id).load(), [record(1, id), record(2, id)]);
    }));

    test('writers woken by a transaction share the next one: 50 workflows x 3 commits are 3 transactions', () => withStore(async (store) => {
      const before = store.stats.transactions;
      const written = store.stats.writes;
      const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
      await Promise.all(ids.map(async (id) => {
        for (let seq = 1; seq <= 3; seq++) await store.history(id).commit({ append: [record(seq, id)], remove: seq === 3 ? [1] : [] });
      }));
      assert.equal(store.stats.transactions - before, 3);
      assert.equal(store.stats.writes - written, 150);
      for (const id of ids) assert.deepEqual(await store.history(id).load(), [record(2, id), record(3, id)]);
    }));

    test('entries, aliases, events and commits of one turn share one transaction too', () => withStore(async (store) => {
      const before = store.stats.transactions;
      await Promise.all([
        store.putWorkflow(entry('w', 1)),
        store.putAlias('a', 'w'),
        store.history('w').commit(oneRecord('w')),
        store.postEvent({ workflowId: 'w', resource: 'r', identity: null, action: 'put', args: [1] }),
        store.deleteWorkflow('other'),
      ]);
      assert.equal(store.stats.transactions - before, 1);
    }));

    test('entries written in one turn keep their order of issue for equal start times', () => withStore(async (store) => {
      const before = store.stats.transactions;
      const ids = Array.from({ length: 30 }, (_, i) => `w${(i * 7) % 30}`);
      await Promise.all(ids.map((id) => store.putWorkflow(entry(id, 5))));
      assert.equal(store.stats.transactions - before, 1);
      assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ids);
    }));

    test('writes on the same row in one turn apply in the order they were issued', () => withStore(async (store) => {
      const before = store.stats.transactions;
      await Promise.all([
        store.putAlias('x', 'w1'), store.putAlias('x', 'w2'), store.deleteAlias('x', 'w2'), store.putAlias('x', 'w3'),
        store.putAlias('y', 'w1'), store.deleteAlias('y', 'w1'),
        store.putWorkflow(entry('w', 1)), store.putWorkflow(entry('w', 1, 'completed')),
        store.history('h').commit(oneRecord('h')), store.history('h').clear(), store.history('h').commit(oneRecord('h', 2)),
        store.history('g').commit(oneRecord('g')), store.history('g').clear(),
      ]);
      assert.equal(store.stats.transactions - before, 1);
      assert.equal(await store.getAlias('x'), 'w3');
      assert.equal(await store.getAlias('y'), undefined);
      assert.deepEqual(await store.getWorkflow('w'), entry('w', 1, 'completed'));
      assert.deepEqual(await store.history('h').load(), [record(2, 'h')]);
      assert.deepEqual(await store.history('g').load(), []);
    }));

    test('a sequential writer gets one transaction per commit, each resolved before the next starts', () => withStore(async (store) => {
      const before = store.stats.transactions;
      const history = store.history('w');
      for (let seq = 1; seq <= 20; seq++) await history.commit(oneRecord('w', seq));
      assert.equal(store.stats.transactions - before, 20);
    }));

    test('maxBatch caps the writes of one transaction', () => withStore(async (store) => {
      const before = store.stats.transactions;
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.history(`w${i}`).commit(oneRecord(`w${i}`))));
      assert.equal(store.stats.transactions - before, 2);
    }, { maxBatch: 5 }));

    test('a failing commit is rejected and writes nothing; the others of its transaction are kept', () => withStore(async (store) => {
      await store.history('bad').commit(oneRecord('bad'));
      const before = store.stats.transactions;
      // seq 1 is already in 'bad': the whole change (seq 2 included) must be refused.
      const results = await Promise.allSettled([
        store.history('good').commit(oneRecord('good')),
        store.history('bad').commit({ append: [record(2, 'bad'), record(1, 'bad')], remove: [] }),
        store.putWorkflow(entry('good', 1)),
        store.history('good2').commit(oneRecord('good2')),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.ok(results[1]!.status === 'rejected' && isStorageError(results[1]!.reason));
      assert.equal(store.stats.transactions - before, 1);
      assert.deepEqual(await store.history('bad').load(), [record(1, 'bad')]);
      assert.deepEqual(await store.history('good').load(), [record(1, 'good')]);
      assert.deepEqual(await store.history('good2').load(), [record(1, 'good2')]);
      assert.deepEqual(await store.getWorkflow('good'), entry('good', 1));
    }));

    test('a read sees the writes queued before it', () => withStore(async (store) => {
      const written = store.putWorkflow(entry('w', 1));
      assert.deepEqual(await store.getWorkflow('w'), entry('w', 1));
      await written;
    }));

    test('close writes what is queued', () => withStore(async (store, reopen) => {
      const written = store.history('w').commit(oneRecord('w'));
      await store.close();
      await written;
      const again = await reopen();
      try {
        assert.deepEqual(await again.history('w').load(), [record(1, 'w')]);
      } finally {
        await again.close();
      }
    }));
  });
}
