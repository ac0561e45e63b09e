/**
 * Child process of manager-crash.test.ts: a WorkflowManager over a SqliteStore that runs `sum` workflows
 * (many steps, nested steps, two tasks) and keeps starting new ones, until the parent kills it.
 *
 * Usage: node --import tsx test/crash/crash-child.ts <database> <log> <concurrency> <mode> [hold]
 * - database: a SQLite file, or `postgres:<schema>` for a PostgresStore in that schema of $QUEST_PG_URL (see
 *   test/storage/postgres-manager.test.ts).
 * - mode 'crash': resume what the store holds, then keep `concurrency` workflows running, starting w<next>
 *   whenever one finishes, forever. With `hold` = M, the M-th step execution of this process never returns
 *   (the child prints "holding <id> <key>"), so the parent kills it mid-step for sure. SIGTERM closes the
 *   manager gracefully (handleSignals) and exits 0.
 * - mode 'finish': start nothing; wait for every workflow of the store, write "final <id> <result>" for each
 *   and "status <id> <status>" from list(), close, exit 0.
 *
 * Every event is appended to `log` with writeSync + fsync BEFORE the child goes on (so the log survives a
 * SIGKILL right after), then echoed on stdout for the parent's kill trigger. Lines:
 *   resumed <id>               a workflow found running at open (both modes)
 *   opened                     after the resumed lines (the workflows are replaying meanwhile); from here
 *                              on SIGTERM closes the manager gracefully (mode crash)
 *   started <id>               start() resolved: the entry is durable
 *   exec <id> <key>            inside a step body, before it returns
 *   reported <id> <key>        in workflow code, after the step returned (its end is durable)
 *   result <id> <value>        getResult() resolved in a crash run
 *   holding <id> <key>         the held step (mode crash with hold)
 *   final <id> <value>         mode finish: getResult() of every workflow of the store
 *   status <id> <status>       mode finish: list() once every workflow has finished
 *   error <id> <message>       anything unexpected
 * Step keys: "<i>" for top-level step i (every 4th one, i % 4 === 3, is a step 'pair' with two nested steps
 * "<i>a", "<i>b"), and "L0", "L1", "R0", "R1" for the steps of the two tasks at the end.
 */
import { fsyncSync, openSync, writeSync } from 'node:fs';
import { WorkflowManager, isSuspension, step, task } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';

/** How many top-level steps workflow w<index> runs (its argument n). */
export function stepsOf(index: number): number {
  return 6 + ((index * 7) % 19);
}

/** The value step `key` of workflow `id` returns: FNV-1a of "<id>/<key>", below 1,000,003. */
export function stepValue(id: string, key: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${id}/${key}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash % 1_000_003;
}

/** Far more workflows than any run gets to: a crash-mode child never runs out of work. */
const MAX_WORKFLOWS = 100_000;
const MOD = 1_000_000_007;

function makeLog(path: string): (line: string) => void {
  const fd = openSync(path, 'a');
  return (line) => {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
    // The file above is the record the parent checks; this line (asynchronous on a pipe, lost if queued at
    // SIGKILL) only paces it.
    process.stdout.write(`${line}\n`);
  };
}

function workflows(note: (line: string) => void, hold: number) {
  let executions = 0;
  /** Log the execution; the `hold`-th one of this process never returns. */
  const executed = async (id: string, key: string): Promise<void> => {
    note(`exec ${id} ${key}`);
    if (++executions === hold) {
      note(`holding ${id} ${key}`);
      await new Promise<never>(() => undefined);
    }
  };
  const unit = step('unit', async (id: string, key: string): Promise<number> => {
    await executed(id, key);
    return stepValue(id, key);
  });
  const pair = step('pair', async (id: string, i: number): Promise<number> => {
    await executed(id, String(i));
    const a = await unit(id, `${i}a`);
    note(`reported ${id} ${i}a`);
    const b = await unit(id, `${i}b`);
    note(`reported ${id} ${i}b`);
    return (a * 7 + b * 3 + stepValue(id, String(i))) % 1_000_003;
  });
  const side = task('side', async (id: string, name: string): Promise<number> => {
    const first = await unit(id, `${name}0`);
    note(`reported ${id} ${name}0`);
    const second = await unit(id, `${name}1`);
    note(`reported ${id} ${name}1`);
    return first * 5 + second;
  });
  return {
    sum: async (id: string, n: number): Promise<number> => {
      let total = 0;
      for (let i = 0; i < n; i++) {
        const value = i % 4 === 3 ? await pair(id, i) : await unit(id, String(i));
        note(`reported ${id} ${i}`);
        total = (total * 31 + value) % MOD;
      }
      const left = side(id, 'L');
      const right = side(id, 'R');
      const [l, r] = [await left, await right];
      return (((total * 31 + l) % MOD) * 31 + r) % MOD;
    },
  };
}

