/**
 * Eviction of idle workflows (ManagerOptions.maxResident): beyond the budget, workflows waiting only for the
 * outside or a sleep drop their run and resume by replay when something needs them. Callers see no
 * difference but latency: puts apply, sleeps fire, resources() and streams work, getResult() waits, and a
 * crash with workflows evicted loses nothing. A workflow running a step is never evicted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDeferred } from '../../src/core/deferred.js';
import { InvalidArgumentError, WorkflowManager, alias, queue, sleep, step, type WorkflowInfo } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { History } from '../../src/core/history.js';
import { StoreView, rejection, until } from './support.js';

const plus = step('plus', async (n: number) => n + 1);

const workflows = {
  /** Waits for one number on its queue, then adds one in a step. */
  waiter: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    return await plus(await numbers.get());
  },
  /** waiter, reachable by alias `name` too. */
  aliased: async (name: string): Promise<number> => {
    await using _alias = await alias(name);
    await using numbers = await queue<number>('numbers', null);
    return await plus(await numbers.get());
  },
  /** Sums the numbers on its queue until it gets 0. */
  summer: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    let sum = 0;
    for (let n = await numbers.get(); n !== 0; n = await numbers.get()) sum += n;
    return sum;
  },
  /** Sleeps `ms`, then says when it woke. */
  sleeper: async (ms: number): Promise<number> => {
    await sleep(ms);
    return step('woke', () => Date.now())();
  },
};

/** The ids of the workflows list() shows evicted (running, not resident). */
async function evicted(manager: WorkflowManager<typeof workflows>): Promise<string[]> {
  return (await manager.list()).filter((info: WorkflowInfo) => info.resident === false).map((info) => info.id);
}

async function startWaiters(manager: WorkflowManager<typeof workflows>, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `w${i}`);
  for (const id of ids) await manager.start('waiter', id);
  await Promise.all(ids.map((id) => manager.waitForResource(id, 'numbers', null)));
  return ids;
}

test('with maxResident 3, twelve waiting workflows keep at most 3 runs in memory; a put to each evicted one applies and all finish', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 3 });
  const ids = await startWaiters(manager, 12);
  await until(async () => (await evicted(manager)).length === 9);
  const listed = await manager.list();
  assert.ok(listed.every((info) => info.status === 'running'), 'an evicted workflow is listed as running');
  const cold = await evicted(manager);
  await Promise.all(cold.map((id) => manager.queue<number>(id, 'numbers', null).put(Number(id.slice(1)))));
  await Promise.all(ids.filter((id) => !cold.includes(id)).map((id) => manager.queue<number>(id, 'numbers', null).put(Number(id.slice(1)))));
  assert.deepEqual(await Promise.all(ids.map((id) => manager.getResult<number>(id))), ids.map((_, i) => i + 1));
  await manager.close();
});

test('an evicted workflow keeps no run in memory: its Historian is collected, and a new one serves it when it wakes', async () => {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  const live = (manager as unknown as { parts: { here: { live: Map<string, { historian?: object }> } } }).parts.here.live;
  await startWaiters(manager, 1);
  const first = new WeakRef(live.get('w0')?.historian ?? {});
  await manager.start('waiter', 'w1');
  await until(async () => (await evicted(manager)).includes('w0'));
  await until(async () => {
    collectGarbage();
    await nextTurn();
    return first.deref() === undefined;
  }, 100);
  await manager.queue<number>('w0', 'numbers', null).put(41);
  assert.equal(await manager.getResult('w0'), 42);
  await manager.close();
});

test('getResult() of an evicted workflow waits for it to finish', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  await startWaiters(manager, 3);
  await until(async () => (await evicted(manager)).length === 2);
  const [cold] = (await evicted(manager)) as [string];
  const result = manager.getResult<number>(cold);
  await manager.queue<number>(cold, 'numbers', null).put(41);
  assert.equal(await result, 42);
  await manager.close();
});

