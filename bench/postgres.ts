/**
 * Benchmarks of Quest for TypeScript on PostgresStore (group commit, leases), against PostgreSQL's own limit on
 * this machine and side by side with DBOS Transact on the same server in the same run (DBOS lives in
 * bench/peers with its own package.json: `cd bench/peers && npm install` once; without it, DBOS is skipped).
 *
 *   npx tsx bench/postgres.ts            tables on stdout (progress on stderr)
 *   npx tsx bench/postgres.ts --json     one JSON document on stdout instead
 *   npx tsx bench/postgres.ts --quick    fewer runs and smaller sizes (a smoke test)
 *   ... --url=postgres://...             the server (default $QUEST_PG_URL, else postgres://postgres@127.0.0.1:5432/test)
 *
 * What is measured (each run in a fresh schema, dropped afterwards):
 * 0. the server's limit: N one-row autocommit INSERTs in a row from one connection (node-postgres alone);
 * 1. durable sequential steps: one workflow awaits N trivial steps, run by a Historian over `store.history(id)`;
 * 2. concurrent steps: W = 100 workflows x 200 trivial steps, all started at once; total steps/s and
 *    transactions per step (group commit);
 * 3. one-step workflows through a WorkflowManager: W workflows started at once, all results collected;
 * 4. (bench/postgres-cluster.ts) outside events/s posted by another process; failover time from the SIGKILL
 *    of an owner to the first step of its workflow in another process; steps/s with 1, 2 and 4 processes;
 * and the same figures of DBOS where it has them (bench/peers/dbos.mjs).
 */
import pg from 'pg';
import { Historian, WorkflowManager, step } from '../src/index.js';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { quoteIdentifier } from '../src/storage/postgres/migrations.js';
import { Report, formatDuration, formatInt, formatRate, machineLoad, measure, now, renderTable, stringOption, type Timing } from './harness.js';
import { checkSum, trivialSteps } from './workloads.js';
import { dbos, dbosInstalled, eventsFromAnotherProcess, failover, scaling } from './postgres-cluster.js';

const report = new Report('postgres');
const quick = process.argv.includes('--quick');
const url = stringOption('url') ?? process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = quick ? 2 : 3;
const RAW_N = quick ? 200 : 1_000;
const SEQUENTIAL_N = quick ? 200 : 1_000;
const CONCURRENT_WORKFLOWS = 100;
const STEPS_PER_WORKFLOW = quick ? 50 : 200;
const ONE_STEP_WORKFLOWS = quick ? 200 : 1_000;
const MANY_WORKFLOWS = 1_000;
const STEPS_OF_MANY = quick ? 5 : 20;
const EVENTS = quick ? 200 : 2_000;
const EVENTS_INFLIGHT = 10;
const SCALE_WORKFLOWS = quick ? 50 : 200;
const SCALE_STEPS = quick ? 10 : 50;
const LEASE_MS = 5000;

const admin = new pg.Pool({ connectionString: url, max: 2 });
admin.on('error', () => undefined);
let schemas = 0;

/** A fresh store in its own schema; `done()` closes it and drops the schema. */
async function freshStore(): Promise<{ store: PostgresStore; done: () => Promise<void> }> {
  const schema = `quest_bench_${process.pid}_${++schemas}`;
  const store = await PostgresStore.open({ connectionString: url, schema });
  return {
    store,
    done: async () => {
      await store.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
    },
  };
}


interface Figure {
  timing: Timing;
  perSecond: number;
  transactions: number;
}

/** Run `once` (a fresh store each time, timed inside) RUNS times after a warm-up; the median and its transactions. */
async function figure(count: number, once: (store: PostgresStore) => Promise<number>): Promise<Figure> {
  const transactions: number[] = [];
  const timing = await measure(async () => {
    const { store, done } = await freshStore();
    try {
      const before = store.stats.transactions;
      const ms = await once(store);
      transactions.push(store.stats.transactions - before);
      return ms;
    } finally {
      await done();
    }
  }, { runs: RUNS, warmup: 1 });
  const sorted = transactions.slice(1).sort((a, b) => a - b);
  return { timing, perSecond: (count * 1000) / timing.medianMs, transactions: sorted[sorted.length >> 1] ?? 0 };
}

