/**
 * A process of the multi-process PostgreSQL benchmarks (bench/postgres-cluster.ts), over one schema:
 *
 *   npx tsx bench/postgres-worker.ts worker <url> <schema> <leaseMs>
 *     a WorkflowManager that claims and runs `steps`, `receiver` and `ticker` workflows until killed; prints
 *     `open`, then `tick <epoch ms>` for every ticker step it executes.
 *   npx tsx bench/postgres-worker.ts sender <url> <schema> <workflowId> <k> <inflight>
 *     posts k events (`put` i on the public queue `in`), `inflight` at a time, from this process, then waits for
 *     the workflow's result (NOTIFY); prints {"ms": ...} from the first post to the result.
 */
import { WorkflowManager, queue, step } from '../src/index.js';
import { PostgresStore } from '../src/storage/postgres/index.js';
import { trivialSteps } from './workloads.js';

const tick = step('tick', async (i: number) => {
  process.stdout.write(`tick ${Date.now()}\n`);
  await new Promise((resolve) => setTimeout(resolve, 5));
  return i;
});

/** The workflows of the benchmarks. */
export const benchWorkflows = {
  steps: trivialSteps,
  receiver: async (k: number): Promise<number> => {
    await using input = await queue<number>('in', null);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += await input.get();
    return sum;
  },
  ticker: async (n: number): Promise<number> => {
    for (let i = 0; i < n; i++) await tick(i);
    return n;
  },
};

async function main(): Promise<void> {
  const [mode, url = '', schema = '', ...rest] = process.argv.slice(2);
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  const store = await PostgresStore.open({ connectionString: url, schema });
  if (mode === 'worker') {
    const manager = await WorkflowManager.open({ store, workflows: benchWorkflows, leases: { leaseMs: Number(rest[0]) } });
    manager.handleSignals({ signals: ['SIGTERM'] });
    process.stdout.write('open\n');
    return;
  }
  const [id = '', kArg = '', inflightArg = ''] = rest;
  const manager = await WorkflowManager.open({ store, workflows: benchWorkflows, leases: { maxWorkflows: 0 } });
  const k = Number(kArg);
  const start = performance.now();
  let next = 0;
  const post = async (): Promise<void> => {
    while (next < k) {
      next++;
      await store.postEvent({ workflowId: id, resource: 'in', identity: null, action: 'put', args: [1] });
    }
  };
  await Promise.all(Array.from({ length: Number(inflightArg) }, post));
  const sum = await manager.getResult<number>(id);
  const ms = performance.now() - start;
  if (sum !== k) throw new Error(`receiver returned ${sum}, expected ${k}`);
  process.stdout.write(`${JSON.stringify({ ms })}\n`);
  await manager.close();
}

await main();
