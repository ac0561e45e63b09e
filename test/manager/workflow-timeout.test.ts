import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowManager, event, isQuestError, sleep } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { VirtualClock } from '../../src/testing/index.js';
import { untilSettled } from '../helpers.js';
import { rejection } from './support.js';

const directory = mkdtempSync(join(tmpdir(), 'quest-timeout-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => join(directory, `timeout-${++files}.sqlite`);

const workflows = {
  /** Waits for an outside event that never comes. */
  async waiter(): Promise<string> {
    await using go = await event('go', null);
    await go.wait();
    return 'went';
  },
  async sleeper(ms: number): Promise<string> {
    await sleep(ms);
    return 'slept';
  },
};

test('a workflow started with timeoutMs fails with TimeoutError at its deadline, and waiting callers get it', async (t) => {
  const clock = new VirtualClock();
  t.after(clock.install());
  const manager = await WorkflowManager.open({ store: new SqliteStore(fresh()), workflows });
  await manager.startWith('waiter', 'w1', [], { timeoutMs: 60_000 });
  await manager.startWith('sleeper', 's1', [10], { timeoutMs: 60_000 });
  await manager.waitForResource('w1', 'go', null);
  const waiting = rejection(manager.getResult('w1'));
  await untilSettled(() => clock.pending >= 2);
  await clock.advance(10);
  assert.equal(await manager.getResult('s1'), 'slept', 'a workflow that finishes in time is not affected');
  await clock.advance(59_990);
  const error = await waiting;
  assert.ok(isQuestError(error, 'TIMEOUT'), `expected a TimeoutError, got ${String(error)}`);
  assert.match((error as Error).message, /workflow "w1" did not finish within its timeout of 60000 ms/);
  assert.deepEqual((await manager.list()).map(({ id, status }) => [id, status]), [['w1', 'failed'], ['s1', 'completed']]);
  await assert.rejects(manager.getResult('w1'), { code: 'TIMEOUT', name: 'TimeoutError' });
  await manager.close();
});

test('a workflow deadline is durable: a restart neither forgets nor extends it', async (t) => {
  const clock = new VirtualClock();
  t.after(clock.install());
  const database = fresh();
  const first = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await first.startWith('waiter', 'w1', [], { timeoutMs: 1_000 });
  await first.waitForResource('w1', 'go', null);
  await clock.advance(600);
  await first.close();

  const second = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await second.waitForResource('w1', 'go', null);
  await clock.advance(399);
  assert.deepEqual((await second.list()).map(({ status }) => status), ['running'], 'not before the original deadline');
  await clock.advance(1);
  await assert.rejects(second.getResult('w1'), { code: 'TIMEOUT' });
  await second.close();

  // A deadline that passed while no manager ran the workflow fires as soon as one resumes it.
  const third = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await third.startWith('waiter', 'w2', [], { timeoutMs: 1_000 });
  await third.waitForResource('w2', 'go', null);
  await third.close();
  await clock.advance(5_000);
  const fourth = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await assert.rejects(fourth.getResult('w2'), { code: 'TIMEOUT' });
  await fourth.close();
});

test('startWith refuses a negative timeoutMs before starting anything', async () => {
  const manager = await WorkflowManager.open({ store: new SqliteStore(fresh()), workflows });
  await assert.rejects(manager.startWith('waiter', 'w1', [], { timeoutMs: -5 }), { code: 'INVALID_ARGUMENT' });
  assert.equal(await manager.has('w1'), false);
  await manager.close();
});
