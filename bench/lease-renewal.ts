/**
 * What a process's heartbeat costs on PostgreSQL when it holds many leases: one renewal statement renews every
 * lease the process holds (its running workflows and, with eviction, its idle evicted ones: they keep their
 * leases), every `leaseMs / 3`. Measures the time of one renewal at N held leases, and the share of the default
 * heartbeat period (5000 / 3 ms) it takes.
 *
 *   npx tsx bench/lease-renewal.ts            N = 1,000, 10,000, 100,000
 *   npx tsx bench/lease-renewal.ts --quick    N = 1,000, 10,000
 *   ... --url=postgres://...                  the server (default $QUEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test)
 *
 * Each N in a fresh schema (dropped afterwards): N running entries inserted in SQL, claimed by one owner through
 * the store, then renewed RUNS times in a row.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { quoteIdentifier } from '../src/storage/postgres/migrations.js';
import { formatDuration, formatInt, machineLoad, median, now, renderTable, stringOption } from './harness.js';

const quick = process.argv.includes('--quick');
const url = stringOption('url') ?? process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SIZES = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
const RUNS = 5;
const HEARTBEAT_MS = 5000 / 3;

async function renewalMs(admin: pg.Pool, n: number): Promise<number[]> {
  const schema = `quest_bench_renew_${randomBytes(4).toString('hex')}`;
  const store = await PostgresStore.open({ connectionString: url, schema, poolSize: 2 });
  try {
    const s = quoteIdentifier(schema);
    await admin.query(
      `INSERT INTO ${s}.workflows (id, state, started_at, body, history_rows) SELECT 'w' || g, 'running', g, ` +
        `json_build_object('id', 'w' || g, 'type', 't', 'args', json_build_array(), 'state', 'running', 'startedAt', g, 'deleteOnFinish', false)::text, 0 ` +
        'FROM generate_series(1, $1) AS g',
      [n],
    );
    const claimed = await store.claimWorkflows({ owner: 'bench', leaseMs: 60_000, limit: n });
    if (claimed.length !== n) throw new Error(`claimed ${claimed.length} of ${n}`);
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const start = now();
      const kept = await store.renewLeases('bench', 60_000);
      times.push(now() - start);
      if (kept.length !== n) throw new Error(`renewed ${kept.length} of ${n}`);
    }
    return times;
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
  }
}

const admin = new pg.Pool({ connectionString: url, max: 2 });
try {
  const before = machineLoad();
  const rows: (string | number)[][] = [];
  for (const n of SIZES) {
    process.stderr.write(`renewing ${formatInt(n)} leases...\n`);
    const times = await renewalMs(admin, n);
    const typical = median(times);
    rows.push([formatInt(n), formatDuration(typical), `${formatInt(Math.round((n / typical) * 1000))}/s`, `${((typical / HEARTBEAT_MS) * 100).toFixed(1)} %`]);
  }
  const columns = ['leases held', 'one renewal (median of 5)', 'leases renewed', 'share of the default heartbeat period'].map((header) => ({ header, align: 'right' as const }));
  process.stdout.write(`${renderTable('Lease renewal (one heartbeat) on PostgreSQL', columns, rows)}\n`);
  process.stdout.write(`machine load before: ${before}, after: ${machineLoad()}\n`);
} finally {
  await admin.end();
}
