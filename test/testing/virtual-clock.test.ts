import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, sleep, step } from '../../src/index.js';
import { VirtualClock, systemClock } from '../../src/testing/index.js';
import { clock } from '../../src/core/clock.js';

const DAY = 24 * 3600_000;

test('with an automatic virtual clock, a workflow that sleeps for weeks finishes at once, at the virtual time', async (t) => {
  const start = Date.UTC(2027, 0, 1);
  const virtual = new VirtualClock({ start, auto: true });
  t.after(virtual.install());
  const readClock = step('now', async () => clock().now());
  const workflow = async () => {
    await sleep(7 * DAY);
    await sleep(new Date(start + 30 * DAY));
    return readClock();
  };
  assert.equal(await new Historian('weeks', workflow, new MemoryHistory()).run(), start + 30 * DAY);
});

test('advance fires due timers in deadline order, including one set in reaction within the window', async (t) => {
  const virtual = new VirtualClock({ start: 0 });
  t.after(virtual.install());
  const fired: string[] = [];
  virtual.setTimer(() => fired.push('b@20'), 20);
  virtual.setTimer(() => {
    fired.push('a@10');
    virtual.setTimer(() => fired.push('c@15'), 5);
  }, 10);
  const late = virtual.setTimer(() => fired.push('never'), 40);
  await virtual.advance(30);
  assert.deepEqual(fired, ['a@10', 'c@15', 'b@20']);
  assert.equal(virtual.now(), 30);
  assert.equal(virtual.nextAt, 40);
  late.clear();
  assert.equal(virtual.pending, 0);
  assert.equal(await virtual.fireNext(), false);
});

test('install returns the function that puts the system clock back', () => {
  const restore = new VirtualClock({ start: 5 }).install();
  assert.equal(clock().now(), 5);
  restore();
  assert.equal(clock(), systemClock);
});
