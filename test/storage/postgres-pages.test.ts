/**
 * The paged workflow list of a PostgresStore beyond the conformance checks: which index its counts and pages
 * read (the query plans), the stored type column, and the upgrade of a schema written before it (migration 4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { MIGRATIONS, PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { countQuery, pageQuery } from '../../src/storage/postgres/pages.js';
import type { WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import { hasPages, type WorkflowCount } from '../../src/storage/workflow-pages.js';
import { PG_URL, adminPool, describePostgres, dropSchema, freshSchema, schemaAtVersion } from './postgres-support.js';

/** Run `body` with a store in a fresh schema, then close it and drop the schema. */
async function withStore(body: (store: PostgresStore, schema: string) => Promise<void>): Promise<void> {
  const schema = freshSchema('pages');
  const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
  try {
    await body(store, schema);
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/**
 * What the plan of `query` reads: each scan as "<node type> <index or table>" (parallel or not), without the
 * heap scan of a bitmap (it reads the rows its bitmap index scan found).
 */
async function scansOf(query: pg.QueryConfig<unknown[]>): Promise<string[]> {
  const { rows } = await adminPool().query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({ text: `EXPLAIN (FORMAT JSON) ${query.text}`, values: query.values ?? [] });
  const scans: string[] = [];
  const visit = (node: PlanNode): void => {
    const read = node['Index Name'] ?? node['Relation Name'];
    if (read !== undefined && node['Node Type'] !== 'Bitmap Heap Scan') scans.push(`${node['Node Type'].replace(/^Parallel /, '')} ${read}`);
    node.Plans?.forEach(visit);
  };
  visit(rows[0]!['QUERY PLAN'][0].Plan);
  return scans;
}

function entry(id: string, type: string, state: WorkflowState, args: WorkflowEntry['args'] = []): WorkflowEntry {
  return { id, type, args, state, startedAt: 1_700_000_000_000, deleteOnFinish: false };
}

function sortedCounts(counts: readonly WorkflowCount[]): string[] {
  return counts.map(({ state, type, count }) => `${state}/${type}=${count}`).sort();
}

describePostgres('postgres store: the paged list', () => {
  test('a PostgresStore reads the workflow list by pages (WorkflowPages); its counts read one index, not the entries', () => withStore(async (store, schema) => {
    assert.ok(hasPages(store));
    // 20,000 entries as the manager writes them, with a result of 200 characters (all sampled by ANALYZE: the
    // same plan every run), ten types, most completed; the type 'rare' has 2.
    const s = quoteIdentifier(schema);
    await adminPool().query(
      `INSERT INTO ${s}.workflows (id, state, started_at, type, body, history_rows) SELECT 'w' || g, e.state, g, e.type, ` +
        "json_build_object('id', 'w' || g, 'type', e.type, 'args', json_build_array(g), 'state', e.state, 'startedAt', g, 'finishedAt', g + 5, " +
        "'result', repeat('x', 200), 'deleteOnFinish', false)::text, 0 " +
        "FROM generate_series(1, 20000) AS g, LATERAL (SELECT CASE g % 10 WHEN 0 THEN 'running' WHEN 1 THEN 'failed' ELSE 'completed' END AS state, " +
        "CASE WHEN g % 10000 = 3 THEN 'rare' ELSE 't' || (g / 10) % 10 END AS type) AS e",
    );
    await adminPool().query(`VACUUM ANALYZE ${s}.workflows`);
    assert.deepEqual(await scansOf({ text: countQuery(schema) }), ['Index Only Scan workflows_by_type']);
    // A page of one type (in one state or any) reads its own rows, in page order.
    for (const query of [{ type: 'rare', limit: 50 }, { state: 'running' as const, type: 't3', limit: 50 }, { state: 'failed' as const, type: 'rare', limit: 50 }]) {
      const scans = await scansOf(pageQuery(schema, query, undefined));
      assert.ok(scans.length === 1 && /^(Bitmap )?Index Scan workflows_by_type$/.test(scans[0]!), `${JSON.stringify(query)}: ${scans.join(', ')}`);
    }
    const counts = await store.countWorkflows();
    assert.equal(counts.reduce((sum, count) => sum + count.count, 0), 20_000);
    assert.deepEqual((await store.pageWorkflows({ type: 'rare', limit: 50 })).entries.map((e) => e.id), ['w10003', 'w3']);
  }));

  test('a type holding a NUL character (which PostgreSQL text cannot hold) is stored with U+FFFD, and found by its own name', () => withStore(async (store) => {
    await store.putWorkflow(entry('a', 'odd\0type', 'running'));
    assert.ok(await store.createWorkflow(entry('b', 'odd\0type', 'running'), { owner: 'me', leaseMs: 60_000 }));
    assert.deepEqual(sortedCounts(await store.countWorkflows()), ['running/odd\uFFFDtype=2']);
    assert.deepEqual((await store.pageWorkflows({ type: 'odd\0type', limit: 5 })).entries.map((e) => e.id), ['b', 'a']);
    assert.deepEqual((await store.getWorkflow('a'))?.type, 'odd\0type');
  }));

  test('a schema of version 3 (the type only in the body) migrates: every entry gets its type, whatever its body holds', async () => {
    const schema = freshSchema('pages3');
    const s = quoteIdentifier(schema);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      await schemaAtVersion(pool, schema, 3);
      // Bodies with the escapes PostgreSQL's JSON functions refuse (\u0000, lone surrogates), a backslash written
      // before "u0000" (not an escape), and types of their own with them.
      const entries = [
        entry('plain', 'order', 'completed', [1]),
        entry('nul', 'order', 'completed', ['a\0b', { deep: ['\0'] }]),
        entry('surrogates', 'invoice', 'running', ['\ud800', '\udc00x', '😀']),
        entry('backslashes', 'in\\u0000voice', 'failed', ['\\u0000', '\\\0', '\\\\\ud800']),
        entry('odd-type', 'ty\0pe\ud800 "ü"', 'cancelled', []),
      ];
      for (const [n, e] of entries.entries()) {
        await pool.query(`INSERT INTO ${s}.workflows (id, state, started_at, body, history_rows) VALUES ($1, $2, $3, $4, 0)`, [e.id, e.state, n, JSON.stringify(e)]);
      }
      const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
      try {
        const { rows } = await pool.query<{ id: number }>(`SELECT id FROM ${s}.quest_migrations ORDER BY id`);
        assert.deepEqual(rows.map((row) => row.id), MIGRATIONS.map((migration) => migration.id));
        assert.deepEqual(sortedCounts(await store.countWorkflows()), [
          'cancelled/ty\uFFFDpe\uFFFD "ü"=1', 'completed/order=2', 'failed/in\\u0000voice=1', 'running/invoice=1',
        ]);
        assert.deepEqual((await store.pageWorkflows({ type: 'order', limit: 5 })).entries, [entries[1], entries[0]]);
        assert.deepEqual((await store.pageWorkflows({ type: 'in\\u0000voice', limit: 5 })).entries, [entries[3]]);
        assert.deepEqual((await store.pageWorkflows({ type: 'ty\0pe\ud800 "ü"', limit: 5 })).entries, [entries[4]]);
      } finally {
        await store.close();
      }
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });
});
