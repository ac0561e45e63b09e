import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DuplicateWorkflowError,
  UnknownWorkflowTypeError,
  WorkflowCancelledError,
  WorkflowFinishedError,
  WorkflowManager,
  WorkflowNotFoundError,
  event,
  isQuestError,
  isSuspension,
  queue,
  registerError,
  step,
} from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Store } from '../../src/storage/store.js';
import { StoreView, rejection, until } from './support.js';

class OutOfStock extends Error {
  override name = 'OutOfStock';
}
registerError(OutOfStock);

/** Sums the numbers put into its 'numbers' queue until it gets 0. */
async function adder(label: string): Promise<string> {
  await using numbers = await queue<number>('numbers', null);
  let sum = 0;
  for (let n = await numbers.get(); n !== 0; n = await numbers.get()) sum += n;
  return `${label}: ${sum}`;
}

async function waiter(): Promise<string> {
  await using go = await event('go', null);
  await go.wait();
  return 'done';
}

async function failing(item: string): Promise<never> {
  throw new OutOfStock(`no ${item}`);
}

const workflows = { adder, waiter, failing, double: async (n: number) => n * 2 };

function open(store: Store = new MemoryStore()): Promise<WorkflowManager<typeof workflows>> {
  return WorkflowManager.open({ store, workflows });
}

