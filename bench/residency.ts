/**
 * How close the manager's memory estimate of a resident run (ManagerOptions.maxResidentBytes) is to the heap
 * such a run really takes (issue 10).
 *
 *   npm run bench:residency              every workload below
 *   npm run bench:residency -- --quick   a tenth of the workflows (a smoke test)
 *
 * Run with `node --expose-gc` (the npm script does): the heap is read after a full garbage collection.
 *
 * For each workload, N workflows wait idle in a manager over an in-memory SQLite database (its pages are
 * outside V8's heap, as a file's would be: a MemoryStore would keep in the heap the very strings the
 * workflows hold), twice in the same process:
 * - all resident (budgets that never bind): V8 heap growth per workflow, and the manager's estimate
 *   (manager.residency().estimatedBytes / N);
 * - all evicted but one (maxResident 1): heap growth per workflow of what an evicted workflow still costs
 *   (the manager's bookkeeping).
 * The real cost of a resident run is the difference; the estimate is meant to be near it (within a few tens of
 * percent: it is for a budget, not an accounting), and never far below it for workflows holding large state.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowManager, queue, state, task } from '../src/index.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { forceGc, formatBytes, formatInt, gcAvailable, machineLoad, renderTable } from './harness.js';

const quick = process.argv.includes('--quick');

const workflows = {
  /** Waits on an empty queue. */
  empty: async (): Promise<void> => {
    await using q = await queue<string>('q', null);
    await q.get();
  },
  /** Keeps what is put on `items` (the bench puts strings or objects) until a put on `go`. */
  holder: async (): Promise<void> => {
    await using _items = await queue<unknown>('items', null);
    await using go = await queue<boolean>('go', null);
    await go.get();
  },
  /** Holds a state of `rows` small objects ({ id, name, tags }), made by the workflow itself. */
  table: async (rows: number): Promise<void> => {
    const value = Array.from({ length: rows }, (_, id) => ({ id, name: `row ${id}`, tags: ['a', 'b'] }));
    await using _table = await state('table', null, value);
    await using go = await queue<boolean>('go', null);
    await go.get();
  },
  /** Ten tasks each waiting on the same queue, and the workflow on another (an idle run: every task waits on a queue). */
  tasks: async (): Promise<void> => {
    await using work = await queue<boolean>('work', null);
    await using go = await queue<boolean>('go', null);
    const waitOne = task('wait', async () => void (await work.get()));
    for (let i = 0; i < 10; i++) waitOne();
    await go.get();
  },
};

type Manager = WorkflowManager<typeof workflows>;

interface Workload {
  name: string;
  count: number;
  /** Start workflow `id` and bring it to where it waits, holding its state. */
  start(manager: Manager, id: string): Promise<void>;
}

/** A string of `length` characters as one from the network would be: flat (not built by concatenation) and unique. */
function text(length: number): string {
  return randomBytes(length / 2).toString('hex');
}

function holding(name: string, count: number, items: number, item: (i: number) => unknown): Workload {
  return {
    name,
    count,
    async start(manager, id) {
      await manager.start('holder', id);
      await manager.waitForResource(id, 'go', null);
      const target = manager.queue<unknown>(id, 'items', null);
      for (let i = 0; i < items; i++) await target.put(item(i));
    },
  };
}

const scale = quick ? 10 : 1;
const WORKLOADS: Workload[] = [
  {
    name: 'waiting on an empty queue',
    count: 5_000 / scale,
    async start(manager, id) {
      await manager.start('empty', id);
      await manager.waitForResource(id, 'q', null);
    },
  },
  holding('a queue of 100 strings of 1 KiB', 500 / scale, 100, () => text(1024)),
  holding('a queue of 10 strings of 100 KiB', 100 / scale, 10, () => text(100 * 1024)),
  holding('a queue of 100 objects { id, name, at, tags }', 500 / scale, 100, (i) => ({ id: i, name: `item ${i}`, at: 1.5 * i, tags: ['x', 'y'] })),
  {
    name: 'a state of 1,000 rows { id, name, tags }',
    count: 200 / scale,
    async start(manager, id) {
      await manager.start('table', id, 1_000);
      await manager.waitForResource(id, 'go', null);
    },
  },
  {
    name: 'ten tasks waiting on a queue',
    count: 2_000 / scale,
    async start(manager, id) {
      await manager.start('tasks', id);
      await manager.waitForResource(id, 'go', null);
    },
  },
];

/** Heap used after full collections, once what the previous measurement left behind (closed stores, timers) is gone. */
async function heapAfterGc(): Promise<number> {
  await sleep(50);
  forceGc();
  forceGc();
  return process.memoryUsage().heapUsed;
}

async function evictedCount(manager: Manager): Promise<number> {
  return (await manager.list()).filter((info) => info.resident === false).length;
}

/** Heap growth per workflow with `count` of them waiting, and the manager's estimate then. */
async function measure(workload: Workload, evict: boolean): Promise<{ perWorkflow: number; estimate: number }> {
  const before = await heapAfterGc();
  const budget = evict ? { maxResident: 1 } : { maxResident: Number.MAX_SAFE_INTEGER, maxResidentBytes: Number.MAX_SAFE_INTEGER };
  const manager = await WorkflowManager.open({ store: new SqliteStore(':memory:'), workflows, ...budget });
  const ids = Array.from({ length: workload.count }, (_, i) => `w${i}`);
  for (let from = 0; from < ids.length; from += 100) await Promise.all(ids.slice(from, from + 100).map((id) => workload.start(manager, id)));
  // Evictions run at the end of event-loop turns: wait until the budget holds (a bench may poll).
  while (evict && (await evictedCount(manager)) < workload.count - 1) await new Promise((resolve) => setTimeout(resolve, 20));
  const after = await heapAfterGc();
  const estimate = manager.residency().estimatedBytes / workload.count;
  await manager.close();
  return { perWorkflow: (after - before) / workload.count, estimate };
}

async function main(): Promise<void> {
  if (gcAvailable() === null) throw new Error('Run with node --expose-gc (npm run bench:residency does).');
  process.stdout.write(`Memory estimate of resident runs against the heap — node ${process.version}; ${machineLoad()}\n\n`);
  const rows: string[][] = [];
  // Warm-up: compile what the measurements run, so that their heap figures hold workflows, not code.
  await measure({ ...(WORKLOADS[0] as Workload), count: 200 }, false);
  await measure({ ...(WORKLOADS[0] as Workload), count: 200 }, true);
  for (const workload of WORKLOADS) {
    process.stderr.write(`  ${workload.name}…\n`);
    const resident = await measure(workload, false);
    const evicted = await measure(workload, true);
    const real = resident.perWorkflow - evicted.perWorkflow;
    rows.push([
      workload.name,
      formatInt(workload.count),
      formatBytes(resident.perWorkflow),
      formatBytes(evicted.perWorkflow),
      formatBytes(real),
      formatBytes(resident.estimate),
      `${((resident.estimate / real) * 100).toFixed(0)} %`,
    ]);
  }
  const columns = ['workload', 'workflows', 'heap per resident', 'heap per evicted', 'run (difference)', 'estimate per run', 'estimate / run'].map((header, i) => ({ header, align: i === 0 ? ('left' as const) : ('right' as const) }));
  process.stdout.write(`${renderTable('Heap growth per workflow after GC, against the estimate (manager.residency())', columns, rows)}\n`);
  process.stdout.write(`\nAt the end: ${machineLoad()}\n`);
}

await main();
