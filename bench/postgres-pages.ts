/**
 * The paged workflow list of a PostgresStore (WorkflowPages) at 100,000 and 1,000,000 workflows: the counts by
 * state and type (what `quest list` and the server's paged `workflows` call show), first pages filtered by type
 * or found by a search (and a search's counts),
 * and the upgrade of a schema that holds them (the store opened on a schema of version 3 migrates it).
 *
 *   npx tsx bench/postgres-pages.ts                      100,000 and 1,000,000
 *   npx tsx bench/postgres-pages.ts --quick              10,000
 *   ... --url=postgres://...                             the server (default $QUEST_PG_URL, else the local one)
 *
 * The workflows are made by one INSERT ... SELECT generate_series into a schema of version 3 (the entries as the
 * manager writes them: 97 % completed, 1 % each running, failed, cancelled; ten types spread over every state,
 * and one type of 0.01 %, all completed), then the store opens it (and migrates it); one count, then VACUUM
 * ANALYZE (what autovacuum does in time), then each figure is the median of 5 runs through the store's methods.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { MIGRATIONS, quoteIdentifier } from '../src/storage/postgres/migrations.js';
import type { WorkflowPageQuery } from '../src/storage/workflow-pages.js';
import { formatDuration, formatInt, machineLoad, measure, now, renderTable, stringOption } from './harness.js';

const quick = process.argv.includes('--quick');
const url = stringOption('url') ?? process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SIZES = quick ? [10_000] : [100_000, 1_000_000];
/** The schema version the workflows are written at: the last one before the stored type (migration 4). */
const BASE_VERSION = 3;

/** The pages measured: a common type alone, a rare one alone, a state and a type, a pair with no workflow. */
const PAGES: [string, WorkflowPageQuery][] = [
  ['first page of 50, type (10 %)', { type: 'type3', limit: 50 }],
  ['first page of 50, type (0.01 %)', { type: 'rare', limit: 50 }],
  ['first page of 50, state running + type', { state: 'running', type: 'type3', limit: 50 }],
  ['first page of 50, state + type with none', { state: 'failed', type: 'rare', limit: 50 }],
  ['first page of 50, a search finding none', { search: 'nobody', limit: 50 }],
  ['first page of 50, a search finding a few', { search: 'w12345', limit: 50 }],
  ['first page of 50, a search finding all', { search: 'w', limit: 50 }],
];

/** `n` finished-looking entries (and a few running ones) in `schema`, at schema version BASE_VERSION. */
async function seed(admin: pg.Pool, schema: string, n: number): Promise<void> {
  const s = quoteIdentifier(schema);
  await admin.query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.quest_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const migration of MIGRATIONS.slice(0, BASE_VERSION)) {
    await admin.query(migration.sql.replaceAll(':SCHEMA', s));
    await admin.query(`INSERT INTO ${s}.quest_migrations (id, name) VALUES ($1, $2)`, [migration.id, migration.name]);
  }
  await admin.query(
    `INSERT INTO ${s}.workflows (id, state, started_at, body, history_rows) ` +
      "SELECT 'w' || g, e.state, e.started_at, json_build_object('id', 'w' || g, 'type', e.type, 'args', json_build_array(g), " +
      "'state', e.state, 'startedAt', e.started_at, 'finishedAt', e.started_at + 5, 'result', json_build_object('ok', true, 'n', g), " +
      "'deleteOnFinish', false)::text, CASE WHEN e.state = 'running' THEN 1 ELSE 0 END " +
      'FROM generate_series(1, $1) AS g, LATERAL (SELECT ' +
      "CASE g % 100 WHEN 0 THEN 'running' WHEN 1 THEN 'failed' WHEN 2 THEN 'cancelled' ELSE 'completed' END AS state, " +
      "CASE WHEN g % 10000 = 5 THEN 'rare' ELSE 'type' || (g / 100) % 10 END AS type, " +
      '1700000000000 + g * 10 AS started_at) AS e',
    [n],
  );
}

interface SizeFigures {
  n: number;
  openMs: number;
  /** The first count after the store opened, before any VACUUM (the upgrade leaves no page marked all-visible). */
  firstCountMs: number;
  countMs: number;
  /** countWorkflows({ search }) of a search finding none. */
  searchCountMs: number;
  pageMs: number[];
}

async function figuresAt(admin: pg.Pool, n: number): Promise<SizeFigures> {
  const schema = `quest_bench_pages_${randomBytes(4).toString('hex')}`;
  try {
    process.stderr.write(`${formatInt(n)} workflows: seeding...\n`);
    await seed(admin, schema, n);
    await admin.query(`VACUUM ANALYZE ${quoteIdentifier(schema)}.workflows`);
    process.stderr.write('  opening (migrating) the store...\n');
    let start = now();
    const store = await PostgresStore.open({ connectionString: url, schema, poolSize: 2 });
    const openMs = now() - start;
    try {
      start = now();
      const total = (await store.countWorkflows()).reduce((sum, count) => sum + count.count, 0);
      const firstCountMs = now() - start;
      if (total !== n) throw new Error(`counted ${total} of ${n}`);
      await admin.query(`VACUUM ANALYZE ${quoteIdentifier(schema)}.workflows`);
      const count = await measure(async () => {
        start = now();
        await store.countWorkflows();
        return now() - start;
      }, { gcBetween: false });
      const searchCount = await measure(async () => {
        start = now();
        await store.countWorkflows({ search: 'nobody' });
        return now() - start;
      }, { gcBetween: false });
      const pageMs: number[] = [];
      for (const [, query] of PAGES) {
        const page = await measure(async () => {
          start = now();
          await store.pageWorkflows(query);
          return now() - start;
        }, { gcBetween: false });
        pageMs.push(page.medianMs);
      }
      return { n, openMs, firstCountMs, countMs: count.medianMs, searchCountMs: searchCount.medianMs, pageMs };
    } finally {
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
  }
}

const admin = new pg.Pool({ connectionString: url, max: 2 });
try {
  const before = machineLoad();
  const results: SizeFigures[] = [];
  for (const n of SIZES) results.push(await figuresAt(admin, n));
  const rows = [
    [`open: migrate a schema of version ${BASE_VERSION}`, ...results.map((r) => formatDuration(r.openMs))],
    ['countWorkflows(), the first after opening (before a VACUUM)', ...results.map((r) => formatDuration(r.firstCountMs))],
    ['countWorkflows() after VACUUM ANALYZE (median of 5)', ...results.map((r) => formatDuration(r.countMs))],
    ["countWorkflows({ search }), a search finding none (median of 5)", ...results.map((r) => formatDuration(r.searchCountMs))],
    ...PAGES.map(([name], i) => [`${name} (median of 5)`, ...results.map((r) => formatDuration(r.pageMs[i]!))]),
  ];
  const columns = [{ header: 'figure', align: 'left' as const }, ...results.map((r) => ({ header: `${formatInt(r.n)} workflows` }))];
  process.stdout.write(`${renderTable('The paged workflow list on PostgreSQL', columns, rows)}\n`);
  process.stdout.write(`machine load before: ${before}, after: ${machineLoad()}\n`);
} finally {
  await admin.end();
}