describe('WorkflowManager lifecycle', () => {
  test('start returns once the entry is durable; the result comes through the handle and getResult', async () => {
    const store = new MemoryStore();
    const manager = await open(store);
    const handle = await manager.start('adder', 'a1', 'total');
    assert.equal(handle.created, true);
    // Written when it changed, not at shutdown.
    assert.equal((await store.getWorkflow('a1'))?.state, 'running');
    const numbers = manager.queue<number>('a1', 'numbers', null);
    await manager.waitForResource('a1', 'numbers', null);
    await numbers.put(2);
    await numbers.put(3);
    await numbers.put(0);
    const result: string = await handle.result();
    assert.equal(result, 'total: 5');
    assert.equal(await manager.getResult('a1'), 'total: 5');
    const stored = await store.getWorkflow('a1');
    assert.equal(stored?.state, 'completed');
    assert.equal(typeof stored?.finishedAt, 'number');
    assert.equal(store.history('a1').size, 0, 'a finished workflow leaves no history');
    await manager.close();
  });

  test('arguments and results are checked against the registered functions', async () => {
    const manager = await open();
    const doubled: number = await (await manager.start('double', 'd1', 21)).result();
    assert.equal(doubled, 42);
    const typeErrors = async (): Promise<void> => {
      // @ts-expect-error: double takes a number
      await manager.start('double', 'd2', 'twenty');
      // @ts-expect-error: not a registered type
      await manager.start('triple', 'd3', 1);
      // @ts-expect-error: adder takes one argument
      await manager.startWith('adder', 'd4', []);
    };
    assert.equal(typeof typeErrors, 'function');
    await manager.close();
  });

  test('a failure is rethrown as its class, and kept', async () => {
    const store = new MemoryStore();
    const manager = await open(store);
    await manager.start('failing', 'f1', 'apples');
    const error = await rejection(manager.getResult('f1'));
    assert.ok(error instanceof OutOfStock);
    assert.equal(error.message, 'no apples');
    assert.equal((await store.getWorkflow('f1'))?.state, 'failed');
    assert.deepEqual((await manager.list()).map(({ id, status }) => [id, status]), [['f1', 'failed']]);
    await manager.close();
  });

  test('a duplicate id is an error, running or finished; an unknown type is an error', async () => {
    const manager = await open();
    await manager.start('waiter', 'w1');
    await assert.rejects(manager.start('waiter', 'w1'), DuplicateWorkflowError);
    await manager.start('double', 'd1', 1);
    await manager.getResult('d1');
    await assert.rejects(manager.start('double', 'd1', 1), DuplicateWorkflowError);
    await assert.rejects(
      // @ts-expect-error: not a registered type
      manager.start('nope', 'x1'),
      (error: unknown) => error instanceof UnknownWorkflowTypeError && /nope/.test(error.message) && /adder/.test(error.message),
    );
    assert.equal(await manager.has('x1'), false, 'a refused start leaves nothing behind');
    await manager.close();
  });

  test('two concurrent starts of one id: one wins, the other is a duplicate', async () => {
    const manager = await open();
    const results = await Promise.allSettled([manager.start('waiter', 'w1'), manager.start('waiter', 'w1')]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
    await manager.close();
  });

  test("ifExists: 'resume' starts it or returns the existing one, running or finished", async () => {
    const manager = await open();
    const first = await manager.startWith('waiter', 'w1', [], { ifExists: 'resume' });
    const again = await manager.startWith('waiter', 'w1', [], { ifExists: 'resume' });
    assert.deepEqual([first.created, again.created], [true, false]);
    assert.equal((await manager.list()).length, 1);
    await manager.event('w1', 'go', null).set();
    assert.equal(await again.result(), 'done');
    const finished = await manager.startWith('waiter', 'w1', [], { ifExists: 'resume' });
    assert.equal(finished.created, false);
    assert.equal(await finished.result(), 'done');
    await assert.rejects(manager.startWith('double', 'w1', [1], { ifExists: 'resume' }), DuplicateWorkflowError, 'another type is not the same workflow');
    await manager.close();
  });

  test('unknown ids: WorkflowNotFoundError everywhere', async () => {
    const manager = await open();
    await assert.rejects(manager.getResult('ghost'), WorkflowNotFoundError);
    await assert.rejects(manager.cancel('ghost'), WorkflowNotFoundError);
    await assert.rejects(manager.delete('ghost'), WorkflowNotFoundError);
    await assert.rejects(manager.act('ghost', 'numbers', null, 'put', 1), WorkflowNotFoundError);
    await assert.rejects(manager.queue<number>('ghost', 'numbers', null).put(1), WorkflowNotFoundError);
    await assert.rejects(manager.resources('ghost', null), WorkflowNotFoundError);
    assert.equal(await manager.has('ghost'), false);
    await manager.close();
  });

  test('cancel stops a running workflow: cancelled, history cleared, result rejects', async () => {
    const store = new MemoryStore();
    const manager = await open(store);
    await manager.start('adder', 'a1', 'x');
    await manager.waitForResource('a1', 'numbers', null);
    await manager.queue<number>('a1', 'numbers', null).put(4);
    assert.ok(store.history('a1').size > 0);
    const waiting = rejection(manager.getResult('a1'));
    await manager.cancel('a1');
    assert.ok((await waiting) instanceof WorkflowCancelledError, 'a caller already waiting learns of the cancellation');
    await assert.rejects(manager.getResult('a1'), WorkflowCancelledError);
    assert.equal(store.history('a1').size, 0);
    assert.equal((await store.getWorkflow('a1'))?.state, 'cancelled');
    assert.deepEqual((await manager.list()).map(({ status }) => status), ['cancelled']);
    await assert.rejects(manager.act('a1', 'numbers', null, 'put', 1), (error) => error instanceof WorkflowFinishedError && error.state === 'cancelled');
    await manager.cancel('a1'); // cancelling a finished workflow changes nothing
    assert.equal((await store.getWorkflow('a1'))?.state, 'cancelled');
    await manager.close();
  });

  test('deleting a running workflow cancels it, and the manager forgets it entirely', async () => {
    let stepRuns = 0;
    const store = new MemoryStore();
    const manager = await WorkflowManager.open({
      store,
      workflows: {
        busy: async () => {
          await step('work', async () => stepRuns++)();
          await using go = await event('go', null);
          await go.wait();
          await step('after', async () => stepRuns++)();
        },
      },
    });
    await manager.start('busy', 'b1');
    await manager.waitForResource('b1', 'go', null);
    const waiting = rejection(manager.getResult('b1'));
    await manager.delete('b1');
    assert.ok((await waiting) instanceof WorkflowCancelledError);
    assert.equal(await manager.has('b1'), false);
    assert.deepEqual(await manager.list(), []);
    assert.equal(await store.getWorkflow('b1'), undefined);
    assert.equal(store.history('b1').size, 0);
    await assert.rejects(manager.getResult('b1'), WorkflowNotFoundError);
    await assert.rejects(manager.event('b1', 'go', null).set(), { name: 'WorkflowFinishedError', message: /Workflow "b1" was deleted: it takes no more outside actions/ });
    assert.equal(stepRuns, 1, 'nothing ran after the delete');
    await manager.close();
  });

  test('deleting a finished workflow removes its result', async () => {
    const store = new MemoryStore();
    const manager = await open(store);
    await manager.start('double', 'd1', 2);
    assert.equal(await manager.getResult('d1'), 4);
    await manager.delete('d1');
    assert.equal(await store.getWorkflow('d1'), undefined);
    assert.equal(await manager.has('d1'), false);
    await assert.rejects(manager.getResult('d1'), WorkflowNotFoundError);
    await manager.close();
  });

  test('close suspends running workflows: a caller waiting for a result learns it was suspended', async () => {
    const store = new MemoryStore();
    const manager = await open(new StoreView(store));
    await manager.start('adder', 'a1', 'x');
    const waiting = rejection(manager.getResult('a1'));
    await manager.close();
    assert.ok(isSuspension(await waiting));
    assert.equal((await store.getWorkflow('a1'))?.state, 'running', 'still to be resumed by the next manager');
  });

  test('deleteOnFinish: a caller waiting gets the result, then the workflow is gone', async () => {
    const store = new MemoryStore();
    const manager = await open(store);
    const handle = await manager.startWith('waiter', 'w1', [], { deleteOnFinish: true });
    const result = handle.result();
    await manager.event('w1', 'go', null).set();
    assert.equal(await result, 'done');
    await until(async () => !(await manager.has('w1')));
    assert.equal(await store.getWorkflow('w1'), undefined);
    await assert.rejects(manager.getResult('w1'), WorkflowNotFoundError);
    await manager.close();
  });

  test('list reports id, type, start time and status of every workflow', async () => {
    const manager = await open();
    const before = Date.now();
    await manager.start('waiter', 'w1');
    await manager.start('double', 'd1', 1);
    await manager.getResult('d1');
    const listed = await manager.list();
    assert.deepEqual(
      listed.map(({ id, type, status }) => ({ id, type, status })),
      [{ id: 'w1', type: 'waiter', status: 'running' }, { id: 'd1', type: 'double', status: 'completed' }],
    );
    for (const info of listed) assert.ok(info.startedAt instanceof Date && info.startedAt.getTime() >= before);
    assert.deepEqual(await manager.metrics(), listed);
    await manager.close();
  });

  test('after close, the manager refuses new work', async () => {
    const manager = await open();
    await manager.close();
    await manager.close(); // closing twice is fine
    const error = await rejection(manager.start('double', 'd1', 1));
    assert.ok(isQuestError(error, 'STORAGE_FAILURE'));
  });
});
