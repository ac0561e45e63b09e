/** The WorkflowManager delivering the events of a store's inbox (deliverInbox and the poll). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { StorageError } from '../../src/core/errors.js';
import { StoreView, inbox, open, outcome, put, withoutInbox, workflows } from './inbox-support.js';

describe('inbox delivery', () => {
  test('events for a running workflow are applied in posting order, then settled as applied', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      const game = await manager.start('collect', 'c', 2);
      await manager.waitForResource('c', 'words', null);
      const first = await store.postEvent(put('c', 'first'));
      const second = await store.postEvent(put('c', 2));
      assert.equal(await outcome(store, first), 'pending');
      assert.equal(await manager.deliverInbox(), 2);
      assert.deepEqual(await game.result(), ['first', 2]);
      assert.deepEqual(await inbox(store), []);
      assert.deepEqual([await outcome(store, first), await outcome(store, second)], ['applied', 'applied']);
      assert.deepEqual(warnings, []);
      assert.equal(await manager.deliverInbox(), 0);
    } finally {
      await manager.close();
    }
  });

  test('an alias is resolved as act resolves it', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store);
    try {
      const handle = await manager.start('lobby', 'l1');
      await manager.waitForResource('l1', 'words', null);
      await store.postEvent(put('lobby', 'via alias'));
      assert.equal(await manager.deliverInbox(), 1);
      assert.equal(await handle.result(), 'via alias');
    } finally {
      await manager.close();
    }
  });

  test('an event for a workflow that exists but does not run here stays in the inbox, with the later ones', async () => {
    const store = new StoreView(new MemoryStore());
    // 'elsewhere' has a type this manager does not know; 'later' is started by another process after it opened.
    await store.putWorkflow({ id: 'elsewhere', type: 'unknownType', args: [], state: 'running', startedAt: 1, deleteOnFinish: false });
    const { manager } = await open(store);
    try {
      await store.putWorkflow({ id: 'later', type: 'collect', args: [1], state: 'running', startedAt: 2, deleteOnFinish: false });
      const game = await manager.start('collect', 'c', 1);
      await manager.waitForResource('c', 'words', null);
      await store.postEvent(put('elsewhere', 1));
      await store.postEvent(put('later', 2));
      await store.postEvent(put('elsewhere', 3));
      await store.postEvent(put('c', 'here'));
      assert.equal(await manager.deliverInbox(), 1);
      assert.deepEqual(await game.result(), ['here']);
      assert.deepEqual(await inbox(store), ['elsewhere put words [1]', 'later put words [2]', 'elsewhere put words [3]']);
      // Again: still there (never dropped for not running here).
      assert.equal(await manager.deliverInbox(), 0);
      assert.equal((await inbox(store)).length, 3);
    } finally {
      await manager.close();
    }
    // A manager that runs 'later' delivers its event.
    const next = await open(store);
    try {
      assert.equal(await next.manager.deliverInbox(), 1);
      assert.deepEqual(await next.manager.getResult('later'), [2]);
      assert.deepEqual(await inbox(store), ['elsewhere put words [1]', 'elsewhere put words [3]']);
    } finally {
      await next.manager.close();
    }
  });

  test('events wait in the inbox across a restart and are delivered after replay', async () => {
    const store = new MemoryStore();
    const first = await open(new StoreView(store));
    await first.manager.start('collect', 'c', 2);
    await first.manager.waitForResource('c', 'words', null);
    await first.manager.queue('c', 'words', null).put('before');
    await first.manager.close();
    await store.postEvent(put('c', 'after'));
    const second = await open(new StoreView(store));
    try {
      assert.equal(await second.manager.deliverInbox(), 1);
      assert.deepEqual(await second.manager.getResult('c'), ['before', 'after']);
    } finally {
      await second.manager.close();
    }
  });

  test('delivery is at least once: an event applied but not removed (the process died) is applied again', async () => {
    const data = new MemoryStore();
    const store = new StoreView(data);
    const first = await open(store);
    const game = await first.manager.start('collect', 'c', 2);
    await first.manager.waitForResource('c', 'words', null);
    await store.postEvent(put('c', 'twice'));
    // The process dies between applying the event and settling it.
    const settleEvent = store.settleEvent.bind(store);
    store.settleEvent = () => Promise.reject(new StorageError('crash'));
    await assert.rejects(first.manager.deliverInbox(), /crash/);
    store.settleEvent = settleEvent;
    await first.manager.close();
    await game.result().catch(() => undefined);
    const second = await open(new StoreView(data));
    try {
      assert.equal(await second.manager.deliverInbox(), 1);
      assert.deepEqual(await second.manager.getResult('c'), ['twice', 'twice']);
    } finally {
      await second.manager.close();
    }
  });

  test('the manager polls the inbox by itself every inboxPollMs', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store, 1);
    try {
      const game = await manager.start('collect', 'c', 1);
      await manager.waitForResource('c', 'words', null);
      await store.postEvent(put('c', 'polled'));
      // Nothing else keeps this process alive: the manager does while its workflow runs.
      assert.deepEqual(await game.result(), ['polled']);
    } finally {
      await manager.close();
    }
  });

  test('wakeInbox delivers at once, without waiting for the next poll (what a store notification calls)', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store, 3_600_000);
    try {
      const game = await manager.start('collect', 'c', 1);
      await manager.waitForResource('c', 'words', null);
      const id = await store.postEvent(put('c', 'woken'));
      manager.wakeInbox();
      assert.deepEqual(await game.result(), ['woken']);
      while ((await outcome(store, id)) === 'pending') await nextTurn(); // settled right after it was applied
      assert.equal(await outcome(store, id), 'applied');
    } finally {
      await manager.close();
    }
  });

  test('a store without an inbox: nothing to deliver', async () => {
    const store = new MemoryStore();
    await store.postEvent(put('c', 1));
    const plain = await WorkflowManager.open({ store: withoutInbox(store), workflows, inboxPollMs: 1 });
    try {
      assert.equal(await plain.deliverInbox(), 0);
    } finally {
      await plain.close();
    }
    assert.equal((await inbox(store)).length, 1);
  });
});
