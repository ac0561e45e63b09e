/**
 * The multi-process figures of bench/postgres.ts: worker processes (bench/postgres-worker.ts) sharing one
 * PostgreSQL schema, and DBOS Transact (bench/peers/dbos.mjs, installed in bench/peers with its own
 * package.json) on the same server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { WorkflowManager } from '../src/index.js';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { quoteIdentifier } from '../src/storage/postgres/migrations.js';

const WORKER = fileURLToPath(new URL('./postgres-worker.ts', import.meta.url));
const PEERS = fileURLToPath(new URL('./peers/', import.meta.url));

interface Worker {
  child: ChildProcess;
  /** Resolves with the first stdout line that `matches`. */
  line(matches: (line: string) => boolean): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function spawnWorker(args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  // Anything else a worker prints (a warning of its manager, as JSON) goes to stderr, where progress goes.
  child.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.startsWith('{"level"')) process.stderr.write(`${line}\n`);
  });
  const waiting: { matches: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    for (const waiter of [...waiting]) {
      if (!waiter.matches(line)) continue;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    line: (matches) => new Promise((resolve) => waiting.push({ matches, resolve })),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await ended;
    },
  };
}

/** A fresh schema with the store's tables; `drop()` removes it. */
async function freshSchema(url: string, label: string): Promise<{ schema: string; store: PostgresStore; drop: () => Promise<void> }> {
  const schema = `quest_bench_${label}_${process.pid}_${Date.now() % 100000}`;
  const store = await PostgresStore.open({ connectionString: url, schema });
  return {
    schema,
    store,
    drop: async () => {
      await store.close();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
      await admin.end();
    },
  };
}

function entry(id: string, type: string, args: unknown[]) {
  return { id, type, args: args as never[], state: 'running' as const, startedAt: Date.now(), deleteOnFinish: false };
}

/**
 * Outside events from another process: a worker runs a workflow reading `k` items from its queue; a sender
 * process posts them to the inbox, `inflight` at a time. Milliseconds from the first post to the result.
 */
export async function eventsFromAnotherProcess(url: string, k: number, inflight: number, leaseMs: number): Promise<number> {
  const { schema, store, drop } = await freshSchema(url, 'events');
  const worker = spawnWorker(['worker', url, schema, String(leaseMs)]);
  try {
    await worker.line((line) => line === 'open');
    await store.createWorkflow(entry('r', 'receiver', [k]));
    while ((await store.leaseOf('r')) === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    const sender = spawnWorker(['sender', url, schema, 'r', String(k), String(inflight)]);
    const result = await sender.line((line) => line.startsWith('{"ms"'));
    await sender.stop();
    return (JSON.parse(result) as { ms: number }).ms;
  } finally {
    await worker.stop();
    await drop();
  }
}

/**
 * Failover: a worker runs a long `ticker` workflow; another waits; the first is killed with SIGKILL. Milliseconds
 * from the kill to the first step the second executes (its lease must expire, then it claims and replays).
 */
export async function failover(url: string, leaseMs: number): Promise<number> {
  const { schema, store, drop } = await freshSchema(url, 'failover');
  const first = spawnWorker(['worker', url, schema, String(leaseMs)]);
  let second: Worker | undefined;
  try {
    await first.line((line) => line === 'open');
    await store.createWorkflow(entry('t', 'ticker', [1_000_000]));
    second = spawnWorker(['worker', url, schema, String(leaseMs)]);
    await second.line((line) => line === 'open');
    // Some history to replay: the first worker has run a few hundred steps.
    let ticks = 0;
    await first.line(() => ++ticks >= 300);
    const resumed = second.line((line) => line.startsWith('tick '));
    const killedAt = Date.now();
    await first.stop('SIGKILL');
    const tick = await resumed;
    return Number(tick.split(' ')[1]) - killedAt;
  } finally {
    await first.stop('SIGKILL');
    await second?.stop('SIGKILL');
    await drop();
  }
}

/** Throughput with `processes` workers sharing `workflows` workflows of `steps` trivial steps: steps/s. */
export async function scaling(url: string, processes: number, workflows: number, steps: number, leaseMs: number): Promise<number> {
  const { schema, store, drop } = await freshSchema(url, 'scale');
  const workers = Array.from({ length: processes }, () => spawnWorker(['worker', url, schema, String(leaseMs)]));
  const watcher = await WorkflowManager.open({
    store: await PostgresStore.open({ connectionString: url, schema }),
    workflows: {},
    leases: { maxWorkflows: 0 },
  });
  try {
    await Promise.all(workers.map((worker) => worker.line((line) => line === 'open')));
    const start = performance.now();
    const ids = Array.from({ length: workflows }, (_, i) => `s${i}`);
    await Promise.all(ids.map((id) => store.createWorkflow(entry(id, 'steps', [steps]))));
    await Promise.all(ids.map((id) => watcher.getResult(id)));
    return (workflows * steps * 1000) / (performance.now() - start);
  } finally {
    await watcher.close();
    await Promise.all(workers.map((worker) => worker.stop()));
    await drop();
  }
}

/** True when DBOS is installed in bench/peers (`cd bench/peers && npm install`). */
export function dbosInstalled(): boolean {
  return existsSync(`${PEERS}node_modules/@dbos-inc/dbos-sdk`);
}

/** One DBOS figure (see bench/peers/dbos.mjs): its count and milliseconds. */
export function dbos(url: string, figure: string, ...args: number[]): Promise<{ count: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dbos.mjs', url, figure, ...args.map(String)], { cwd: PEERS, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as { count: number; ms: number });
      else reject(new Error(`DBOS ${figure} failed (exit ${code}): ${err.split('\n').filter((l) => !l.includes('DeprecationWarning')).join('\n')}`));
    });
  });
}