/** 0. node-postgres alone: RAW_N autocommit INSERTs of a ~100 B body into a table like Quest's. */
async function rawInserts(): Promise<Figure> {
  const schema = `quest_bench_raw_${process.pid}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE ${schema}.records (workflow_id text NOT NULL, seq bigint NOT NULL, body text NOT NULL, PRIMARY KEY (workflow_id, seq))`);
    const body = JSON.stringify({ v: 1, seq: 0, t: Date.now(), task: 'main', type: 'step_end', id: 'main/trivial#1000', ok: true, value: 1000 });
    let seq = 0;
    const timing = await measure(async () => {
      const start = now();
      for (let i = 0; i < RAW_N; i++) await client.query(`INSERT INTO ${schema}.records VALUES ($1, $2, $3)`, ['w', ++seq, body]);
      return now() - start;
    }, { runs: RUNS, warmup: 1, gcBetween: false });
    return { timing, perSecond: (RAW_N * 1000) / timing.medianMs, transactions: RAW_N };
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

let unique = 0;

/** 1. One workflow, SEQUENTIAL_N steps. */
function sequential(): Promise<Figure> {
  return figure(SEQUENTIAL_N, async (store) => {
    const id = `sequential-${++unique}`;
    const start = now();
    checkSum(SEQUENTIAL_N, await new Historian(id, trivialSteps, store.history(id)).run(SEQUENTIAL_N));
    return now() - start;
  });
}

/** 1b. One workflow, SEQUENTIAL_N steps, through a manager: leased, so every commit is fenced. */
function sequentialManaged(): Promise<Figure> {
  return figure(SEQUENTIAL_N, async (store) => {
    const managed = await WorkflowManager.open({ store, workflows: { trivialSteps }, inboxPollMs: 0 });
    const start = now();
    checkSum(SEQUENTIAL_N, await (await managed.start('trivialSteps', `seq-${++unique}`, SEQUENTIAL_N)).result());
    const ms = now() - start;
    await managed.close();
    return ms;
  });
}

/** 2. `workflows` workflows x `steps` steps at once. */
function concurrent(workflows = CONCURRENT_WORKFLOWS, steps = STEPS_PER_WORKFLOW): Promise<Figure> {
  return figure(workflows * steps, async (store) => {
    const historians = Array.from({ length: workflows }, () => {
      const id = `concurrent-${++unique}`;
      return new Historian(id, trivialSteps, store.history(id));
    });
    const start = now();
    const sums = await Promise.all(historians.map((historian) => historian.run(steps)));
    const ms = now() - start;
    for (const sum of sums) checkSum(steps, sum);
    return ms;
  });
}

/** A figure measured once per run by `once` (ms for `count` units), as a Figure (no transaction count). */
async function timesOf(count: number, once: () => Promise<number>, runs = RUNS): Promise<Figure> {
  const timing = await measure(once, { runs, warmup: 0, gcBetween: false });
  return { timing, perSecond: (count * 1000) / timing.medianMs, transactions: 0 };
}

/** DBOS's figure (median of RUNS), or undefined when it is not installed. */
async function dbosFigure(figure: string, ...args: number[]): Promise<Figure | undefined> {
  if (!dbosInstalled()) return undefined;
  let count = 0;
  const timing = await measure(async () => {
    const result = await dbos(url, figure, ...args);
    count = result.count;
    return result.ms;
  }, { runs: RUNS, warmup: 0, gcBetween: false });
  return { timing, perSecond: (count * 1000) / timing.medianMs, transactions: 0 };
}

const one = step('one', async (i: number) => i + 1);
const workflows = { single: (i: number): Promise<number> => one(i) };