test("an evicted workflow's sleep resumes it at its deadline, without any outside call", async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  const ids = await startWaiters(manager, 2);
  const started = Date.now();
  await manager.start('sleeper', 's', 1000);
  // Outside calls make the waiters more recently active than the sleeper: it is the one to go.
  await until(async () => {
    for (const id of ids) await manager.resources(id, null);
    return (await evicted(manager)).includes('s');
  });
  // getResult() does not resume it: only the timer set at eviction does.
  const woke = await manager.getResult<number>('s');
  assert.ok(woke >= started + 1000, 'it did not wake before its deadline');
  await manager.close();
});

test('resources() and a resource stream of an evicted workflow resume it and see its resources; an open stream keeps it in memory', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  await startWaiters(manager, 3);
  await until(async () => (await evicted(manager)).length === 2);
  const [a, b] = (await evicted(manager)) as [string, string];
  const resources = await manager.resources(a, null);
  assert.deepEqual(resources.map((resource) => resource.name), ['numbers']);

  const stream = await manager.resourceStream(b, null);
  const snapshots = stream[Symbol.asyncIterator]();
  const first = await snapshots.next();
  assert.equal(first.done, false);
  assert.deepEqual(first.value.resources.map((resource: { name: string }) => resource.name), ['numbers']);
  await until(async () => (await evicted(manager)).includes(a));
  // An outside call makes `a` more recently active than `b`, yet `a` is the one evicted again: b's stream is open.
  await manager.resources(a, null);
  assert.ok(!(await evicted(manager)).includes(a));
  await until(async () => (await evicted(manager)).includes(a));
  assert.ok(!(await evicted(manager)).includes(b), 'a workflow with a stream open is not evicted');
  await manager.queue<number>(b, 'numbers', null).put(5);
  const next = await snapshots.next();
  assert.equal(next.done, false);
  assert.equal(next.value.change, 'act');
  assert.equal(await manager.getResult(b), 6);
  await manager.close();
});

test('a crash with workflows evicted loses nothing: the next manager resumes them all', async () => {
  const shared = new MemoryStore();
  const crashing = new StoreView(shared);
  const before = await WorkflowManager.open({ store: crashing, workflows, maxResident: 2 });
  const ids = await startWaiters(before, 8);
  await until(async () => (await evicted(before)).length === 6);
  crashing.crash();

  const after = await WorkflowManager.open({ store: new StoreView(shared), workflows, maxResident: 2 });
  await Promise.all(ids.map((id, i) => after.queue<number>(id, 'numbers', null).put(i)));
  assert.deepEqual(await Promise.all(ids.map((id) => after.getResult<number>(id))), ids.map((_, i) => i + 1));
  await after.close();
  await before.close().catch(() => undefined);
});

test('on SQLite, evicted workflows survive a close and reopen, and take puts after it', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-evict-'));
  try {
    const path = join(directory, 'db.sqlite');
    const first = await WorkflowManager.open({ store: new SqliteStore(path), workflows, maxResident: 2 });
    const ids = await startWaiters(first, 6);
    await until(async () => (await evicted(first)).length === 4);
    await first.close();
    const second = await WorkflowManager.open({ store: new SqliteStore(path), workflows, maxResident: 2 });
    await Promise.all(ids.map((id, i) => second.queue<number>(id, 'numbers', null).put(i)));
    assert.deepEqual(await Promise.all(ids.map((id) => second.getResult<number>(id))), ids.map((_, i) => i + 1));
    await second.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a workflow running a step is never evicted, and its step runs once', async () => {
  const gate = createDeferred<void>();
  let runs = 0;
  const slow = step('slow', async () => {
    runs++;
    await gate.promise;
    return 'done';
  });
  const all = { ...workflows, stepping: (): Promise<string> => slow() };
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows: all, maxResident: 1 });
  await manager.start('stepping', 'busy');
  await startWaiters(manager as unknown as WorkflowManager<typeof workflows>, 3);
  // Over budget by three: every idle one goes, the busy one stays.
  await until(async () => (await evicted(manager as unknown as WorkflowManager<typeof workflows>)).length === 3);
  assert.ok(!(await evicted(manager as unknown as WorkflowManager<typeof workflows>)).includes('busy'));
  gate.resolve();
  assert.equal(await manager.getResult('busy'), 'done');
  assert.equal(runs, 1);
  await manager.close();
});

