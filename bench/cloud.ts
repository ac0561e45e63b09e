/**
 * Benchmarks of the S3 and DynamoDB stores against local protocol servers (s3rver, dynalite) started in a
 * child process (bench/cloud-servers.ts) on 127.0.0.1. The local figures say what the stores cost in
 * requests and bytes, which is what the real services charge for; their speed is the local servers' (a real
 * service adds its network latency per request: see docs/performance.md for the figures on paper). No peer
 * runs here: quest.py's AWS extras need boto3 and AWS, neither of which this machine has; the SQLite store
 * runs the same workloads as the local reference.
 *
 *   npx tsx bench/cloud.ts            tables on stdout (progress on stderr)
 *   npx tsx bench/cloud.ts --json     one JSON document on stdout instead
 *   npx tsx bench/cloud.ts --quick    fewer runs and smaller sizes (a smoke test)
 *
 * What is measured, per store (a fresh prefix or table for each run):
 * 1. sequential steps: one workflow awaits N trivial steps (a Historian over `store.history(id)`);
 * 2. concurrent steps: W workflows x S trivial steps, all at once;
 * 3. one-step workflows through a WorkflowManager: W workflows started at once, all results collected;
 * and for each: requests per completed step or workflow (counted by SDK middleware, every HTTP attempt,
 * by operation), request bytes sent per step, and the bytes the store holds at the end per step.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Historian, WorkflowManager, step } from '../src/index.js';
import type { Store } from '../src/storage/store.js';
import { S3Store } from '../src/storage/s3/index.js';
import { DynamoStore } from '../src/storage/dynamodb/index.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { LOCAL_CREDENTIALS, TEST_BUCKET } from '../test/storage/cloud-locations.js';
import { Report, formatDuration, formatInt, formatRate, machineLoad, measure, now, renderTable, scratchDirectory, type Timing } from './harness.js';
import { checkSum, trivialSteps } from './workloads.js';

const report = new Report('cloud');
const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const SEQUENTIAL_N = quick ? 50 : 300;
const CONCURRENT_WORKFLOWS = 20;
const STEPS_PER_WORKFLOW = quick ? 10 : 50;
const ONE_STEP_WORKFLOWS = quick ? 20 : 200;

/** Requests counted by SDK middleware: every HTTP attempt, with its body's bytes, by operation. */
class RequestCounter {
  requests = 0;
  bytesSent = 0;
  readonly byOperation = new Map<string, number>();

  /** Count every request `client` sends from now on. */
  attach(client: S3Client | DynamoDBClient): void {
    // The deserialize step wraps each HTTP attempt (retries included), with the request already built.
    (client.middlewareStack as { add: (middleware: unknown, options: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { request?: { body?: unknown } }) => {
        this.requests++;
        const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
        this.byOperation.set(operation, (this.byOperation.get(operation) ?? 0) + 1);
        const body = args.request?.body;
        this.bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.length : 0;
        return next(args);
      },
      { step: 'deserialize', name: 'questBenchRequestCounter' },
    );
  }

  reset(): void {
    this.requests = 0;
    this.bytesSent = 0;
    this.byOperation.clear();
  }
}

/** A store under test: how to open a fresh one, and how many bytes it holds. */
interface Backend {
  name: string;
  /** A fresh, empty store with its request counter (none for SQLite). */
  fresh(): Promise<{ store: Store; counter?: RequestCounter; storedBytes: () => Promise<number>; done: () => Promise<void> }>;
}

const unique = (): string => `b${process.pid}-${randomBytes(4).toString('hex')}`;

function s3Backend(endpoint: string): Backend {
  return {
    name: 'S3Store on s3rver',
    async fresh() {
      const counter = new RequestCounter();
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
      counter.attach(client);
      const prefix = `${unique()}/`;
      const store = await S3Store.open({ bucket: TEST_BUCKET, prefix, client });
      counter.reset();
      const storedBytes = async () => {
        let bytes = 0;
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: prefix, ContinuationToken: token }));
          for (const object of page.Contents ?? []) bytes += object.Size ?? 0;
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return bytes;
      };
      return { store, counter, storedBytes, done: async () => { await store.close(); client.destroy(); } };
    },
  };
}

