/**
 * What a process's heartbeat costs on PostgreSQL when it holds many leases (its running workflows and, with
 * eviction, its idle evicted ones: they keep their leases), every `leaseMs / 3`. A renewal extends the one row
 * of the owner in `owners` (a workflow's lease is its owner's), so it should cost the same at any N. Measures,
 * at N held leases, one renewal (`renewLeases`, the store's bookkeeping included) and one claim that finds
 * nothing to take (the heartbeat claims too), and the share of the default heartbeat period (5000 / 3 ms).
 *
 *   npx tsx bench/lease-renewal.ts            N = 1,000, 10,000, 100,000
 *   npx tsx bench/lease-renewal.ts --million  N = 1,000, 10,000, 100,000, 1,000,000 (a few minutes)
 *   npx tsx bench/lease-renewal.ts --quick    N = 1,000, 10,000
 *   ... --url=postgres://...                  the server (default $QUEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test)
 *
 * Each N in a fresh schema (dropped afterwards): N running entries inserted in SQL, claimed by one owner through
 * the store (in batches, as managers do), then renewed RUNS times in a row.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { quoteIdentifier } from '../src/storage/postgres/migrations.js';
import { formatDuration, formatInt, machineLoad, median, now, renderTable, stringOption } from './harness.js';

const quick = process.argv.includes('--quick');
const url = stringOption('url') ?? process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SIZES = quick ? [1_000, 10_000] : process.argv.includes('--million') ? [1_000, 10_000, 100_000, 1_000_000] : [1_000, 10_000, 100_000];
const CLAIM_BATCH = 50_000;
const RUNS = 5;
const HEARTBEAT_MS = 5000 / 3;

async function heartbeatMs(admin: pg.Pool, n: number): Promise<{ renewals: number[]; claims: number[] }> {
  const schema = `quest_bench_renew_${randomBytes(4).toString('hex')}`;
  const store = await PostgresStore.open({ connectionString: url, schema, poolSize: 2 });
  try {
    const s = quoteIdentifier(schema);
    await admin.query(
      `INSERT INTO ${s}.workflows (id, state, started_at, type, body, history_rows) SELECT 'w' || g, 'running', g, 't', ` +
        `json_build_object('id', 'w' || g, 'type', 't', 'args', json_build_array(), 'state', 'running', 'startedAt', g, 'deleteOnFinish', false)::text, 0 ` +
        'FROM generate_series(1, $1) AS g',
      [n],
    );
    await admin.query(`VACUUM ANALYZE ${s}.workflows`);
    let claimed = 0;
    for (let batch; (batch = await store.claimWorkflows({ owner: 'bench', leaseMs: 60_000, limit: CLAIM_BATCH })).length > 0; ) claimed += batch.length;
    if (claimed !== n) throw new Error(`claimed ${claimed} of ${n}`);
    await admin.query(`VACUUM ANALYZE ${s}.workflows`);
    const renewals: number[] = [];
    const claims: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let start = now();
      const kept = await store.renewLeases('bench', 60_000);
      renewals.push(now() - start);
      if (kept.length !== n) throw new Error(`renewed ${kept.length} of ${n}`);
      start = now();
      const more = await store.claimWorkflows({ owner: 'bench', leaseMs: 60_000, limit: 200 });
      claims.push(now() - start);
      if (more.length !== 0) throw new Error(`claimed ${more.length} more`);
    }
    return { renewals, claims };
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
    const { renewals, claims } = await heartbeatMs(admin, n);
    const renewal = median(renewals);
    const claim = median(claims);
    const share = (ms: number): string => `${((ms / HEARTBEAT_MS) * 100).toFixed(1)} %`;
    rows.push([formatInt(n), formatDuration(renewal), share(renewal), formatDuration(claim), share(claim)]);
  }
  const columns = [
    'leases held',
    'one renewal (median of 5)',
    'share of the default heartbeat period',
    'a claim finding nothing (median of 5)',
    'share of the period',
  ].map((header) => ({ header, align: 'right' as const }));
  process.stdout.write(`${renderTable('Lease renewal (one heartbeat) on PostgreSQL', columns, rows)}\n`);
  process.stdout.write(`machine load before: ${before}, after: ${machineLoad()}\n`);
} finally {
  await admin.end();
}