test("startWith(ifExists: 'resume') of an evicted workflow resumes it; a put then applies", async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  await startWaiters(manager, 2);
  await until(async () => (await evicted(manager)).length === 1);
  const [cold] = (await evicted(manager)) as [string];
  const handle = await manager.startWith('waiter', cold, [], { ifExists: 'resume' });
  assert.equal(handle.created, false);
  await manager.queue<number>(cold, 'numbers', null).put(6);
  assert.equal(await handle.result(), 7);
  await manager.close();
});

test('cancel() of an evicted workflow cancels it', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: 1 });
  await startWaiters(manager, 2);
  await until(async () => (await evicted(manager)).length === 1);
  const [cold] = (await evicted(manager)) as [string];
  const result = manager.getResult(cold);
  await manager.cancel(cold);
  assert.equal(((await rejection(result)) as Error).name, 'WorkflowCancelledError');
  assert.equal((await manager.list()).find((info) => info.id === cold)?.status, 'cancelled');
  await manager.close();
});

test('an evicted workflow takes a put by its alias, and an event from the store inbox', async () => {
  const store = new MemoryStore();
  const manager = await WorkflowManager.open({ store, workflows, maxResident: 1, inboxPollMs: 60_000 });
  const names: Record<string, string> = { a: 'lobby', b: 'hall', c: 'den' };
  for (const [id, name] of Object.entries(names)) await manager.start('aliased', id, name);
  await Promise.all(Object.keys(names).map((id) => manager.waitForResource(id, 'numbers', null)));
  await until(async () => (await evicted(manager)).length === 2);
  const [cold, other] = (await evicted(manager)) as [string, string];
  await manager.queue<number>(names[cold] as string, 'numbers', null).put(1);
  assert.equal(await manager.getResult(cold), 2);

  assert.ok((await evicted(manager)).includes(other));
  const event = await store.postEvent({ workflowId: other, resource: 'numbers', identity: null, action: 'put', args: [10] });
  assert.equal(await manager.deliverInbox(), 1);
  assert.equal((await store.eventOutcome(event))?.status, 'applied');
  assert.equal(await manager.getResult(other), 11);
  await manager.close();
});

test('an inbox event for a resource an evicted workflow had not open waits without waking it; one for its open resource wakes it', async () => {
  const store = new MemoryStore();
  let runs = 0;
  const counting = {
    waiter: async (): Promise<number> => {
      runs++; // once per run: a replay counts
      await using numbers = await queue<number>('numbers', null);
      return await plus(await numbers.get());
    },
  };
  const manager = await WorkflowManager.open({ store, workflows: counting, maxResident: 1, inboxPollMs: 0 });
  await manager.start('waiter', 'w0');
  await manager.waitForResource('w0', 'numbers', null);
  await manager.start('waiter', 'w1');
  await until(async () => (await manager.list()).some((info) => info.id === 'w0' && info.resident === false));
  const runsBefore = runs;
  const early = await store.postEvent({ workflowId: 'w0', resource: 'later', identity: null, action: 'put', args: [1] });
  for (let pass = 0; pass < 3; pass++) assert.equal(await manager.deliverInbox(), 0);
  assert.equal(runs, runsBefore, 'the evicted workflow was woken for an event it could not take');
  assert.equal((await store.eventOutcome(early))?.status, 'pending');
  const event = await store.postEvent({ workflowId: 'w0', resource: 'numbers', identity: null, action: 'put', args: [10] });
  assert.equal(await manager.deliverInbox(), 1);
  assert.equal((await store.eventOutcome(event))?.status, 'applied');
  assert.equal(await manager.getResult('w0'), 11);
  await manager.close();
});