/** DynamoDB's item size: the UTF-8 lengths of attribute names and values (numbers: about one byte per two digits, plus one). */
function itemBytes(item: Record<string, { S?: string; N?: string; L?: Array<{ N?: string }> }>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name);
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S);
    if (value.N !== undefined) bytes += Math.ceil(value.N.length / 2) + 1;
    if (value.L !== undefined) bytes += 3 + value.L.reduce((sum, element) => sum + Math.ceil((element.N ?? '').length / 2) + 2, 0);
  }
  return bytes;
}

function dynamoBackend(endpoint: string): Backend {
  return {
    name: 'DynamoStore on dynalite',
    async fresh() {
      const counter = new RequestCounter();
      const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
      counter.attach(client);
      const table = unique();
      const store = await DynamoStore.open({ table, client, createTable: true });
      counter.reset();
      const storedBytes = async () => {
        let bytes = 0;
        let start: Record<string, never> | undefined;
        do {
          const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
          for (const item of page.Items ?? []) bytes += itemBytes(item as never);
          start = page.LastEvaluatedKey as never;
        } while (start !== undefined);
        return bytes;
      };
      return { store, counter, storedBytes, done: async () => { await store.close(); client.destroy(); } };
    },
  };
}

function sqliteBackend(): Backend {
  return {
    name: 'SqliteStore (local reference)',
    async fresh() {
      const directory = scratchDirectory('quest-bench-cloud-');
      const store = new SqliteStore(join(directory, 'quest.sqlite'));
      return { store, storedBytes: () => Promise.resolve(Number.NaN), done: async () => { await store.close(); rmSync(directory, { recursive: true, force: true }); } };
    },
  };
}


const one = step('one', async (i: number) => i + 1);
const workflows = { single: (i: number): Promise<number> => one(i) };

/** A workload: run it on `store` and return the time it took (ms). */
type Workload = { name: string; units: number; unit: string; run: (store: Store) => Promise<number> };

const WORKLOADS: Workload[] = [
  {
    name: `sequential steps, one workflow, N = ${formatInt(SEQUENTIAL_N)}`, units: SEQUENTIAL_N, unit: 'steps/s',
    async run(store) {
      const start = now();
      checkSum(SEQUENTIAL_N, await new Historian('sequential', trivialSteps, store.history('sequential')).run(SEQUENTIAL_N));
      return now() - start;
    },
  },
  {
    name: `concurrent steps, ${CONCURRENT_WORKFLOWS} workflows x ${STEPS_PER_WORKFLOW}`, units: CONCURRENT_WORKFLOWS * STEPS_PER_WORKFLOW, unit: 'steps/s',
    async run(store) {
      const historians = Array.from({ length: CONCURRENT_WORKFLOWS }, (_, i) => new Historian(`c${i}`, trivialSteps, store.history(`c${i}`)));
      const start = now();
      const sums = await Promise.all(historians.map((historian) => historian.run(STEPS_PER_WORKFLOW)));
      const ms = now() - start;
      for (const sum of sums) checkSum(STEPS_PER_WORKFLOW, sum);
      return ms;
    },
  },
  {
    name: `one-step workflows through the manager, W = ${formatInt(ONE_STEP_WORKFLOWS)}`, units: ONE_STEP_WORKFLOWS, unit: 'workflows/s',
    async run(store) {
      const managed = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
      const start = now();
      const handles = await Promise.all(Array.from({ length: ONE_STEP_WORKFLOWS }, (_, i) => managed.start('single', `w${i}`, i)));
      const results = await Promise.all(handles.map((handle) => handle.result()));
      const ms = now() - start;
      for (const [i, result] of results.entries()) if (result !== i + 1) throw new Error(`workflow w${i} returned ${result}`);
      await managed.close();
      return ms;
    },
  },
];

