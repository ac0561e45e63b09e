/**
 * The manager's launch window (ManagerOptions.launchWindow): runs beyond it wait their turn to start, and
 * callers see no difference — every workflow starts, takes outside calls and finishes, including workflows
 * that wait for the outside (a waiting run gives its place back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, WorkflowManager, queue, step } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { rejection } from './support.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const plus = step('plus', async (n: number) => n + 1);

const workflows = {
  /** Waits for one number on its queue, then adds one in a step. */
  waiter: async (): Promise<number> => {
    await using numbers = await queue<number>('numbers', null);
    return await plus(await numbers.get());
  },
  single: (n: number): Promise<number> => plus(n),
};

test('with a launch window of 1, 50 workflows that all wait for the outside start, take a put each and finish', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, launchWindow: 1 });
  const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
  await Promise.all(ids.map((id) => manager.start('waiter', id)));
  // Every one of them waits on its queue at the same time: none holds its place while it waits.
  await Promise.all(ids.map((id) => manager.waitForResource(id, 'numbers', null)));
  await Promise.all(ids.map((id, i) => manager.queue<number>(id, 'numbers', null).put(i)));
  assert.deepEqual(await Promise.all(ids.map((id) => manager.getResult<number>(id))), ids.map((_, i) => i + 1));
  await manager.close();
});

test('outside calls made right after start() wait for a run that has not had its turn yet', async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, launchWindow: 2 });
  const starts = Array.from({ length: 20 }, (_, i) => manager.start('waiter', `w${i}`));
  const last = await starts[19]!;
  // The put goes in while 19 runs before it may still be waiting for their turn.
  await manager.queue<number>(last.id, 'numbers', null).put(41);
  assert.equal(await last.result(), 42);
  await Promise.all(starts);
  await manager.close();
});

test('workflows resumed at open go through the launch window and all finish', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-launch-'));
  try {
    const path = join(directory, 'db.sqlite');
    const first = await WorkflowManager.open({ store: new SqliteStore(path), workflows });
    const ids = Array.from({ length: 30 }, (_, i) => `w${i}`);
    await Promise.all(ids.map((id) => first.start('waiter', id)));
    await Promise.all(ids.map((id) => first.waitForResource(id, 'numbers', null)));
    await first.close();
    const second = await WorkflowManager.open({ store: new SqliteStore(path), workflows, launchWindow: 3 });
    await Promise.all(ids.map((id, i) => second.queue<number>(id, 'numbers', null).put(i)));
    assert.deepEqual(await Promise.all(ids.map((id) => second.getResult<number>(id))), ids.map((_, i) => i + 1));
    await second.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a launch window that is not a whole number of runs, 1 or more, is refused', async () => {
  for (const launchWindow of [0, -1, 1.5, Number.NaN]) {
    const error = await rejection(WorkflowManager.open({ store: new MemoryStore(), workflows, launchWindow }));
    assert.ok(error instanceof InvalidArgumentError, String(error));
  }
});