test('a process whose evicted workflow is cancelled exits by itself (an evicted workflow held it alive until then)', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./evict-child.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, output);
  assert.equal(output, 'evicted\ncancelled\n');
});

for (const kind of ['memory', 'sqlite'] as const) {
  test(`on ${kind}, puts racing with evictions (maxResident 2, 20 workflows, bursts of 10 puts at once) all apply exactly once`, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quest-evict-race-'));
    try {
      const store = kind === 'memory' ? new MemoryStore() : new SqliteStore(join(directory, 'db.sqlite'));
      const manager = await WorkflowManager.open({ store, workflows, maxResident: 2 });
      const ids = Array.from({ length: 20 }, (_, i) => `s${i}`);
      for (const id of ids) await manager.start('summer', id);
      await Promise.all(ids.map((id) => manager.waitForResource(id, 'numbers', null)));
      const expected = new Map(ids.map((id) => [id, 0]));
      let seed = 7;
      for (let burst = 0; burst < 20; burst++) {
        const puts: Promise<void>[] = [];
        for (let i = 0; i < 10; i++) {
          seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
          const id = ids[seed % ids.length] as string;
          const n = (seed % 9) + 1;
          expected.set(id, (expected.get(id) ?? 0) + n);
          puts.push(manager.queue<number>(id, 'numbers', null).put(n));
        }
        await Promise.all(puts);
        // Once the burst is over, all but two are evicted again before the next one.
        await until(async () => (await evicted(manager as unknown as WorkflowManager<typeof workflows>)).length === ids.length - 2);
      }
      await Promise.all(ids.map((id) => manager.queue<number>(id, 'numbers', null).put(0)));
      assert.deepEqual(await Promise.all(ids.map((id) => manager.getResult<number>(id))), ids.map((id) => expected.get(id)));
      await manager.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
}

test('a put that comes while its workflow is being evicted waits for the eviction, resumes it and applies', async () => {
  // The store holds the commits of one workflow while `held`: its eviction then waits for its last write.
  const gate = createDeferred<void>();
  const commitHeld = createDeferred<void>();
  let held: string | undefined;
  class HeldCommits extends StoreView {
    override history(id: string): History {
      const inner = super.history(id);
      return {
        load: () => inner.load(),
        clear: () => inner.clear(),
        commit: async (change) => {
          if (id === held) {
            commitHeld.resolve();
            await gate.promise;
          }
          await inner.commit(change);
        },
      };
    }
  }
  const store = new HeldCommits(new MemoryStore());
  const blocker = createDeferred<void>();
  const busy = step('busy', () => blocker.promise);
  const all = { ...workflows, stepping: (): Promise<void> => busy() };
  const manager = await WorkflowManager.open({ store, workflows: all, maxResident: 1 });
  await manager.start('stepping', 'busy');
  await manager.start('summer', 's');
  await manager.waitForResource('s', 'numbers', null);
  // `busy` runs a step: `s` is the only one that can go.
  await until(async () => (await evicted(manager as unknown as WorkflowManager<typeof workflows>)).includes('s'));
  await manager.queue<number>('s', 'numbers', null).put(1);
  // Resumed, it took 1 and waits again: its idle commit is held, and the eviction that follows waits for it.
  held = 's';
  await commitHeld.promise;
  await nextTurn(); // the eviction pass scheduled when `s` went idle runs first
  const put = manager.queue<number>('s', 'numbers', null).put(2);
  held = undefined;
  gate.resolve();
  await put;
  await manager.queue<number>('s', 'numbers', null).put(0);
  assert.equal(await manager.getResult('s'), 3);
  blocker.resolve();
  await manager.getResult('busy');
  await manager.close();
});

test('maxResident must be a whole number, 1 or more, or Infinity', async () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: bad }), InvalidArgumentError);
  }
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, maxResident: Infinity });
  await manager.close();
});
