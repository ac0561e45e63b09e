/** The WorkflowManager delivering the events of a store's inbox (deliverInbox and the poll). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { alias, queue } from '../../src/index.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import type { WorkflowRegistry } from '../../src/manager/types.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { StorageError } from '../../src/core/errors.js';
import type { EventInbox, InboxEvent, PostedEvent, Store, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import type { History } from '../../src/core/history.js';
import { collect, quick, secrets } from './fixtures/workflows.js';

/** Listens on the public queue `words` under the alias `lobby`. */
async function lobby(): Promise<unknown> {
  await using _lobby = await alias('lobby');
  await using words = await queue<unknown>('words', null);
  return await words.get();
}

const workflows = { collect, quick, secrets, lobby } satisfies WorkflowRegistry;

/** A manager over `store` that does not poll by itself, and the warnings it logs. */
async function open(store: Store, inboxPollMs = 0): Promise<{ manager: WorkflowManager<typeof workflows>; warnings: string[] }> {
  const warnings: string[] = [];
  const manager = await WorkflowManager.open({
    store,
    workflows,
    inboxPollMs,
    logger: { warn: (...args: unknown[]) => void warnings.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')) },
  });
  return { manager, warnings };
}

const put = (workflowId: string, value: unknown, resource = 'words', identity: string | null = null): InboxEvent => ({
  workflowId, resource, identity, action: 'put', args: [value as never],
});

async function inbox(store: EventInbox): Promise<string[]> {
  return (await store.takeEvents(100)).map((event) => `${event.workflowId} ${event.action} ${event.resource} ${JSON.stringify(event.args)}`);
}

describe('inbox delivery', () => {
  test('events for a running workflow are applied in posting order, then removed', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      const game = await manager.start('collect', 'c', 2);
      await manager.waitForResource('c', 'words', null);
      await store.postEvent(put('c', 'first'));
      await store.postEvent(put('c', 2));
      assert.equal(await manager.deliverInbox(), 2);
      assert.deepEqual(await game.result(), ['first', 2]);
      assert.deepEqual(await inbox(store), []);
      assert.deepEqual(warnings, []);
      assert.equal(await manager.deliverInbox(), 0);
    } finally {
      await manager.close();
    }
  });

  test('an event for an unknown workflow is dropped with a warning', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      await store.postEvent(put('ghost', 1));
      assert.equal(await manager.deliverInbox(), 0);
      assert.deepEqual(await inbox(store), []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /dropped: there is no workflow "ghost"/);
    } finally {
      await manager.close();
    }
  });

  test('an event for a finished workflow is dropped with a warning', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      await (await manager.start('quick', 'q', 1)).result();
      await store.postEvent(put('q', 1));
      assert.equal(await manager.deliverInbox(), 0);
      assert.deepEqual(await inbox(store), []);
      assert.match(warnings.join('\n'), /workflow "q" has finished \(completed\)/);
    } finally {
      await manager.close();
    }
  });

  test('failing events are dropped with a warning and leave the workflow running; the next event is applied', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      const game = await manager.start('collect', 'c', 1);
      await manager.waitForResource('c', 'words', null);
      await store.postEvent(put('c', 1, 'nothing'));                                                    // no such resource
      await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'frob', args: [] }); // no such action
      await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'get', args: [] });  // would wait
      await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'put', args: [1, 2] }); // too many arguments
      await store.postEvent(put('c', 'ok'));
      assert.equal(await manager.deliverInbox(), 1);
      assert.deepEqual(await game.result(), ['ok']);
      assert.deepEqual(await inbox(store), []);
      assert.equal(warnings.length, 4);
      assert.match(warnings[0] ?? '', /ResourceNotFoundError/);
      assert.match(warnings[1] ?? '', /UnknownActionError/);
      assert.match(warnings[2] ?? '', /get on a queue waits for the workflow/);
      assert.match(warnings[3] ?? '', /InvalidArgumentError/);
    } finally {
      await manager.close();
    }
  });

  test('identities: an event reaches its own private resource, never another identity\'s', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      await manager.start('secrets', 's');
      await manager.waitForResource('s', 'stop', null);
      await store.postEvent(put('s', 'for ann', 'mailbox', 'ann'));
      await store.postEvent(put('s', 'from bob', 'mailbox', 'bob'));
      await store.postEvent({ workflowId: 's', resource: 'diary', identity: 'ann', action: 'set', args: ['not yours'] });
      assert.equal(await manager.deliverInbox(), 1);
      assert.equal(warnings.length, 2);
      assert.match(warnings.join('\n'), /ResourceNotFoundError/);
      const ann = await manager.resources('s', 'ann');
      assert.deepEqual(ann.find((resource) => resource.name === 'mailbox')?.view, { size: 1, items: ['for ann'] });
      const bob = await manager.resources('s', 'bob');
      assert.deepEqual(bob.find((resource) => resource.name === 'diary')?.view, { value: 'bob-secret' });
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
    // The process dies between applying the event and removing it.
    const removeEvent = store.removeEvent.bind(store);
    store.removeEvent = () => Promise.reject(new StorageError('crash'));
    await assert.rejects(first.manager.deliverInbox(), /crash/);
    store.removeEvent = removeEvent;
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
      // The poll timer is unref'd (it never keeps a process alive by itself): hold the event loop open meanwhile.
      const keepAlive = setInterval(() => undefined, 60_000);
      try {
        assert.deepEqual(await game.result(), ['polled']);
      } finally {
        clearInterval(keepAlive);
      }
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

/** One process's view of a shared MemoryStore: closing it leaves the data for the next view ("process"). */
class StoreView implements Store, EventInbox {
  constructor(private readonly inner: MemoryStore) {}
  history(workflowId: string): History {
    return this.inner.history(workflowId);
  }
  putWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.inner.putWorkflow(entry);
  }
  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.inner.getWorkflow(workflowId);
  }
  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.inner.listWorkflows(state);
  }
  deleteWorkflow(workflowId: string): Promise<void> {
    return this.inner.deleteWorkflow(workflowId);
  }
  putAlias(name: string, workflowId: string): Promise<void> {
    return this.inner.putAlias(name, workflowId);
  }
  deleteAlias(name: string, workflowId: string): Promise<void> {
    return this.inner.deleteAlias(name, workflowId);
  }
  getAlias(name: string): Promise<string | undefined> {
    return this.inner.getAlias(name);
  }
  postEvent(event: InboxEvent): Promise<number> {
    return this.inner.postEvent(event);
  }
  takeEvents(limit: number, afterId?: number): Promise<PostedEvent[]> {
    return this.inner.takeEvents(limit, afterId);
  }
  removeEvent(id: number): Promise<void> {
    return this.inner.removeEvent(id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store without the inbox methods. */
function withoutInbox(inner: MemoryStore): Store {
  const view = new StoreView(inner);
  Object.assign(view, { postEvent: undefined, takeEvents: undefined, removeEvent: undefined });
  return view;
}
