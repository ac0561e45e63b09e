/**
 * Helpers of the tests where several OS processes share one PostgreSQL store (postgres-processes.test.ts,
 * postgres-restart.test.ts): children running lease-child.ts, a starter manager that runs no workflow, the
 * side tables that tell which process executed and wrote what, and the checks on them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WorkflowManager } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { JOB_STEPS, jobResult, stepLogTable } from './lease-child.js';
import { PG_URL, adminPool, dropSchema, freshSchema } from './postgres-support.js';

const CHILD = fileURLToPath(new URL('./lease-child.ts', import.meta.url));
/** The children's lease: short, so that takeovers happen within the test's time. */
export const LEASE_MS = 1000;

/** A running child: its process, its stdout lines so far, and its end. */
export interface Child {
  process: ChildProcess;
  lines: string[];
  opened: Promise<void>;
  ended: Promise<[number | null, NodeJS.Signals | null]>;
  stderr: () => string;
}

export function spawnChild(schema: string, maxWorkflows: number): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, schema, String(LEASE_MS), String(maxWorkflows)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, QUEST_PG_URL: PG_URL },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: string[] = [];
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const ended = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  void (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      lines.push(line);
      if (line === 'open') open();
    }
  })();
  return { process: child, lines, opened: Promise.race([opened, ended.then(() => { throw new Error(`child ended before opening: ${stderr}`); })]), ended, stderr: () => stderr };
}

/** Resolves once `query` (on the side table's schema) returns a first column that `ok` accepts; polls. */
export async function until(schema: string, sql: string, ok: (value: number) => boolean, values: unknown[] = []): Promise<void> {
  const text = sql.replaceAll(':SCHEMA', quoteIdentifier(schema));
  for (;;) {
    try {
      const { rows } = await adminPool().query<{ n: string }>(text, values);
      if (ok(Number(rows[0]?.n))) return;
    } catch {
      // The server may be restarting: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Log every history record inserted and every entry updated in `<schema>.writes`: the writer's
 * application_name (a child's is `quest-child-<pid>`) and the workflow's owner at that moment (its row is
 * locked by the writing transaction, so that is the owner the write was fenced against).
 */
export async function logWrites(schema: string): Promise<void> {
  const s = quoteIdentifier(schema);
  await adminPool().query(`
    CREATE TABLE ${s}.writes (id bigserial PRIMARY KEY, app text NOT NULL, workflow_id text NOT NULL, owner text);
    CREATE FUNCTION ${s}.log_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO ${s}.writes (app, workflow_id, owner)
        SELECT current_setting('application_name'), w.id, w.owner FROM ${s}.workflows AS w
        WHERE w.id = coalesce(to_jsonb(NEW) ->> 'workflow_id', to_jsonb(NEW) ->> 'id');
      RETURN NEW;
    END $$;
    CREATE TRIGGER log_record AFTER INSERT ON ${s}.records FOR EACH ROW EXECUTE FUNCTION ${s}.log_write();
    CREATE TRIGGER log_entry AFTER UPDATE OF body, state, history_rows ON ${s}.workflows FOR EACH ROW EXECUTE FUNCTION ${s}.log_write();
  `);
}

/** Fencing: every write of every child went to a workflow that child owned at that moment (see logWrites). */
export async function everyWriteByItsOwner(schema: string): Promise<void> {
  const { rows } = await adminPool().query<{ app: string; workflow_id: string; owner: string | null }>(
    `SELECT app, workflow_id, owner FROM ${quoteIdentifier(schema)}.writes WHERE app LIKE 'quest-child-%' ` +
      "AND (owner IS NULL OR owner NOT LIKE '%/' || substr(app, 13) || '/%') LIMIT 5",
  );
  assert.deepEqual(rows, [], 'a process wrote to a workflow it did not own');
}

/** Steps reported so far, by every process. */
export const REPORTED = "SELECT count(*) AS n FROM :SCHEMA.step_log WHERE kind = 'reported'";

/** Steps `pid` reported so far. */
export const REPORTED_BY = "SELECT count(*) AS n FROM :SCHEMA.step_log WHERE kind = 'reported' AND pid = $1";

/** Run `body` with a fresh schema (with the side table), the starter manager, and cleanup of children. */
export async function withShared(body: (ctx: { schema: string; manager: WorkflowManager<Record<string, never>>; children: Child[] }) => Promise<void>): Promise<void> {
  const schema = freshSchema('procs');
  const children: Child[] = [];
  const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });
  await adminPool().query(stepLogTable(schema));
  const manager = await WorkflowManager.open({ store, workflows: {}, leases: { leaseMs: LEASE_MS, maxWorkflows: 0 } });
  try {
    await body({ schema, manager, children });
  } finally {
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((child) => child.ended));
    await manager.close();
    await dropSchema(schema);
  }
}

/** Start jobs w0..w<n-1> from the starter (no type registered there: put the entries through the store). */
export async function startJobs(schema: string, n: number): Promise<string[]> {
  const store = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });
  try {
    const ids = Array.from({ length: n }, (_, i) => `w${i}`);
    await Promise.all(ids.map((id, i) => store.createWorkflow({ id, type: 'job', args: [id, i], state: 'running', startedAt: Date.now(), deleteOnFinish: false })));
    return ids;
  } finally {
    await store.close();
  }
}

/** Every job's result, through the starter manager (which runs none: it waits on NOTIFY and the store). */
export async function results(manager: WorkflowManager<Record<string, never>>, ids: readonly string[]): Promise<void> {
  const values = await Promise.all(ids.map((id) => manager.getResult<number>(id)));
  values.forEach((value, i) => assert.equal(value, jobResult(i), `result of ${ids[i]}`));
}

/**
 * No step whose end was durable (a 'reported' row) executed again afterwards; every step of every job
 * reported. `paused`: the step bodies a paused process was in at its pause log their start late, once it goes
 * on (after row `paused.mark`); those are checked by the caller, not here.
 */
export async function noCompletedStepRanTwice(schema: string, jobs: number, paused?: { pid: number; mark: number }): Promise<{ reruns: number }> {
  const s = quoteIdentifier(schema);
  const { rows } = await adminPool().query<{ n: string }>(
    `SELECT count(*) AS n FROM ${s}.step_log AS e JOIN (SELECT workflow, step, min(id) AS first FROM ${s}.step_log ` +
      "WHERE kind = 'reported' GROUP BY workflow, step) AS r USING (workflow, step) WHERE e.kind = 'exec' AND e.id > r.first " +
      // The first step body a paused process logs once it goes on is the one it was in when paused.
      `AND NOT (e.pid = $1 AND e.id > $2 AND e.id = (SELECT min(id) FROM ${s}.step_log AS x WHERE x.pid = $1 AND x.id > $2 ` +
      "AND x.workflow = e.workflow AND x.kind = 'exec'))",
    [paused?.pid ?? -1, paused?.mark ?? 0],
  );
  assert.equal(Number(rows[0]?.n), 0, 'a completed step executed again');
  const reported = await adminPool().query<{ n: string }>(`SELECT count(DISTINCT (workflow, step)) AS n FROM ${s}.step_log WHERE kind = 'reported'`);
  assert.equal(Number(reported.rows[0]?.n), jobs * JOB_STEPS, 'every step of every job completed');
  const execs = await adminPool().query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.step_log WHERE kind = 'exec'`);
  return { reruns: Number(execs.rows[0]?.n) - jobs * JOB_STEPS };
}

