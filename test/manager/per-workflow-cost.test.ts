/**
 * What one short workflow costs the manager, counted rather than timed (issue 10: one-step workflows through
 * the manager). With AsyncLocalStorage on, Node 20 runs a hook for every promise, so the promises a workflow
 * makes are a fair, deterministic measure of its bookkeeping; timing is left to bench/scale.ts.
 */
import { createHook } from 'node:async_hooks';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowManager, step, WorkflowSuspendedError } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { finishedEntry } from '../../src/manager/entry-outcomes.js';
import type { WorkflowEntry } from '../../src/storage/store.js';

const one = step('one', async (i: number) => i + 1);
const workflows = { single: (i: number): Promise<number> => one(i) };

/** Promises made while `count` one-step workflows are started at once and their results read, per workflow. */
async function promisesPerWorkflow(count: number): Promise<number> {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
  let promises = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') promises++;
    },
  });
  hook.enable();
  try {
    const handles = await Promise.all(Array.from({ length: count }, (_, i) => manager.start('single', `w${i}`, i)));
    const results = await Promise.all(handles.map((handle) => handle.result()));
    assert.deepEqual(results, Array.from({ length: count }, (_, i) => i + 1));
  } finally {
    hook.disable();
  }
  await manager.close();
  return promises / count;
}

describe('the cost of a short workflow through the manager', () => {
  test('a one-step workflow makes fewer than 35 promises from start() to its result (47 before the cuts of issue 10)', async () => {
    // Counted with 100 workflows at once: start(), the launch window, the entry's insert, the run, the step and
    // its durable end, the finished entry, result(). The test's own Promise.all calls count too (2 per workflow).
    const perWorkflow = await promisesPerWorkflow(100);
    assert.ok(perWorkflow < 35, `${perWorkflow} promises per workflow`);
  });

  test('a start waiting for its place in the launch window is one promise until its turn (two before)', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows, launchWindow: 1 });
    const first = manager.start('single', 'first', 1); // takes the only place
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    });
    hook.enable();
    const waiting = Array.from({ length: 10 }, (_, i) => manager.start('single', `w${i}`, i));
    hook.disable();
    assert.equal(promises, 10, 'promises made by 10 starts waiting for a place');
    const handles = await Promise.all([first, ...waiting]);
    assert.deepEqual(await Promise.all(handles.map((handle) => handle.result())), [2, ...Array.from({ length: 10 }, (_, i) => i + 1)]);
    await manager.close();
  });

  test('a Quest call left running after its workflow finished is refused, and its step body never runs', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let bodyRan = false;
    let leftover: Promise<unknown> | undefined;
    const late = step('late', async () => {
      bodyRan = true;
    });
    const store = new MemoryStore();
    const manager = await WorkflowManager.open({
      store,
      workflows: {
        quick: async (): Promise<string> => {
          // Not awaited: goes on after the workflow has returned and its run has ended.
          leftover = released.then(() => late());
          return 'done';
        },
      },
    });
    const handle = await manager.start('quick', 'q1');
    assert.equal(await handle.result(), 'done');
    release();
    const error = await leftover!.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof WorkflowSuspendedError, `got ${String(error)}`);
    assert.match(error.message, /"q1"/);
    assert.equal(bodyRan, false);
    assert.deepEqual(await store.history('q1').load(), []);
    await manager.close();
  });

  test('the entry of an ended workflow keeps its time limit and its parent', () => {
    const entry: WorkflowEntry = {
      id: 'c1', type: 'child', args: [1], state: 'running', startedAt: 1_000, deleteOnFinish: false,
      timeout: { ms: 500, deadline: 1_500 }, parent: { id: 'p1', cancelWithParent: true },
    };
    const ended = finishedEntry(entry, { ok: true, value: 2 });
    assert.equal(ended.state, 'completed');
    assert.equal(ended.result, 2);
    assert.ok(ended.finishedAt !== undefined && ended.finishedAt >= 1_000);
    assert.deepEqual({ ...ended, finishedAt: 0 }, { ...entry, state: 'completed', result: 2, finishedAt: 0 });
    assert.equal(entry.state, 'running', 'the running entry is left as it was');
  });
});