function message(error: unknown): string {
  return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(/\s+/g, ' ');
}

async function openStore(database: string): Promise<Store> {
  if (!database.startsWith('postgres:')) return new SqliteStore(database);
  // Imported here, so that the SQLite runs do not load node-postgres.
  const { PostgresStore } = await import('../../src/storage/postgres/index.js');
  const connectionString = process.env.QUEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  return PostgresStore.open({ connectionString, schema: database.slice('postgres:'.length), poolSize: 3 });
}

async function main(): Promise<void> {
  const [database = '', log = '', concurrencyArg = '', mode = '', holdArg = '0'] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg);
  if (database === '' || log === '' || !(concurrency >= 1) || (mode !== 'crash' && mode !== 'finish')) {
    throw new Error('usage: crash-child.ts <database> <log> <concurrency> crash|finish [hold]');
  }
  // If the parent dies, nobody will kill us: leave when our stdin (its pipe) closes.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  const note = makeLog(log);
  // PostgreSQL: the killed process's leases must expire before this one claims its workflows; a short lease.
  const shared = database.startsWith('postgres:');
  const manager = await WorkflowManager.open({ store: await openStore(database), workflows: workflows(note, Number(holdArg)), leases: { leaseMs: 500 } });
  let closing = false;
  if (mode === 'crash') {
    process.on('SIGTERM', () => (closing = true));
    manager.handleSignals({ signals: ['SIGTERM'] });
  }
  const existing = await manager.list();
  for (const { id, status } of existing) {
    // Shared store: 'suspended' is a workflow still leased by the killed process, claimed here once the lease expires.
    if (status === 'running' || (shared && status === 'suspended')) note(`resumed ${id}`);
    else if (status !== 'completed') note(`error ${id} found ${status} at open`);
  }
  note('opened');

  if (mode === 'finish') {
    await Promise.all(
      existing.map(async ({ id }) => {
        try {
          note(`final ${id} ${String(await manager.getResult(id))}`);
        } catch (error) {
          note(`error ${id} ${message(error)}`);
        }
      }),
    );
    for (const { id, status } of await manager.list()) note(`status ${id} ${status}`);
    await manager.close();
    process.exit(0);
  }

  const active = new Set<string>();
  let wake: (() => void) | undefined;
  const track = (id: string): void => {
    active.add(id);
    void manager.getResult<number>(id).then(
      (value) => note(`result ${id} ${value}`),
      (error: unknown) => {
        if (!(closing && isSuspension(error))) note(`error ${id} ${message(error)}`);
      },
    ).finally(() => {
      active.delete(id);
      wake?.();
    });
  };
  let next = 0;
  for (const { id, status } of existing) {
    next = Math.max(next, Number(id.slice(1)) + 1);
    if (status === 'running' || (shared && status === 'suspended')) track(id);
  }
  for (; next < MAX_WORKFLOWS; next++) {
    while (active.size >= concurrency) await new Promise<void>((resolve) => (wake = resolve));
    const id = `w${next}`;
    try {
      await manager.start('sum', id, id, stepsOf(next));
    } catch (error) {
      if (closing) return; // handleSignals exits once the manager is closed
      throw error;
    }
    note(`started ${id}`);
    track(id);
  }
}

if (process.argv[1]?.endsWith('crash-child.ts')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
