/**
 * Eviction of idle workflows (ManagerOptions.maxResident) on a PostgreSQL store shared by many processes
 * (WorkflowLeases): an evicted workflow stays this process's -- its lease is renewed, and an inbox event from
 * another process, its sleep, act and resources wake it here -- until its lease is lost; from then on it never
 * runs here again (not even its replay), and act and getResult here reach its new owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, WorkflowManager, isQuestError, type WorkflowInfo } from '../../src/index.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { SLEEP_MS, evictionWorkflows, runLogTable } from './evict-lease-child.js';
import { PG_URL, adminPool, describePostgres, dropSchema, freshSchema } from './postgres-support.js';

const open = (schema: string) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });

type Workflows = ReturnType<typeof evictionWorkflows>;
type Manager = WorkflowManager<Workflows>;

/** Starts of each workflow function (first runs and replays) in one manager. */
type Runs = Record<string, number>;

function counted(runs: Runs): Workflows {
  return evictionWorkflows((name) => (runs[name] = (runs[name] ?? 0) + 1));
}

/** Resolve once `condition()` holds, looking again every 10 ms (each look is a query); fail after `limitMs`. */
async function until(condition: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The ids list() shows evicted (running, not resident). */
async function evicted(manager: Manager): Promise<string[]> {
  return (await manager.list()).filter((info: WorkflowInfo) => info.resident === false).map((info) => info.id);
}

/** Start waiters w0..w<n-1> in `manager` and wait until each has its queue open. */
async function startWaiters(manager: Manager, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `w${i}`);
  for (const id of ids) await manager.start('waiter', id, id);
  await Promise.all(ids.map((id) => manager.waitForResource(id, 'in', null)));
  return ids;
}

/** Resolves once workflow `id` runs in `manager` with its queue `in` open (it may still be on its way there). */
async function openIn(manager: Manager, id: string): Promise<void> {
  await until(async () => {
    try {
      await manager.waitForResource(id, 'in', null);
      return true;
    } catch (error) {
      if (!isQuestError(error, 'WORKFLOW_SUSPENDED')) throw error;
      return false;
    }
  });
}

/** A fresh schema, dropped after `body` and after the managers it opened are closed. */
async function withSchema(body: (schema: string, opened: Manager[]) => Promise<void>): Promise<void> {
  const schema = freshSchema('evict');
  const opened: Manager[] = [];
  try {
    await body(schema, opened);
  } finally {
    for (const manager of opened.reverse()) await manager.close().catch(() => undefined);
    await dropSchema(schema);
  }
}