interface Figure {
  timing: Timing;
  perSecond: number;
  requestsPerUnit: number;
  bytesSentPerUnit: number;
  storedBytesPerUnit: number;
  byOperation: Record<string, number>;
}

async function figure(backend: Backend, workload: Workload): Promise<Figure> {
  const last = { requests: 0, bytesSent: 0, stored: 0, byOperation: {} as Record<string, number> };
  const timing = await measure(async () => {
    const { store, counter, storedBytes, done } = await backend.fresh();
    try {
      const ms = await workload.run(store);
      last.requests = counter?.requests ?? Number.NaN;
      last.bytesSent = counter?.bytesSent ?? Number.NaN;
      last.byOperation = Object.fromEntries([...(counter?.byOperation ?? new Map<string, number>())].map(([name, count]) => [name, count / workload.units]));
      last.stored = await storedBytes();
      return ms;
    } finally {
      await done();
    }
  }, { runs: RUNS, warmup: quick ? 0 : 1 });
  return {
    timing,
    perSecond: (workload.units * 1000) / timing.medianMs,
    requestsPerUnit: last.requests / workload.units,
    bytesSentPerUnit: last.bytesSent / workload.units,
    storedBytesPerUnit: last.stored / workload.units,
    byOperation: last.byOperation,
  };
}

/** Start the servers' process; `stop()` closes its stdin, after which it stops them and exits. */
async function startServers(): Promise<{ s3: string; dynamodb: string; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./cloud-servers.ts', import.meta.url));
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = await Promise.race([
    once(createInterface({ input: child.stdout }), 'line') as Promise<[string]>,
    exited.then(() => { throw new Error('the servers process ended before it started the servers'); }),
  ]);
  const endpoints = JSON.parse(line) as { s3: string; dynamodb: string };
  return { ...endpoints, stop: async () => { child.stdin.end(); await exited; } };
}

const fixed = (value: number, digits = 2): string => (Number.isNaN(value) ? '—' : value.toFixed(digits));

async function main(): Promise<void> {
  report.note(`machine load before: ${machineLoad()}`);
  const servers = await startServers();
  try {
    const backends = [s3Backend(servers.s3), dynamoBackend(servers.dynamodb), sqliteBackend()];
    const rows: string[][] = [];
    for (const backend of backends) {
      for (const workload of WORKLOADS) {
        report.note(`${backend.name}: ${workload.name} ...`);
        const result = await figure(backend, workload);
        const unit = workload.unit.replace('/s', '').replace(/s$/, '');
        rows.push([
          backend.name, workload.name, formatDuration(result.timing.medianMs), `${formatRate(result.perSecond)} ${workload.unit}`,
          fixed(result.requestsPerUnit), fixed(result.bytesSentPerUnit, 0), fixed(result.storedBytesPerUnit, 0),
          Object.entries(result.byOperation).map(([name, count]) => `${name} ${count.toFixed(2)}`).join(', ') || '—',
        ]);
        report.add('figures', { backend: backend.name, workload: workload.name, unit, ...result, runsMs: result.timing.runs });
      }
    }
    report.print(renderTable(
      `Cloud stores against local servers (median of ${RUNS} runs; per step or per workflow; machine load after: ${machineLoad()})`,
      [
        { header: 'store', align: 'left' }, { header: 'workload', align: 'left' }, { header: 'median' }, { header: 'rate' },
        { header: 'requests/unit' }, { header: 'bytes sent/unit' }, { header: 'bytes held/unit' }, { header: 'requests by operation, per unit', align: 'left' },
      ],
      rows,
    ));
  } finally {
    await servers.stop();
  }
  report.finish();
}

await main();
