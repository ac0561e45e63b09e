/**
 * cancel, delete and close are prompt: they never wait for a promise the workflow awaits outside Quest, and
 * running steps get a bounded grace period (stopGraceMs); nothing touches the store after close().
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  WorkflowCancelledError,
  WorkflowManager,
  WorkflowFinishedError,
  WorkflowNotFoundError,
  abortSignal,
  isSuspension,
  step,
  task,
  type WorkflowRegistry,
} from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Store } from '../../src/storage/store.js';
import { StoreView, rejection, until } from './support.js';

/** A promise that never settles: an in-process event nobody fires, a fetch that never answers. */
const never = (): Promise<never> => new Promise<never>(() => undefined);

/** Workflows that end up waiting on `never()`, at top level or in a task; `waiting` counts the waits reached. */
function stuckWorkflows() {
  const waiting = { count: 0 };
  const prepare = step('prepare', async () => 'ready');
  const blocked = task('blocked', async () => {
    waiting.count++;
    await never();
  });
  const workflows = {
    topLevel: async () => {
      await prepare();
      waiting.count++;
      await never();
    },
    inTask: async () => {
      await prepare();
      await blocked();
    },
  } satisfies WorkflowRegistry;
  return { waiting, workflows };
}

function open<W extends WorkflowRegistry>(store: Store, workflows: W, stopGraceMs?: number): Promise<WorkflowManager<W>> {
  return WorkflowManager.open({ store, workflows, inboxPollMs: 0, ...(stopGraceMs === undefined ? {} : { stopGraceMs }) });
}