describePostgres('eviction on a PostgreSQL store shared by many processes', () => {
  test('an evicted workflow takes an inbox event posted by another store, delivered on its NOTIFY (no poll)', async () => {
    await withSchema(async (schema, opened) => {
      const manager = await WorkflowManager.open({ store: await open(schema), workflows: counted({}), maxResident: 1, inboxPollMs: 60_000 });
      opened.push(manager);
      await startWaiters(manager, 3);
      await until(async () => (await evicted(manager)).length === 2);
      const [cold] = (await evicted(manager)) as [string];
      const sender = await open(schema);
      try {
        const event = await sender.postEvent({ workflowId: cold, resource: 'in', identity: null, action: 'put', args: [41] });
        await until(async () => (await sender.eventOutcome(event))?.status !== 'pending');
        assert.equal((await sender.eventOutcome(event))?.status, 'applied');
      } finally {
        await sender.close();
      }
      assert.equal(await manager.getResult(cold), 42);
    });
  });

  test("an evicted workflow's sleep wakes it at its deadline", async () => {
    await withSchema(async (schema, opened) => {
      const manager = await WorkflowManager.open({ store: await open(schema), workflows: counted({}), maxResident: 1 });
      opened.push(manager);
      const ids = await startWaiters(manager, 2);
      const started = Date.now();
      await manager.start('sleeper', 's', 's', 1500);
      // Outside calls keep the waiters more recently active: the sleeper is the one evicted.
      await until(async () => {
        for (const id of ids) await manager.resources(id, null);
        return (await evicted(manager)).includes('s');
      });
      assert.ok((await manager.getResult<number>('s')) >= started + 1500, 'it did not wake before its deadline');
    });
  });

  test('act and resources() in its process wake an evicted workflow; act from another process reaches it through the inbox', async () => {
    await withSchema(async (schema, opened) => {
      const runs: Runs = {};
      const runner = await WorkflowManager.open({ store: await open(schema), workflows: counted(runs), maxResident: 1 });
      opened.push(runner);
      const starter = await WorkflowManager.open({ store: await open(schema), workflows: counted({}), leases: { maxWorkflows: 0 } });
      opened.push(starter);
      await startWaiters(runner, 3);
      await until(async () => (await evicted(runner)).length === 2);
      const [a, b] = (await evicted(runner)) as [string, string];
      assert.deepEqual((await runner.resources(a, null)).map((resource) => resource.name), ['in']);
      await runner.act(a, 'in', null, 'put', 1);
      assert.equal(await runner.getResult(a), 2);
      await until(async () => (await evicted(runner)).includes(b));
      await starter.act(b, 'in', null, 'put', 2);
      assert.equal(await starter.getResult(b), 3);
      assert.ok((runs[b] ?? 0) >= 2, 'b was woken in the runner');
    });
  });

  test('the leases of evicted workflows are renewed: after five lease periods a second manager has taken none of them', async () => {
    await withSchema(async (schema, opened) => {
      const leaseMs = 300;
      const store = await open(schema);
      const runner = await WorkflowManager.open({ store, workflows: counted({}), maxResident: 1, leases: { leaseMs } });
      opened.push(runner);
      const otherRuns: Runs = {};
      const other = await WorkflowManager.open({ store: await open(schema), workflows: counted(otherRuns), leases: { leaseMs } });
      opened.push(other);
      const ids = await startWaiters(runner, 3);
      await until(async () => (await evicted(runner)).length === 2);
      const cold = await evicted(runner);
      const first = await Promise.all(cold.map((id) => store.leaseOf(id)));
      // The renewals move each lease's expiry (on the server's clock) on; wait until it is five periods later.
      await until(async () => {
        const now = await Promise.all(cold.map((id) => store.leaseOf(id)));
        return now.every((lease, i) => lease !== undefined && lease.leaseUntil >= first[i]!.leaseUntil + 5 * leaseMs);
      });
      for (const [i, id] of cold.entries()) {
        const lease = await store.leaseOf(id);
        assert.equal(lease?.owner, first[i]?.owner, `${id} changed owner`);
        assert.equal(lease?.epoch, first[i]?.epoch, `${id} was claimed again`);
      }
      assert.deepEqual(await evicted(runner), cold, 'still evicted in the runner');
      // Puts from the other manager go through the inbox to the runner.
      await Promise.all(ids.map((id, i) => other.act(id, 'in', null, 'put', i)));
      assert.deepEqual(await Promise.all(ids.map((id) => other.getResult(id))), ids.map((_, i) => i + 1));
      assert.deepEqual(otherRuns, {}, 'the other manager ran none of them');
    });
  });

  test('evicted workflows count against leases.maxWorkflows: a process at its limit claims no more when its workflows are evicted', async () => {
    await withSchema(async (schema, opened) => {
      const leaseMs = 300;
      const store = await open(schema);
      const runner = await WorkflowManager.open({ store, workflows: counted({}), maxResident: 1, leases: { leaseMs, maxWorkflows: 3 } });
      opened.push(runner);
      const starter = await WorkflowManager.open({ store: await open(schema), workflows: counted({}), leases: { leaseMs, maxWorkflows: 0 } });
      opened.push(starter);
      const ids = Array.from({ length: 6 }, (_, i) => `w${i}`);
      for (const id of ids) await starter.start('waiter', id, id);
      await until(async () => (await evicted(runner)).length >= 2);
      const [cold] = (await evicted(runner)) as [string];
      // Every heartbeat claims up to the limit: wait for three of them after the evictions.
      const before = await store.leaseOf(cold);
      await until(async () => ((await store.leaseOf(cold))?.leaseUntil ?? 0) >= before!.leaseUntil + leaseMs);
      const owned = await adminPool().query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdentifier(schema)}.workflows WHERE owner IS NOT NULL`);
      assert.equal(Number(owned.rows[0]?.n), 3, 'the runner took more than maxWorkflows');
      // Each one finished makes room for one more.
      await Promise.all(ids.map((id, i) => starter.act(id, 'in', null, 'put', i)));
      assert.deepEqual(await Promise.all(ids.map((id) => starter.getResult(id))), ids.map((_, i) => i + 1));
    });
  });

  test('a lease lost while its workflow is evicted (expired, claimed by another manager): the first manager never runs it again, and its act and getResult reach the new owner', async () => {
    await withSchema(async (schema, opened) => {
      // Long leases: no heartbeat during the test, so only the wake-up itself can notice the loss.
      const leases = { leaseMs: 60_000 };
      const firstRuns: Runs = {};
      const warnings: string[] = [];
      const logger = { warn: (_fields: unknown, message?: string) => void warnings.push(String(message)) };
      const first = await WorkflowManager.open({ store: await open(schema), workflows: counted(firstRuns), maxResident: 1, leases, logger });
      opened.push(first);
      await startWaiters(first, 2);
      await until(async () => (await evicted(first)).length === 1);
      const [cold] = (await evicted(first)) as [string];
      const runsBefore = firstRuns[cold];
      // The lease is taken from the first manager (as a process that claimed it once the first was paused past
      // its lease, then released it, would leave it: a new epoch, nobody's; a lease is its owner's, so one
      // workflow cannot expire alone), and another manager claims the workflow.
      await adminPool().query(`UPDATE ${quoteIdentifier(schema)}.workflows SET owner = NULL, epoch = epoch + 1 WHERE id = $1`, [cold]);
      const secondRuns: Runs = {};
      const second = await WorkflowManager.open({ store: await open(schema), workflows: counted(secondRuns), leases });
      opened.push(second);
      await openIn(second, cold);
      // The put wakes the workflow in the first manager: it finds the lease gone before replaying, and the put
      // goes through the inbox to the second.
      await first.act(cold, 'in', null, 'put', 41);
      assert.equal(await first.getResult(cold), 42);
      assert.equal(firstRuns[cold], runsBefore, 'the first manager ran the workflow again');
      assert.equal(secondRuns[cold], 1);
      assert.ok(!(await evicted(first)).includes(cold), 'the first manager forgot it');
      assert.deepEqual(secondRuns, { [cold]: 1 }, 'the second manager took only the workflow whose lease ran out');
      assert.ok(warnings.some((warning) => /lease was lost/.test(warning)), warnings.join('\n'));
    });
  });

  test('an act on a resident workflow whose lease was lost (its write refused by fencing) is redone through the inbox for the new owner, not failed with LeaseLostError', async () => {
    await withSchema(async (schema, opened) => {
      // Long leases: no heartbeat during the test, so the act's own write meets the lost lease.
      const leases = { leaseMs: 60_000 };
      const firstRuns: Runs = {};
      const first = await WorkflowManager.open({ store: await open(schema), workflows: counted(firstRuns), leases, logger: { warn: () => undefined } });
      opened.push(first);
      const [id] = (await startWaiters(first, 1)) as [string];
      // The lease runs out (the process was paused past it: its owner row expires).
      const s = quoteIdentifier(schema);
      await adminPool().query(`UPDATE ${s}.owners SET lease_until = 0 WHERE owner = (SELECT owner FROM ${s}.workflows WHERE id = $1)`, [id]);
      const secondRuns: Runs = {};
      const second = await WorkflowManager.open({ store: await open(schema), workflows: counted(secondRuns), leases });
      opened.push(second);
      await openIn(second, id);
      await first.act(id, 'in', null, 'put', 41);
      assert.equal(await second.getResult(id), 42);
      assert.equal(secondRuns[id], 1);
    });
  });

  test('a process paused past its lease with workflows evicted (SIGSTOP), taken over once their leases expired: once it goes on (SIGCONT), it never runs them again; its getResult and act reach the new owner', { timeout: 60_000 }, async (t) => {
    t.diagnostic(await pausedWithEvicted('expiry'));
  });

  test('the same with a long lease ended in SQL during the pause: the wake-ups (a sleep, an act) find the lease gone before the heartbeat does, and run nothing', { timeout: 60_000 }, async (t) => {
    t.diagnostic(await pausedWithEvicted('sql'));
  });

  test('maxResident is checked on a shared store too', async () => {
    await withSchema(async (schema) => {
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const store = await open(schema);
        try {
          await assert.rejects(WorkflowManager.open({ store, workflows: counted({}), maxResident: bad }), InvalidArgumentError);
        } finally {
          await store.close();
        }
      }
    });
  });
});

/**
 * A child (evict-lease-child.ts) with `sl` (sleeping) and `w1` (waiting) evicted and getResult of both waiting
 * is paused (SIGSTOP) until another manager here owns its workflows and the sleep's deadline has passed, then
 * goes on (SIGCONT): its timer for `sl` fires at once, racing its heartbeat. `how` the leases go: 'expiry' (a
 * 1 s lease runs out during the pause), 'sql' (a 60 s lease, so no heartbeat in the test, ended by an UPDATE).
 * Checks that the child runs no workflow function after it goes on, that its getResult of `sl` answers the new
 * owner's result, and that its act on `w1` goes to the new owner; returns the child's warnings.
 */
async function pausedWithEvicted(how: 'expiry' | 'sql'): Promise<string> {
  const schema = freshSchema('evict');
  const s = quoteIdentifier(schema);
  let second: Manager | undefined;
  // The child opens the schema first; the side table goes in once it exists.
  await (await open(schema)).close();
  await adminPool().query(runLogTable(schema));
  const childLeaseMs = how === 'expiry' ? 1000 : 60_000;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./evict-lease-child.ts', import.meta.url)), schema, String(childLeaseMs)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, QUEST_PG_URL: PG_URL },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ended = once(child, 'close');
  const lines: string[] = [];
  void (async () => {
    for await (const line of createInterface({ input: child.stdout })) lines.push(line);
  })();
  const line = async (prefix: string): Promise<string> => {
    await until(async () => lines.some((seen) => seen.startsWith(prefix)) || child.exitCode !== null, 30_000);
    const found = lines.find((seen) => seen.startsWith(prefix));
    assert.ok(found !== undefined, `no "${prefix}" line: ${lines.join('\n')}\n${stderr}`);
    return found;
  };
  const ownedByChild = `SELECT count(*) AS n FROM ${s}.workflows WHERE state = 'running' AND owner LIKE $1`;
  try {
    await line('evicted');
    const { rows } = await adminPool().query<{ started_at: string }>(`SELECT started_at::text FROM ${s}.workflows WHERE id = 'sl'`);
    const sleepEnds = Number(rows[0]?.started_at) + SLEEP_MS;
    child.kill('SIGSTOP');
    if (how === 'sql') await adminPool().query(`UPDATE ${s}.owners SET lease_until = 0 WHERE owner LIKE $1`, [`%/${child.pid}/%`]);
    const secondRuns: Runs = {};
    second = await WorkflowManager.open({ store: await open(schema), workflows: counted(secondRuns), leases: { leaseMs: 1000 } });
    await until(async () => {
      const owned = await adminPool().query<{ n: string }>(ownedByChild, [`%/${child.pid}/%`]);
      return Number(owned.rows[0]?.n) === 0 && Date.now() > sleepEnds;
    });
    const { rows: marks } = await adminPool().query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM ${s}.run_log`);
    child.kill('SIGCONT');
    const slept = await second.getResult<number>('sl');
    assert.equal(await line('result sl'), `result sl ${slept}`);
    child.stdin.write('go\n');
    assert.equal(await line('acted'), 'acted');
    assert.equal(await line('result w1'), 'result w1 42');
    const { rows: late } = await adminPool().query<{ workflow: string }>(`SELECT workflow FROM ${s}.run_log WHERE pid = $1 AND id > $2`, [child.pid, Number(marks[0]?.id)]);
    assert.deepEqual(late, [], 'the paused process ran a workflow again after it went on');
    const warned = lines.filter((seen) => seen.startsWith('warn '));
    assert.ok(warned.some((seen) => /lease/i.test(seen)), `no lost lease reported: ${lines.join('\n')}`);
    child.kill('SIGTERM');
    const [code] = await ended;
    assert.equal(code, 0, stderr);
    return `the child said: ${warned.join(' | ')}`;
  } finally {
    child.kill('SIGKILL');
    await ended;
    await second?.close();
    await dropSchema(schema);
  }
}