/** 3. ONE_STEP_WORKFLOWS one-step workflows started at once through a manager (which closes the store). */
function manager(): Promise<Figure> {
  return figure(ONE_STEP_WORKFLOWS, async (store) => {
    const managed = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
    const start = now();
    const handles = await Promise.all(Array.from({ length: ONE_STEP_WORKFLOWS }, (_, i) => managed.start('single', `w${i}`, i)));
    const results = await Promise.all(handles.map((handle) => handle.result()));
    const ms = now() - start;
    await managed.close();
    for (const [i, result] of results.entries()) if (result !== i + 1) throw new Error(`workflow w${i} returned ${result}`);
    return ms;
  });
}

async function main(): Promise<void> {
  report.note(`machine load before: ${machineLoad()}`);
  const rows: [string, Figure, string, string][] = [];
  const add = (name: string, figure: Figure, unit: string, count: number): void => {
    rows.push([name, figure, unit, figure.transactions === 0 ? '-' : (figure.transactions / count).toFixed(3)]);
    report.add('figures', { name, perSecond: figure.perSecond, unit, medianMs: figure.timing.medianMs, runsMs: figure.timing.runs, transactions: figure.transactions });
  };
  const versus: [string, Figure, Figure | undefined, string][] = [];
  const compare = (name: string, quest: Figure, peer: Figure | undefined, unit: string): void => {
    versus.push([name, quest, peer, unit]);
    report.add('versus', { name, quest: quest.perSecond, dbos: peer?.perSecond, unit, questRunsMs: quest.timing.runs, dbosRunsMs: peer?.timing.runs });
  };
  report.note(`raw autocommit INSERTs, N = ${formatInt(RAW_N)} ...`);
  add(`node-postgres alone: autocommit INSERTs, N = ${formatInt(RAW_N)}`, await rawInserts(), 'rows/s', RAW_N);

  report.note(`sequential steps, N = ${formatInt(SEQUENTIAL_N)} ...`);
  const seq = await sequential();
  add(`sequential durable steps, one workflow, N = ${formatInt(SEQUENTIAL_N)}`, seq, 'steps/s', SEQUENTIAL_N);
  const seqManaged = await sequentialManaged();
  add(`  the same through a manager (leased: fenced commits)`, seqManaged, 'steps/s', SEQUENTIAL_N);
  compare(`sequential steps, one workflow, N = ${formatInt(SEQUENTIAL_N)} (manager)`, seqManaged, await dbosFigure('sequential', SEQUENTIAL_N), 'steps/s');

  report.note(`concurrent steps, ${CONCURRENT_WORKFLOWS} x ${STEPS_PER_WORKFLOW} ...`);
  const conc = await concurrent();
  add(`concurrent steps, ${CONCURRENT_WORKFLOWS} workflows x ${STEPS_PER_WORKFLOW}`, conc, 'steps/s', CONCURRENT_WORKFLOWS * STEPS_PER_WORKFLOW);
  compare(`concurrent steps, ${CONCURRENT_WORKFLOWS} workflows (DBOS: x 20 steps)`, conc, await dbosFigure('concurrent', CONCURRENT_WORKFLOWS, 20), 'steps/s');
  report.note(`concurrent steps, ${MANY_WORKFLOWS} x ${STEPS_OF_MANY} ...`);
  const many = await concurrent(MANY_WORKFLOWS, STEPS_OF_MANY);
  add(`concurrent steps, ${formatInt(MANY_WORKFLOWS)} workflows x ${STEPS_OF_MANY}`, many, 'steps/s', MANY_WORKFLOWS * STEPS_OF_MANY);
  compare(`concurrent steps, ${formatInt(MANY_WORKFLOWS)} workflows (DBOS: x 2 steps)`, many, await dbosFigure('concurrent', MANY_WORKFLOWS, 2), 'steps/s');

  report.note(`one-step workflows through the manager, W = ${formatInt(ONE_STEP_WORKFLOWS)} ...`);
  const wf = await manager();
  add(`one-step workflows through the manager, W = ${formatInt(ONE_STEP_WORKFLOWS)}`, wf, 'workflows/s', ONE_STEP_WORKFLOWS);
  compare(`one-step workflows started at once, W = ${formatInt(ONE_STEP_WORKFLOWS)}`, wf, await dbosFigure('workflows', ONE_STEP_WORKFLOWS), 'workflows/s');

  report.note(`outside events from another process, K = ${formatInt(EVENTS)}, ${EVENTS_INFLIGHT} in flight ...`);
  const events = await timesOf(EVENTS, () => eventsFromAnotherProcess(url, EVENTS, EVENTS_INFLIGHT, LEASE_MS));
  add(`outside events from another process (inbox), K = ${formatInt(EVENTS)}`, events, 'events/s', EVENTS);
  compare(`messages into a workflow, K = ${formatInt(EVENTS)}, ${EVENTS_INFLIGHT} in flight (DBOS: send/recv)`, events, await dbosFigure('messages', EVENTS, EVENTS_INFLIGHT), 'messages/s');

  report.note(`failover after SIGKILL, lease ${LEASE_MS} ms ...`);
  const failed = await measure(() => failover(url, LEASE_MS), { runs: quick ? 1 : 2, warmup: 0, gcBetween: false });
  report.add('failover', { leaseMs: LEASE_MS, medianMs: failed.medianMs, runsMs: failed.runs });
  const scaled: [number, number][] = [];
  for (const processes of [1, 2, 4]) {
    report.note(`${processes} process(es), ${SCALE_WORKFLOWS} workflows x ${SCALE_STEPS} steps ...`);
    const rate = await scaling(url, processes, SCALE_WORKFLOWS, SCALE_STEPS, LEASE_MS);
    scaled.push([processes, rate]);
    report.add('scaling', { processes, stepsPerSecond: rate });
  }

  report.print(renderTable(
    `PostgresStore on ${new URL(url).host} (median of ${RUNS} runs; machine load after: ${machineLoad()})`,
    [{ header: 'figure', align: 'left' }, { header: 'median' }, { header: 'min … max' }, { header: 'rate' }, { header: 'tx per unit' }],
    rows.map(([name, f, unit, tx]) => [name, formatDuration(f.timing.medianMs), `${formatDuration(f.timing.minMs)} … ${formatDuration(f.timing.maxMs)}`, `${formatRate(f.perSecond)} ${unit}`, tx]),
  ));
  report.print(renderTable(
    `Quest and DBOS Transact on the same server, same run${dbosInstalled() ? '' : ' (DBOS not installed: cd bench/peers && npm install)'}`,
    [{ header: 'figure', align: 'left' }, { header: 'Quest' }, { header: 'DBOS' }, { header: 'Quest / DBOS' }],
    versus.map(([name, quest, peer, unit]) => [
      name, `${formatRate(quest.perSecond)} ${unit}`, peer === undefined ? '-' : `${formatRate(peer.perSecond)} ${unit}`,
      peer === undefined ? '-' : `${(quest.perSecond / peer.perSecond).toFixed(1)}x`,
    ]),
  ));
  report.print(renderTable(
    `Many processes (lease ${LEASE_MS} ms; ${SCALE_WORKFLOWS} workflows x ${SCALE_STEPS} steps, created unowned, claimed by the workers)`,
    [{ header: 'figure', align: 'left' }, { header: 'value' }],
    [
      [`failover: SIGKILL of the owner -> first step in another process (median of ${failed.runs.length})`, `${formatDuration(failed.medianMs)} (${failed.runs.map((ms) => formatDuration(ms)).join(', ')})`],
      ...scaled.map(([processes, rate]): [string, string] => [`${processes} process(es)`, `${formatRate(rate)} steps/s`]),
    ],
  ));
  report.finish();
  await admin.end();
}

await main();
