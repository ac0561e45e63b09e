import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Historian, MemoryHistory, WorkflowManager, callChild, event, startChild, step } from '../../src/index.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { untilSettled } from '../helpers.js';

const directory = mkdtempSync(join(tmpdir(), 'quest-children-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const fresh = (): string => join(directory, `children-${++files}.sqlite`);

function childWorkflows(starts: string[]) {
  const record = step('record start', async (id: string) => {
    starts.push(id);
  });
  return {
    /** Waits for its `go` event, then answers. */
    async payment(order: string, cents: number): Promise<string> {
      await record(order);
      await using go = await event('go', null);
      await go.wait();
      return `paid ${cents} for ${order}`;
    },
    async checkout(order: string): Promise<string> {
      const payment = await startChild<string>('payment', [order, 500], { id: `${order}-payment` });
      await using shipped = await event('shipped', null);
      const receipt = await payment.result();
      await shipped.wait();
      return `${receipt}, shipped`;
    },
    async detached(order: string): Promise<string> {
      return callChild<string>('payment', [order, 1], { id: `${order}-detached`, cancelWithParent: false });
    },
  };
}

test('a parent starts a child once and awaits its result durably across a restart', async () => {
  const database = fresh();
  const starts: string[] = [];
  const workflows = childWorkflows(starts);
  const first = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await first.start('checkout', 'order-1', 'order-1');
  await first.waitForResource('order-1-payment', 'go', null);
  await first.waitForResource('order-1', 'shipped', null);
  await first.close();

  const second = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
  await second.waitForResource('order-1-payment', 'go', null);
  await second.event('order-1-payment', 'go', null).set();
  assert.equal(await second.getResult('order-1-payment'), 'paid 500 for order-1');
  await second.waitForResource('order-1', 'shipped', null);
  await second.event('order-1', 'shipped', null).set();
  assert.equal(await second.getResult('order-1'), 'paid 500 for order-1, shipped');
  assert.deepEqual(starts, ['order-1'], 'the child was started (and ran its first step) once');
  assert.deepEqual((await second.list()).map(({ id, status }) => [id, status]).sort(), [['order-1', 'completed'], ['order-1-payment', 'completed']]);
  await second.close();
});

test('cancelling the parent cancels its children, unless started with cancelWithParent: false', async () => {
  const starts: string[] = [];
  const manager = await WorkflowManager.open({ store: new SqliteStore(fresh()), workflows: childWorkflows(starts) });
  await manager.start('checkout', 'order-2', 'order-2');
  await manager.start('detached', 'order-3', 'order-3');
  await manager.waitForResource('order-2-payment', 'go', null);
  await manager.waitForResource('order-3-detached', 'go', null);
  await manager.cancel('order-2');
  await manager.cancel('order-3');
  const status = new Map((await manager.list()).map(({ id, status }) => [id, status]));
  assert.equal(status.get('order-2-payment'), 'cancelled');
  assert.equal(status.get('order-3-detached'), 'running');
  await manager.event('order-3-detached', 'go', null).set();
  assert.equal(await manager.getResult('order-3-detached'), 'paid 1 for order-3');
  await manager.close();
});

test('a child workflow fails the parent with its error; a lone Historian cannot start children', async () => {
  const workflows = {
    async failing(): Promise<never> {
      throw new RangeError('no stock');
    },
    async parent(): Promise<string> {
      try {
        return await callChild<string>('failing', []);
      } catch (error) {
        return `child failed: ${(error as Error).name} ${(error as Error).message}`;
      }
    },
  };
  const manager = await WorkflowManager.open({ store: new SqliteStore(fresh()), workflows });
  await manager.start('parent', 'p1');
  assert.equal(await manager.getResult('p1'), 'child failed: RangeError no stock');
  assert.ok(await manager.has('p1/main/child.start'), 'the default child id is derived from the parent id and the call');
  await manager.close();

  const lone = new Historian('lone', async () => callChild('anything'), new MemoryHistory());
  await assert.rejects(lone.run(), { code: 'INVALID_ARGUMENT' });
  await untilSettled(() => lone.status === 'failed');
});
