/**
 * The memory budget of eviction (ManagerOptions.maxResidentBytes): idle workflows are evicted, least
 * recently active first, until the estimated memory of the resident runs fits, as well as their count. A
 * workflow's estimate is a fixed cost per run plus what it holds (queued items, states' values), brought up to
 * date when it goes idle; manager.residency() reports the total.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, WorkflowManager, queue, state, type WorkflowInfo } from '../../src/index.js';
import { RUN_BASE_BYTES } from '../../src/manager/residency.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { until } from './support.js';

const MIB = 1024 * 1024;

const workflows = {
  /** Waits for one number on its queue. */
  waiter: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    return await numbers.get();
  },
  /** Keeps what is put on `items` until told to go, then takes it all, says how much it took, and waits to end. */
  hoarder: async (): Promise<number> => {
    await using items = await queue<string>('items', null);
    await using go = await queue<boolean>('go', null);
    await using took = await state('took', null, 0);
    await go.get();
    let total = 0;
    for (let item = await items.get(); item !== ''; item = await items.get()) total += item.length;
    await took.set(total);
    await go.get();
    return total;
  },
};

type Manager = WorkflowManager<typeof workflows>;

/** The ids list() shows evicted (running, not resident). */
async function evicted(manager: Manager): Promise<string[]> {
  return (await manager.list()).filter((info: WorkflowInfo) => info.resident === false).map((info) => info.id);
}

async function startWaiters(manager: Manager, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `w${i}`);
  for (const id of ids) await manager.start('waiter', id);
  await Promise.all(ids.map((id) => manager.waitForResource(id, 'numbers', null)));
  return ids;
}

async function startHoarder(manager: Manager): Promise<void> {
  await manager.start('hoarder', 'hoarder');
  await manager.waitForResource('hoarder', 'took', null);
}

test('under maxResidentBytes, a workflow holding a large queue makes the least recently active idle ones be evicted, where maxResident alone would keep them all', async () => {
  // Room for the hoarder's 2 MiB and its run, and for three and a half more runs: two of the five waiters go.
  const budget = 2 * MIB + 4 * RUN_BASE_BYTES + RUN_BASE_BYTES / 2;
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 100, maxResidentBytes: budget });
  const ids = await startWaiters(manager, 5);
  await startHoarder(manager);
  assert.deepEqual(await evicted(manager), [], 'six small runs fit both budgets');

  for (let i = 0; i < 2; i++) await manager.queue<string>('hoarder', 'items', null).put('x'.repeat(MIB));
  await until(async () => (await evicted(manager)).length > 0);
  const cold = await evicted(manager);
  assert.equal(cold.length, 2, `evicted: ${cold.join(', ')}`);
  assert.ok(!cold.includes('hoarder'), 'the most recently active workflow stays');
  const { resident, estimatedBytes } = manager.residency();
  assert.equal(resident, 4);
  assert.ok(estimatedBytes <= budget, `${estimatedBytes} bytes estimated, budget ${budget}`);

  // Nothing is lost: the evicted waiters take their puts, and the hoarder gets its items.
  await Promise.all(ids.map((id, i) => manager.queue<number>(id, 'numbers', null).put(i)));
  assert.deepEqual(await Promise.all(ids.map((id) => manager.getResult<number>(id))), [0, 1, 2, 3, 4]);
  await manager.queue<string>('hoarder', 'items', null).put('');
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  assert.equal(await manager.getResult('hoarder'), 2 * MIB);
  await manager.close();
});

test("manager.residency() follows what a workflow holds: up by a put's size, and down once the workflow has taken the items", async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
  await startHoarder(manager);
  const before = manager.residency();
  assert.equal(before.resident, 1);
  assert.ok(before.estimatedBytes >= RUN_BASE_BYTES && before.estimatedBytes < RUN_BASE_BYTES + 4096, `${before.estimatedBytes} bytes`);

  const items = manager.queue<string>('hoarder', 'items', null);
  for (let i = 0; i < 3; i++) await items.put('x'.repeat(MIB));
  const full = manager.residency().estimatedBytes;
  assert.ok(full - before.estimatedBytes >= 3 * MIB && full - before.estimatedBytes < 3 * MIB + 4096, `${full - before.estimatedBytes} bytes more`);

  await items.put('');
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  await until(async () => (await manager.state<number>('hoarder', 'took', null).get()) === 3 * MIB);
  await until(async () => manager.residency().estimatedBytes < before.estimatedBytes + 1024);
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  assert.equal(await manager.getResult('hoarder'), 3 * MIB);
  assert.deepEqual(manager.residency(), { ...before, resident: 0, estimatedBytes: 0 }, 'a finished run no longer counts');
  await manager.close();
});

test('an idle workflow holding more than the whole memory budget is evicted too, and its queue comes back by replay', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResidentBytes: MIB });
  await startHoarder(manager);
  await manager.queue<string>('hoarder', 'items', null).put('x'.repeat(2 * MIB));
  await until(async () => (await evicted(manager)).includes('hoarder'));
  assert.deepEqual(manager.residency().resident, 0);

  await manager.queue<string>('hoarder', 'items', null).put('');
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  await manager.queue<boolean>('hoarder', 'go', null).put(true);
  assert.equal(await manager.getResult('hoarder'), 2 * MIB);
  await manager.close();
});

test('maxResidentBytes must be a whole number of bytes, 1 or more, or Infinity; the error says what is allowed', async () => {
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 60]) {
    await assert.rejects(WorkflowManager.open({ store: new MemoryStore(), workflows, maxResidentBytes: bad }), (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.match(error.message, /maxResidentBytes must be a whole number of bytes, 1 or more .*Infinity/);
      return true;
    });
  }
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResidentBytes: Infinity });
  assert.equal(manager.residency().maxResidentBytes, Infinity);
  await manager.close();
});
