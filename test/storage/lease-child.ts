/**
 * Child process of postgres-processes.test.ts: one of several processes sharing the workflows of one
 * PostgreSQL schema. It opens a WorkflowManager over a PostgresStore (short lease) and runs the `job`
 * workflows it claims, until SIGTERM (graceful close, exit 0) or SIGKILL.
 *
 * Usage: node --import tsx test/storage/lease-child.ts <schema> <leaseMs> <maxWorkflows>
 *
 * Every step execution and every step end the workflow saw is logged in the side table `<schema>.step_log`
 * (kind 'exec' inside the step body, before it returns; kind 'reported' in workflow code after the step
 * returned, so its end is durable), with this process's pid, ordered by a bigserial: a completed step that
 * ran again shows as an 'exec' row after a 'reported' row of the same step. Logging retries until the
 * server answers (it may be restarting).
 *
 * Its connections' application_name is `quest-child-<pid>`. Stdout lines: `open` once open; `warn <message>` for each warning of the manager (a lost lease).
 */
import pg from 'pg';
import { WorkflowManager, step } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';

/** Steps of every job. */
export const JOB_STEPS = 10;

/** What job `n` returns: the sum of its step values. */
export function jobResult(n: number): number {
  let sum = 0;
  for (let i = 0; i < JOB_STEPS; i++) sum += n * 100 + i;
  return sum;
}

/** The side table's DDL. */
export function stepLogTable(schema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema)}.step_log ` +
    '(id bigserial PRIMARY KEY, pid integer NOT NULL, workflow text NOT NULL, step integer, kind text NOT NULL)'
  );
}

async function main(): Promise<void> {
  const [schema = '', leaseArg = '', maxArg = ''] = process.argv.slice(2);
  const url = process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  // Every connection of this process names it (node-postgres reads PGAPPNAME): the tests see who wrote what.
  process.env.PGAPPNAME = `quest-child-${process.pid}`;
  // If the parent dies, nobody will kill us: leave when our stdin (its pipe) closes.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();

  const side = new pg.Pool({ connectionString: url, max: 4 });
  side.on('error', () => undefined);
  const table = `${quoteIdentifier(schema)}.step_log`;
  const log = async (workflow: string, stepIndex: number, kind: string): Promise<void> => {
    for (;;) {
      try {
        await side.query(`INSERT INTO ${table} (pid, workflow, step, kind) VALUES ($1, $2, $3, $4)`, [process.pid, workflow, stepIndex, kind]);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };

  const work = step('work', async (id: string, n: number, i: number) => {
    await log(id, i, 'exec');
    await new Promise((resolve) => setTimeout(resolve, 40));
    return n * 100 + i;
  });
  const workflows = {
    job: async (id: string, n: number): Promise<number> => {
      let sum = 0;
      for (let i = 0; i < JOB_STEPS; i++) {
        sum += await work(id, n, i);
        await log(id, i, 'reported');
      }
      return sum;
    },
  };
  const store = await PostgresStore.open({ connectionString: url, schema, poolSize: 4, idleInTransactionMs: 1000 });
  const manager = await WorkflowManager.open({
    store,
    workflows,
    leases: { leaseMs: Number(leaseArg), maxWorkflows: Number(maxArg) },
    logger: { warn: (_fields: unknown, message?: string) => void process.stdout.write(`warn ${String(message)}\n`) },
    stopGraceMs: 2000,
  });
  manager.handleSignals({ signals: ['SIGTERM'] });
  process.stdout.write('open\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  await main();
}
