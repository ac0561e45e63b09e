/**
 * The group commit of a PostgresStore: the shared suite (group-commit-conformance.ts), then what only PostgreSQL
 * shows: a refused write retried alone, and what a dying connection leaves is said (postgres.test.ts holds the
 * store conformance run and the schema).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuestError } from '../../src/core/errors.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { entry, oneRecord as one, record } from './conformance.js';
import { runGroupCommitConformance } from './group-commit-conformance.js';
import { PG_URL, adminPool, describePostgres, withPostgresStore as withStore } from './postgres-support.js';

const isStorageError = (error: unknown): boolean => isQuestError(error, 'STORAGE_FAILURE');

runGroupCommitConformance(
  'postgres',
  (body, options) => withStore((store, schema) => body(store, () => PostgresStore.open({ connectionString: PG_URL, schema })), options),
  describePostgres,
);

describePostgres('postgres store: group commit, what only PostgreSQL shows', () => {
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

