/**
 * Every outside call on a workflow that is not running names its real state: completed, failed (with its
 * error), cancelled, deleted or unknown, suspended by a closing manager, its type not registered here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NonDeterminismError,
  UnknownWorkflowTypeError,
  WorkflowCancelledError,
  WorkflowFinishedError,
  WorkflowManager,
  WorkflowNotFoundError,
  WorkflowSuspendedError,
  deserialize,
  isQuestError,
  queue,
  registerError,
  serialize,
  step,
} from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Store } from '../../src/storage/store.js';
import { StoreView, rejection } from './support.js';

class OutOfStock extends Error {
  override name = 'OutOfStock';
}
registerError(OutOfStock);

/** Waits for one number on its 'numbers' queue; fails on a negative one. */
async function taker(): Promise<number> {
  await using numbers = await queue<number>('numbers', null);
  await using _out = await queue<number>('out', null);
  const n = await numbers.get();
  if (n < 0) throw new OutOfStock(`no ${-n} apples`);
  return n;
}

const workflows = { taker };

function open(store: Store = new MemoryStore()): Promise<WorkflowManager<typeof workflows>> {
  return WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
}

async function finishedError(promise: Promise<unknown>): Promise<WorkflowFinishedError> {
  const error = await rejection(promise);
  assert.ok(error instanceof WorkflowFinishedError, `expected WorkflowFinishedError, got ${String(error)}`);
  assert.ok(isQuestError(error, 'WORKFLOW_FINISHED'));
  return error;
}

async function startTaker(manager: WorkflowManager<typeof workflows>, id: string): Promise<void> {
  await manager.start('taker', id);
  await manager.waitForResource(id, 'numbers', null);
}

describe('outside calls name the state of a workflow that is not running', () => {
  test('a completed workflow: WorkflowFinishedError (completed)', async () => {
    const manager = await open();
    await startTaker(manager, 'w1');
    await manager.queue<number>('w1', 'numbers', null).put(7);
    assert.equal(await manager.getResult('w1'), 7);
    const error = await finishedError(manager.act('w1', 'numbers', null, 'put', 1));
    assert.equal(error.state, 'completed');
    assert.equal(error.message, 'Workflow "w1" has completed: it takes no more outside actions. Read its outcome with getResult(), or start a new workflow.');
    assert.equal((await finishedError(manager.resources('w1', null))).state, 'completed');
    await manager.close();
  });

  test('a failed workflow: WorkflowFinishedError (failed) naming its error; getResult rethrows the error', async () => {
    const manager = await open();
    await startTaker(manager, 'w1');
    await manager.queue<number>('w1', 'numbers', null).put(-3);
    await assert.rejects(manager.getResult('w1'), OutOfStock);
    assert.deepEqual((await manager.list()).map(({ status }) => status), ['failed']);
    const error = await finishedError(manager.act('w1', 'numbers', null, 'put', 1));
    assert.equal(error.state, 'failed');
    assert.equal(error.failure, 'OutOfStock: no 3 apples');
    assert.match(error.message, /^Workflow "w1" failed \(OutOfStock: no 3 apples\): it takes no more outside actions\./);
    await manager.close();
  });

  test('a cancelled workflow: WorkflowFinishedError (cancelled) for act, WorkflowCancelledError for getResult', async () => {
    const manager = await open();
    await startTaker(manager, 'w1');
    await manager.cancel('w1');
    const error = await finishedError(manager.act('w1', 'numbers', null, 'put', 1));
    assert.equal(error.state, 'cancelled');
    assert.match(error.message, /^Workflow "w1" was cancelled: it takes no more outside actions\. Start a new workflow/);
    const result = await rejection(manager.getResult('w1'));
    assert.ok(result instanceof WorkflowCancelledError);
    assert.match(result.message, /"w1" was cancelled before it finished/);
    await manager.close();
  });

  test('an outside call waiting when the workflow is cancelled learns of the cancellation, not of a suspension', async () => {
    const manager = await open();
    await startTaker(manager, 'w1');
    const get = rejection(manager.act('w1', 'out', null, 'get'));
    await manager.cancel('w1');
    assert.ok((await get) instanceof WorkflowCancelledError);
    await manager.close();
  });

  test('a deleted workflow: actions hear it was deleted (WorkflowFinishedError), its result is gone (WorkflowNotFoundError)', async () => {
    const manager = await open();
    await startTaker(manager, 'w1');
    await manager.delete('w1');
    await assert.rejects(manager.act('w1', 'numbers', null, 'put', 1), (error) => error instanceof WorkflowFinishedError && error.state === 'deleted');
    await assert.rejects(manager.getResult('w1'), WorkflowNotFoundError);
    await manager.close();
  });

  test('a workflow suspended by a closing manager: WorkflowSuspendedError saying so', async () => {
    const manager = await open(new StoreView(new MemoryStore()));
    await startTaker(manager, 'w1');
    const waiting = rejection(manager.getResult('w1'));
    await manager.close();
    const error = await waiting;
    assert.ok(error instanceof WorkflowSuspendedError);
    assert.match(error.message, /"w1" is not running: its workflow manager is closing/);
    const acted = await rejection(manager.act('w1', 'numbers', null, 'put', 1));
    assert.ok(acted instanceof WorkflowSuspendedError);
    assert.match(acted.message, /workflow manager is closing/);
  });

  test('a workflow whose type is not registered here: UnknownWorkflowTypeError', async () => {
    const store = new MemoryStore();
    const first = await open(new StoreView(store));
    await startTaker(first, 'w1');
    await first.close();
    const other = await WorkflowManager.open({ store: new StoreView(store), workflows: { other: async () => 1 }, inboxPollMs: 0 });
    await assert.rejects(other.act('w1', 'numbers', null, 'put', 1), UnknownWorkflowTypeError);
    await assert.rejects(other.getResult('w1'), UnknownWorkflowTypeError);
    await other.close();
  });

  test('a workflow whose run stopped on an engine error: that error (NonDeterminismError)', async () => {
    const store = new MemoryStore();
    const first = await open(new StoreView(store));
    await startTaker(first, 'w1');
    await first.close();
    // Same type name, different code: replay finds no queue where the history opened one.
    const changed = { taker: async () => step('other', async () => 1)() };
    const after = await WorkflowManager.open({ store: new StoreView(store), workflows: changed, inboxPollMs: 0, historian: { stallTimeoutMs: 20 } });
    await assert.rejects(after.getResult('w1'), NonDeterminismError);
    await assert.rejects(after.act('w1', 'numbers', null, 'put', 1), NonDeterminismError);
    const [info] = await after.list();
    assert.equal(info?.status, 'suspended');
    assert.match(info?.error ?? '', /no longer matches its history/);
    await after.close();
  });

  test('WorkflowFinishedError keeps its state through a history', () => {
    const rebuilt = deserialize(serialize(new WorkflowFinishedError('w1', 'failed', 'OutOfStock: no apples')));
    assert.ok(rebuilt instanceof WorkflowFinishedError);
    assert.equal(rebuilt.state, 'failed');
    assert.equal(rebuilt.code, 'WORKFLOW_FINISHED');
  });
});

