/**
 * The workflows of postgres-eviction.test.ts, and its child process: a manager over a shared PostgreSQL schema
 * (maxResident 1) with three workflows, of which the sleeper `sl` and the waiter `w1` get evicted (`hot` stays
 * resident); the test then pauses it (SIGSTOP) past the sleep's deadline, has another manager take the
 * workflows over, and lets it go on (SIGCONT).
 *
 * Usage: node --import tsx test/storage/evict-lease-child.ts <schema> <leaseMs>
 *
 * Every start of a workflow function in the child (a first run or a replay) is logged in `<schema>.run_log`
 * with the child's pid. Stdout lines: `evicted` once sl and w1 are evicted (getResult of both is waiting by
 * then); `result <id> <value>` when one of them answers, or `error <id> <name>`; after `go` on stdin, it puts
 * 41 to w1's queue (the workflow no longer runs here: the put goes through the inbox) and prints `acted` or
 * `error act <name>: <message>`; `warn <message>` for each warning of the manager.
 */
import pg from 'pg';
import { createInterface } from 'node:readline';
import { WorkflowManager, queue, sleep, step } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';

/** How long the child's sleeper sleeps, from its start. */
export const SLEEP_MS = 4000;

const plus = step('plus', async (n: number) => n + 1);
const woke = step('woke', async () => Date.now());

/** The workflows; `ran(name)` is called at every start of a workflow function (first run or replay). */
export function evictionWorkflows(ran: (name: string) => void) {
  return {
    /** Waits for one number on its queue `in`, then adds one in a step. */
    waiter: async (name: string): Promise<number> => {
      ran(name);
      await using input = await queue<number>('in', null);
      return await plus(await input.get());
    },
    /** Sleeps `ms`, then says when it woke (a step). */
    sleeper: async (name: string, ms: number): Promise<number> => {
      ran(name);
      await sleep(ms);
      return woke();
    },
  };
}

/** The side table's DDL. */
export function runLogTable(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema)}.run_log (id bigserial PRIMARY KEY, pid integer NOT NULL, workflow text NOT NULL)`;
}

async function main(): Promise<void> {
  const [schema = '', leaseMs = '1000'] = process.argv.slice(2);
  const url = process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const side = new pg.Pool({ connectionString: url, max: 2 });
  side.on('error', () => undefined);
  const logged: Promise<unknown>[] = [];
  const ran = (name: string): void => {
    logged.push(side.query(`INSERT INTO ${quoteIdentifier(schema)}.run_log (pid, workflow) VALUES ($1, $2)`, [process.pid, name]));
  };
  const store = await PostgresStore.open({ connectionString: url, schema, poolSize: 3, idleInTransactionMs: 1000 });
  const manager = await WorkflowManager.open({
    store,
    workflows: evictionWorkflows(ran),
    maxResident: 1,
    leases: { leaseMs: Number(leaseMs) },
    logger: { warn: (_fields: unknown, message?: string) => say(`warn ${String(message)}`) },
  });
  manager.handleSignals({ signals: ['SIGTERM'] });
  for (const id of ['w1', 'hot']) await manager.start('waiter', id, id);
  await manager.start('sleeper', 'sl', 'sl', SLEEP_MS);
  await manager.waitForResource('w1', 'in', null);
  // Outside calls keep `hot` the most recently active: the sleeper and w1 are the ones evicted.
  const cold = async (): Promise<string[]> => (await manager.list()).filter((info) => info.resident === false).map((info) => info.id).sort();
  while ((await cold()).join() !== 'sl,w1') await manager.resources('hot', null);
  await Promise.all(logged);
  for (const id of ['sl', 'w1']) {
    manager.getResult(id).then(
      (value) => say(`result ${id} ${String(value)}`),
      (error: unknown) => say(`error ${id} ${(error as Error).name}`),
    );
  }
  say('evicted');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'go') continue;
    manager.act('w1', 'in', null, 'put', 41).then(
      () => say('acted'),
      (error: unknown) => say(`error act ${(error as Error).name}: ${(error as Error).message}`),
    );
  }
  // The parent's pipe closed: nobody will stop us.
  process.exit(2);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  await main();
}
