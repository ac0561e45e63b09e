/**
 * Historian.heldBytes: the estimate of what a run holds (its resources' values, queued items, tasks), which
 * the manager weighs resident runs by (ManagerOptions.maxResidentBytes). It follows the values in and out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, queue, state, task } from '../../src/index.js';
import { estimateValueBytes } from '../../src/core/value-size.js';
import { untilSettled } from '../helpers.js';
import { outcome, replayed, suspend, visible } from './support.js';

const MIB = 1024 * 1024;

test('heldBytes grows by about the size of what is put on a queue and shrinks as the workflow takes it', async () => {
  const workflow = async (): Promise<number> => {
    await using items = await queue<string>('items', null);
    await using taken = await state('taken', null, 0);
    await using go = await queue<boolean>('go', null);
    await go.get();
    let total = 0;
    for (let i = 0; i < 3; i++) total += (await items.get()).length;
    await taken.set(total);
    await go.get();
    return total;
  };
  const historian = new Historian('w', workflow, new MemoryHistory());
  const running = outcome(historian.run());
  await replayed(historian);
  await untilSettled(async () => (await visible(historian, null)).length === 3);
  const empty = historian.heldBytes;
  assert.ok(empty > 0 && empty < 4096, `three resources, nothing in them: ${empty} bytes`);

  for (let i = 0; i < 3; i++) await historian.act('items', null, 'put', 'x'.repeat(MIB));
  const full = historian.heldBytes;
  assert.ok(full - empty >= 3 * MIB && full - empty < 3 * MIB + 4096, `three 1 MiB strings queued: ${full - empty} bytes more`);

  await historian.act('go', null, 'put', true);
  await untilSettled(() => historian.act('taken', null, 'get').then((taken) => taken === 3 * MIB));
  assert.ok(historian.heldBytes < empty + 1024, `taken from the queue: ${historian.heldBytes} bytes`);
  await historian.act('go', null, 'put', true);
  assert.deepEqual(await running, { ok: true, value: 3 * MIB });
  assert.equal(historian.heldBytes, 0, 'no run, nothing held');
});

test("heldBytes counts a state's value, replaced on each set, and comes back the same after a resume by replay", async () => {
  const workflow = async (): Promise<void> => {
    await using _doc = await state<unknown>('doc', null, null);
    await using done = await queue<boolean>('done', null);
    await done.get();
  };
  const history = new MemoryHistory();
  const first = new Historian('w', workflow, history);
  const running = outcome(first.run());
  await replayed(first);
  await untilSettled(async () => (await visible(first, null)).length === 2);
  const before = first.heldBytes;
  const big = { rows: Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `row ${i}` })) };
  await first.act('doc', null, 'set', big);
  const withBig = first.heldBytes;
  assert.equal(withBig - before, estimateValueBytes(big), 'the value set, as estimated');
  await first.act('doc', null, 'set', 'small');
  assert.ok(first.heldBytes - before < 64, 'the old value no longer counts once replaced');
  await first.act('doc', null, 'set', big);
  await suspend(first, running);

  const second = new Historian('w', workflow, history);
  const resumed = outcome(second.run());
  await replayed(second);
  assert.equal(second.heldBytes, withBig, 'the replayed run holds what the first one did');
  await second.act('done', null, 'put', true);
  assert.deepEqual(await resumed, { ok: true, value: undefined });
});

test('heldBytes counts the tasks a workflow has started and not ended', async () => {
  const workflow = async (): Promise<void> => {
    await using done = await queue<boolean>('done', null);
    await using started = await state('started', null, 0);
    const waiting = Array.from({ length: 10 }, () => task('wait', async () => void (await done.get()))());
    await started.set(waiting.length);
    await Promise.all(waiting);
    await done.get();
  };
  const historian = new Historian('w', workflow, new MemoryHistory());
  const running = outcome(historian.run());
  await replayed(historian);
  await untilSettled(async () => (await visible(historian, null)).length === 2 && (await historian.act('started', null, 'get')) === 10);
  const withTasks = historian.heldBytes;
  for (let i = 0; i < 10; i++) await historian.act('done', null, 'put', true);
  await untilSettled(async () => (await historian.act('done', null, 'size')) === 0);
  const tasksEnded = historian.heldBytes;
  await historian.act('done', null, 'put', true);
  assert.deepEqual(await running, { ok: true, value: undefined });
  assert.ok(withTasks - tasksEnded >= 10 * 1000, `ten tasks waiting: ${withTasks} bytes, ${tasksEnded} once they ended`);
});

test('estimateValueBytes follows the layout of V8: a header and the characters of a string, shared single characters free, a cycle counted once', () => {
  assert.equal(estimateValueBytes('hello'), 24);
  assert.equal(estimateValueBytes('x'.repeat(1000)), 1016);
  assert.equal(estimateValueBytes('a'), 0);
  assert.equal(estimateValueBytes(7), 0, 'a small integer lives in its slot');
  assert.equal(estimateValueBytes(1.5), 16, 'another number is boxed');
  assert.equal(estimateValueBytes({ a: 1, b: 'xy' }), 24 + 2 * 8 + 24);
  assert.equal(estimateValueBytes([1, 2, 3]), 48 + 3 * 8);
  const cycle: { self?: unknown; name: string } = { name: 'loop' };
  cycle.self = cycle;
  assert.equal(estimateValueBytes(cycle), 24 + 2 * 8 + 24);
  assert.equal(estimateValueBytes(new Uint8Array(1000)), 1112);
  let deep: unknown = 'leaf!';
  for (let i = 0; i < 10_000; i++) deep = [deep];
  assert.ok(Number.isFinite(estimateValueBytes(deep)), 'a very deep value does not overflow the stack');
});
