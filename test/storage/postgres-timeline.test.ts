/**
 * The counts over time of a PostgresStore (WorkflowTimeline; its conformance checks run in postgres.test.ts): read
 * from the indexes of start and finish times, and a schema of version 3 (before the column of finish times) gets it
 * at opening, filled from the entries, and counts the workflows it held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { timeCountsSql } from '../../src/storage/postgres/pages.js';
import { hasTimeline } from '../../src/storage/workflow-timeline.js';
import { entry } from './conformance.js';
import { PG_URL, adminPool, describePostgres, dropSchema, freshSchema } from './postgres-support.js';

const T0 = 1_700_000_000_000;

describePostgres('postgres store: counts over time', () => {
  test('a PostgresStore counts over time (WorkflowTimeline) from the indexes of start and finish times, not from the entries', async () => {
    const schema = freshSchema('time');
    const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
    const client = await adminPool().connect();
    try {
      assert.ok(hasTimeline(store));
      // On a few rows the planner would rather read the table: forbidden here, so the plan shows the indexes fit.
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${timeCountsSql(schema)}`, [T0, 1000, 3]);
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      assert.match(plan, /Scan (using|on) workflows_by_start /);
      assert.match(plan, /Scan (using|on) workflows_by_finish /);
      assert.doesNotMatch(plan, /Seq Scan/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
      await store.close();
      await dropSchema(schema);
    }
  });

  test('a schema of version 3 (before the column of finish times) opens, gets it filled from the entries, and counts its workflows over time', async () => {
    const schema = freshSchema('time');
    const s = quoteIdentifier(schema);
    let store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
    try {
      await store.putWorkflow({ ...entry('done', T0), state: 'completed', finishedAt: T0 + 1500 });
      await store.putWorkflow(entry('running', T0 + 10));
      await store.close();
      // What migration 4 added: the columns of types and finish times and their indexes.
      await adminPool().query(`ALTER TABLE ${s}.workflows DROP COLUMN type, DROP COLUMN finished_at; DELETE FROM ${s}.quest_migrations WHERE id > 3`);
      store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
      assert.deepEqual(await store.countByTime({ origin: T0, bucketMs: 1000, buckets: 2 }), { started: [2, 0], finished: [0, 1] });
      await store.putWorkflow({ ...entry('running', T0 + 10), state: 'failed', finishedAt: T0 + 20 });
      assert.deepEqual(await store.countByTime({ origin: T0, bucketMs: 1000, buckets: 2 }), { started: [2, 0], finished: [1, 1] });
      const { rows } = await adminPool().query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [`${s}.workflows_by_finish`]);
      assert.equal(rows[0]?.found, true);
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });
});
