/**
 * The WorkflowManager on a PostgresStore: workflows run to completion, resume after a reopen, receive inbox
 * events posted by another process's store, and lose no acknowledged step when their process is killed with
 * SIGKILL (a child process running test/crash/crash-child.ts over a PostgreSQL schema).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WorkflowManager } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { stepValue, stepsOf } from '../crash/crash-child.js';
import { checkResumeAfterReopen, countingWorkflows } from '../manager/fixtures.js';
import { PG_URL, describePostgres, dropSchema, freshSchema } from './postgres-support.js';

const open = (schema: string) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });

describePostgres('postgres store under a WorkflowManager', () => {
  test('workflows run to completion, and unfinished ones resume after a reopen without re-running steps', async () => {
    const schema = freshSchema('mgr');
    try {
      await checkResumeAfterReopen(() => open(schema));
    } finally {
      await dropSchema(schema);
    }
  });

  test('an event posted to the inbox by another store reaches the workflow, and that store reads its outcome', async () => {
    const schema = freshSchema('inbox');
    try {
      const runs: Record<string, number> = {};
      const manager = await WorkflowManager.open({ store: await open(schema), workflows: countingWorkflows(runs), inboxPollMs: 0 });
      try {
        await manager.start('twoSteps', 't1', 10);
        await manager.waitForResource('t1', 'go', null);
        const sender = await open(schema);
        try {
          const id = await sender.postEvent({ workflowId: 't1', resource: 'go', identity: null, action: 'set', args: [] });
          // Its NOTIFY may have had the manager deliver it already (applied); otherwise it waits (pending) and
          // this pass delivers it.
          const first = await sender.eventOutcome(id);
          assert.ok(first?.status === 'pending' || first?.status === 'applied', JSON.stringify(first));
          await manager.deliverInbox();
          assert.equal(await manager.getResult('t1'), 12);
          assert.equal((await sender.eventOutcome(id))?.status, 'applied');
          const late = await sender.postEvent({ workflowId: 't1', resource: 'go', identity: null, action: 'set', args: [] });
          await manager.deliverInbox();
          const outcome = await sender.eventOutcome(late);
          assert.ok(outcome?.status === 'rejected' && outcome.code.length > 0 && outcome.message.length > 0, JSON.stringify(outcome));
        } finally {
          await sender.close();
        }
      } finally {
        await manager.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  test('kill -9 mid-workflow loses no acknowledged step, and every started workflow completes', { timeout: 240_000 }, async (t) => {
    const schema = freshSchema('crash');
    const directory = await mkdtemp(join(tmpdir(), 'quest-pg-crash-'));
    try {
      const seen = new Set<string>();
      const runs: string[][] = [];
      // Progress kills: 0 = as soon as it has listed the workflows (mid-replay), then after N new reports.
      for (const [index, killAfter] of [0, 7, 23, 3, 41].entries()) {
        runs.push(await runChild(schema, join(directory, `run-${index}.log`), 'crash', killAfter, seen));
      }
      runs.push(await runChild(schema, join(directory, 'final.log'), 'finish', 0, seen));
      t.diagnostic(checkRuns(runs));
    } finally {
      await rm(directory, { recursive: true, force: true });
      await dropSchema(schema);
    }
  });
});

const CHILD = fileURLToPath(new URL('../crash/crash-child.ts', import.meta.url));

/** Run the child until it reported `killAfter` new things (crash mode) or finished (finish mode); its log lines. */
async function runChild(schema: string, log: string, mode: 'crash' | 'finish', killAfter: number, seen: Set<string>): Promise<string[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, `postgres:${schema}`, log, '4', mode], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, QUEST_PG_URL: PG_URL },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let fresh = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('error ')) child.kill('SIGKILL');
    if ((line.startsWith('reported ') || line.startsWith('started ')) && !seen.has(line)) fresh++;
    if (mode === 'crash' && (killAfter === 0 ? line === 'opened' : fresh >= killAfter)) child.kill('SIGKILL');
  }
  const [code, signal] = await closed;
  const lines = (await readFile(log, 'utf8')).split('\n').filter((line) => line !== '');
  for (const line of lines) if (line.startsWith('reported ') || line.startsWith('started ')) seen.add(line);
  assert.equal(lines.find((line) => line.startsWith('error ')), undefined, `the child reported an error; stderr:\n${stderr}`);
  const ended = signal === null ? `exit code ${String(code)}` : `killed by ${signal}`;
  assert.equal(ended, mode === 'crash' ? 'killed by SIGKILL' : 'exit code 0', `the ${mode} run ended unexpectedly; stderr:\n${stderr}`);
  return lines;
}

/** No step reported complete in one run executes in a later one; every started workflow ends with the right result. */
function checkRuns(runs: string[][]): string {
  const reportedIn = new Map<string, number>();
  const started = new Set<string>();
  let executions = 0;
  runs.forEach((lines, run) => {
    for (const line of lines) {
      const [kind = '', id = '', key = ''] = line.split(' ');
      if (kind === 'exec') {
        executions++;
        const first = reportedIn.get(`${id} ${key}`);
        assert.equal(first, undefined, `step ${id} ${key}, reported complete in run ${String(first)}, executed again in run ${run}`);
      } else if (kind === 'reported') {
        if (!reportedIn.has(`${id} ${key}`)) reportedIn.set(`${id} ${key}`, run);
      } else if (kind === 'started') {
        started.add(id);
      } else if (kind === 'result' || kind === 'final') {
        assert.equal(Number(key), expectedResult(id), `the result of ${id} in run ${run}`);
      }
    }
  });
  const finals = new Set((runs.at(-1) ?? []).filter((line) => line.startsWith('final ')).map((line) => line.split(' ')[1]));
  for (const id of started) assert.ok(finals.has(id), `workflow ${id} was started but is not in the final run`);
  const statuses = (runs.at(-1) ?? []).filter((line) => line.startsWith('status '));
  assert.ok(statuses.length >= started.size && statuses.every((line) => line.endsWith(' completed')), statuses.join('\n'));
  return `${started.size} workflows, ${reportedIn.size} steps reported, ${executions} executions over ${runs.length} processes`;
}

/** The result of crash-child's `sum` workflow `id`, computed without Quest (as test/crash/manager-crash.test.ts does). */
function expectedResult(id: string): number {
  const P = 1_000_000_007;
  const value = (key: string): number => stepValue(id, key);
  let total = 0;
  for (let i = 0; i < stepsOf(Number(id.slice(1))); i++) {
    const stepResult = i % 4 === 3 ? (value(`${i}a`) * 7 + value(`${i}b`) * 3 + value(String(i))) % 1_000_003 : value(String(i));
    total = (total * 31 + stepResult) % P;
  }
  const side = (name: string): number => value(`${name}0`) * 5 + value(`${name}1`);
  return (((total * 31 + side('L')) % P) * 31 + side('R')) % P;
}