// Before the fix these hung: fail them instead.
describe('stopping a workflow never waits for user code', { timeout: 10_000 }, () => {
  for (const type of ['topLevel', 'inTask'] as const) {
    test(`cancel returns while the workflow awaits a promise that never settles (${type})`, async () => {
      const { waiting, workflows } = stuckWorkflows();
      const store = new MemoryStore();
      const manager = await open(store, workflows);
      await manager.start(type, 'w1');
      await until(async () => waiting.count === 1);
      await manager.cancel('w1');
      assert.equal((await store.getWorkflow('w1'))?.state, 'cancelled');
      assert.equal(store.history('w1').size, 0);
      await assert.rejects(manager.getResult('w1'), WorkflowCancelledError);
      await manager.close();
    });

    test(`delete returns while the workflow awaits a promise that never settles, and has() is false at once (${type})`, async () => {
      const { waiting, workflows } = stuckWorkflows();
      const store = new MemoryStore();
      const manager = await open(store, workflows);
      await manager.start(type, 'w1');
      await until(async () => waiting.count === 1);
      await manager.delete('w1');
      assert.equal(await manager.has('w1'), false);
      assert.deepEqual(await manager.list(), []);
      assert.equal(await store.getWorkflow('w1'), undefined);
      await manager.close();
    });

    test(`close returns while the workflow awaits a promise that never settles, and it resumes later (${type})`, async () => {
      const { waiting, workflows } = stuckWorkflows();
      const store = new MemoryStore();
      const view = new StoreView(store);
      const manager = await open(view, workflows);
      await manager.start(type, 'w1');
      await until(async () => waiting.count === 1);
      await manager.close();
      assert.ok(view.closed);
      assert.equal((await store.getWorkflow('w1'))?.state, 'running', 'suspended, to be resumed by the next manager');

      const next = await open(new StoreView(store), workflows);
      await until(async () => waiting.count === 2);
      await next.close();
    });
  }

  test('getResult and act during and after a delete: the waiting caller learns of the delete, later results find nothing, later actions hear it was deleted', async () => {
    const { waiting, workflows } = stuckWorkflows();
    const manager = await open(new MemoryStore(), workflows);
    await manager.start('topLevel', 'w1');
    await until(async () => waiting.count === 1);
    const waitingForResult = rejection(manager.getResult('w1'));
    const deleting = manager.delete('w1');
    const resultDuring = rejection(manager.getResult('w1'));
    const actDuring = rejection(manager.act('w1', 'numbers', null, 'put', 1));
    await deleting;
    const early = await waitingForResult;
    assert.ok(early instanceof WorkflowCancelledError);
    assert.match(early.message, /"w1" was deleted/);
    assert.ok((await resultDuring) instanceof WorkflowNotFoundError);
    const deleted = (error: unknown): boolean => error instanceof WorkflowFinishedError && error.state === 'deleted';
    assert.ok(deleted(await actDuring));
    await assert.rejects(manager.getResult('w1'), WorkflowNotFoundError);
    await assert.rejects(manager.act('w1', 'numbers', null, 'put', 1), deleted);
    await manager.close();
  });

  test('a workflow that replays into a wait that never settles can be deleted after a restart', async () => {
    const { waiting, workflows } = stuckWorkflows();
    const store = new MemoryStore();
    const before = await open(new StoreView(store), workflows);
    await before.start('topLevel', 'w1');
    await until(async () => waiting.count === 1);
    await before.close();

    const after = await open(new StoreView(store), workflows);
    await until(async () => waiting.count === 2); // replayed `prepare`, waits again
    await after.delete('w1');
    assert.equal(await after.has('w1'), false);
    assert.equal(await store.getWorkflow('w1'), undefined);
    assert.equal(store.history('w1').size, 0);
    await after.close();
  });

  test('close gives a step that honours its AbortSignal the time to end, then closes', async () => {
    let started = false;
    let cleanedUp = false;
    const careful = step('careful', async () => {
      const signal = abortSignal();
      started = true;
      // Like a fetch given the signal: on abort it takes a moment to release its connection, then rejects.
      await new Promise<void>((_, reject) =>
        signal.addEventListener('abort', () => {
          setTimeout(() => {
            cleanedUp = true;
            reject(signal.reason as Error);
          }, 20);
        }),
      );
    });
    const store = new MemoryStore();
    // No limit: close returns because the step ended, not because the grace ran out.
    const manager = await open(new StoreView(store), { careful: () => careful() }, Infinity);
    await manager.start('careful', 'c1');
    await until(async () => started);
    await manager.close();
    assert.equal(cleanedUp, true, 'the step ended before the store was closed');
    assert.equal((await store.getWorkflow('c1'))?.state, 'running');
  });

  test('close does not wait past the grace period for a step that ignores its signal; the late result is never written', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    let returned = false;
    let lateCall: unknown;
    const stubborn = step('stubborn', async () => {
      started = true;
      await released;
      returned = true;
      return 'late';
    });
    const after = step('after', async () => 'next');
    const workflows = {
      stubborn: async () => {
        await stubborn();
        return after();
      },
      waiter: async () => {
        await released;
        try {
          await after();
        } catch (error) {
          lateCall = error;
        }
      },
    };
    const store = new MemoryStore();
    const view = new StoreView(store);
    const manager = await open(view, workflows, 1);
    await manager.start('stubborn', 's1');
    await manager.start('waiter', 'w1');
    await until(async () => started);
    await manager.close();
    assert.equal(returned, false, 'close went on without the step');
    assert.ok(view.closed);
    const recorded = JSON.stringify(store.history('s1').snapshot());

    release();
    await until(async () => returned && lateCall !== undefined);
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    assert.ok(isSuspension(lateCall), 'a workflow going on after close gets the stop error at its next Quest call');
    assert.equal(JSON.stringify(store.history('s1').snapshot()), recorded, 'the late step result was not written');
    assert.equal(view.callsAfterEnd, 0, 'nothing touched the store after it was closed');
  });

  test('stopGraceMs must be 0 or more', async () => {
    await assert.rejects(WorkflowManager.open({ store: new MemoryStore(), workflows: {}, stopGraceMs: -5 }), /stopGraceMs/);
  });
});
