/**
 * The group commit of a PostgresStore: the writes of one turn share a transaction, each refused alone when it
 * fails, and what a dying connection leaves is said (postgres.test.ts holds the conformance run and the schema).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuestError } from '../../src/core/errors.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { entry, record } from './conformance.js';
import { PG_URL, adminPool, describePostgres, oneRecord as one, withPostgresStore as withStore } from './postgres-support.js';

const isStorageError = (error: unknown): boolean => isQuestError(error, 'STORAGE_FAILURE');

describePostgres('postgres store: group commit', () => {
  test('commits from 50 histories in one turn share one transaction', () => withStore(async (store) => {
    const before = store.stats.transactions;
    const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
    await Promise.all(ids.map((id) => store.history(id).commit({ append: [record(1, id), record(2, id)], remove: [] })));
    assert.equal(store.stats.transactions - before, 1);
    for (const id of ids) assert.deepEqual(await store.history(id).load(), [record(1, id), record(2, id)]);
  }));

  test('writers woken by a transaction share the next one: 50 workflows x 3 commits are 3 transactions', () => withStore(async (store) => {
    const before = store.stats.transactions;
    const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
    await Promise.all(ids.map(async (id) => {
      for (let seq = 1; seq <= 3; seq++) await store.history(id).commit({ append: [record(seq, id)], remove: seq === 3 ? [1] : [] });
    }));
    assert.equal(store.stats.transactions - before, 3);
    assert.equal(store.stats.writes, 150);
    for (const id of ids) assert.deepEqual(await store.history(id).load(), [record(2, id), record(3, id)]);
  }));

  test('entries, aliases, events and commits of one turn share one transaction too', () => withStore(async (store) => {
    const before = store.stats.transactions;
    await Promise.all([
      store.putWorkflow(entry('w', 1)),
      store.putAlias('a', 'w'),
      store.history('w').commit(one('w')),
      store.postEvent({ workflowId: 'w', resource: 'r', identity: null, action: 'put', args: [1] }),
      store.deleteWorkflow('other'),
    ]);
    assert.equal(store.stats.transactions - before, 1);
  }));

  test('entries written in one turn keep their order of issue for equal start times', () => withStore(async (store) => {
    const ids = Array.from({ length: 30 }, (_, i) => `w${(i * 7) % 30}`);
    await Promise.all(ids.map((id) => store.putWorkflow(entry(id, 5))));
    assert.equal(store.stats.transactions, 1);
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ids);
  }));

  test('writes on the same row in one turn apply in the order they were issued', () => withStore(async (store) => {
    await Promise.all([
      store.putAlias('x', 'w1'), store.putAlias('x', 'w2'), store.deleteAlias('x', 'w2'), store.putAlias('x', 'w3'),
      store.putAlias('y', 'w1'), store.deleteAlias('y', 'w1'),
      store.putWorkflow(entry('w', 1)), store.putWorkflow(entry('w', 1, 'completed')),
      store.history('h').commit(one('h')), store.history('h').clear(), store.history('h').commit(one('h', 2)),
      store.history('g').commit(one('g')), store.history('g').clear(),
    ]);
    assert.equal(store.stats.transactions, 1);
    assert.equal(await store.getAlias('x'), 'w3');
    assert.equal(await store.getAlias('y'), undefined);
    assert.deepEqual(await store.getWorkflow('w'), entry('w', 1, 'completed'));
    assert.deepEqual(await store.history('h').load(), [record(2, 'h')]);
    assert.deepEqual(await store.history('g').load(), []);
  }));

  test('a sequential writer gets one transaction per commit', () => withStore(async (store) => {
    const history = store.history('w');
    for (let seq = 1; seq <= 20; seq++) await history.commit({ append: [record(seq)], remove: [] });
    assert.equal(store.stats.transactions, 20);
  }));

  test('maxBatch caps the writes of one transaction', () => withStore(async (store) => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.history(`w${i}`).commit(one(`w${i}`))));
    assert.equal(store.stats.transactions, 2);
  }, { maxBatch: 5 }));

  test('a failing commit is rejected and writes nothing; the others of its transaction are kept', () => withStore(async (store) => {
    await store.history('bad').commit(one('bad'));
    const before = store.stats.transactions;
    // seq 1 is already in 'bad': the whole change (seq 2 included) must be refused.
    const results = await Promise.allSettled([
      store.history('good').commit(one('good')),
      store.history('bad').commit({ append: [record(2, 'bad'), record(1, 'bad')], remove: [] }),
      store.putWorkflow(entry('good', 1)),
      store.history('good2').commit(one('good2')),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.ok(results[1]!.status === 'rejected' && isStorageError(results[1]!.reason));
    assert.equal(store.stats.transactions - before, 1);
    assert.equal(store.stats.retriedTransactions, 1);
    assert.deepEqual(await store.history('bad').load(), [record(1, 'bad')]);
    assert.deepEqual(await store.history('good').load(), [record(1, 'good')]);
    assert.deepEqual(await store.history('good2').load(), [record(1, 'good2')]);
    assert.deepEqual(await store.getWorkflow('good'), entry('good', 1));
  }));

  test('a refused commit in a batch of history commits only (one statement) is rejected alone too', () => withStore(async (store) => {
    await store.history('bad').commit(one('bad'));
    const results = await Promise.allSettled([
      store.history('good').commit(one('good')),
      store.history('bad').commit({ append: [record(2, 'bad'), record(1, 'bad')], remove: [] }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    assert.equal(store.stats.retriedTransactions, 1);
    assert.deepEqual(await store.history('bad').load(), [record(1, 'bad')]);
    assert.deepEqual(await store.history('good').load(), [record(1, 'good')]);
  }));

  test('when the connection dies during a one-statement commit, its writes are rejected as of unknown outcome', () =>
    withStore(async (store, schema) => {
      const locker = await adminPool().connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${quoteIdentifier(schema)}.records IN ACCESS EXCLUSIVE MODE`);
        const results = Promise.allSettled([store.history('w').commit(one('w')), store.history('v').commit(one('v'))]);
        await adminPool().query('SELECT pg_terminate_backend($1)', [await waitForLockedWriter(schema)]);
        const settled = await results;
        assert.ok(settled.every((r) => r.status === 'rejected' && isStorageError(r.reason) && /may or may not have been kept/.test(String(r.reason))));
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
      assert.deepEqual(await store.history('w').load(), []);
      await store.history('w').commit(one('w'));
      assert.deepEqual(await store.history('w').load(), [record(1, 'w')]);
    }));

  test('when the connection dies mid-transaction, every write in it is rejected, none is kept, and the store goes on', () =>
    withStore(async (store, schema) => {
      await store.history('w').commit(one('w'));
      const locker = await adminPool().connect();
      try {
        // Hold the records table, so that the store's transaction waits on its INSERT; then kill its connection.
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${quoteIdentifier(schema)}.records IN ACCESS EXCLUSIVE MODE`);
        const results = Promise.allSettled([
          store.putWorkflow(entry('v', 1)),
          store.history('w').commit(one('w', 2)),
          store.history('v').commit(one('v')),
        ]);
        const pid = await waitForLockedWriter(schema);
        await adminPool().query('SELECT pg_terminate_backend($1)', [pid]);
        const settled = await results;
        assert.ok(settled.every((r) => r.status === 'rejected' && isStorageError(r.reason) && /none of its 3 write/.test(String(r.reason))), String(settled.map((r) => r.status === 'rejected' ? r.reason : 'ok')));
        assert.equal(store.stats.failedTransactions, 1);
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
      assert.deepEqual(await store.history('w').load(), [record(1, 'w')]);
      assert.deepEqual(await store.history('v').load(), []);
      assert.equal(await store.getWorkflow('v'), undefined);
      await store.history('w').commit(one('w', 2));
      assert.deepEqual(await store.history('w').load(), [record(1, 'w'), record(2, 'w')]);
    }));

  test('a read sees the writes queued before it', () => withStore(async (store) => {
    const written = store.putWorkflow(entry('w', 1));
    assert.deepEqual(await store.getWorkflow('w'), entry('w', 1));
    await written;
  }));

  test('close writes what is queued', () => withStore(async (store, schema) => {
    const written = store.history('w').commit(one('w'));
    await store.close();
    await written;
    const again = await PostgresStore.open({ connectionString: PG_URL, schema });
    try {
      assert.deepEqual(await again.history('w').load(), [record(1, 'w')]);
    } finally {
      await again.close();
    }
  }));
});

/** The pid of the backend whose write waits for a lock on `schema`.records (polled: it is another server process). */
async function waitForLockedWriter(schema: string): Promise<number> {
  for (;;) {
    const { rows } = await adminPool().query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()",
      [`%${quoteIdentifier(schema)}.records%`],
    );
    if (rows[0] !== undefined) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

