/**
 * manager.listPage: a page of list() newest first, each line as list() says it (status, aliases, error), its
 * counts by status and type (and countWorkflows, the counts alone), on a store with paged reads (memory) and on one without (files: the whole list,
 * paged in the manager), with the same pages either way.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowManager, alias, isQuestError, queue } from '../../src/index.js';
import { FileStore } from '../../src/storage/files.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Store } from '../../src/storage/store.js';
import type { ListPageQuery } from '../../src/manager/list-pages.js';

/** Waits for one number, returns it; known by the alias 'front-door' meanwhile. */
async function waiter(): Promise<number> {
  await using _door = await alias('front-door');
  await using numbers = await queue<number>('numbers', null);
  return await numbers.get();
}

const T0 = Date.now() - 1_000_000;

async function withManager(store: Store, body: (manager: WorkflowManager<{ waiter: typeof waiter }>) => Promise<void>): Promise<void> {
  // Finished workflows, and one running of a type no manager here knows (it stays suspended).
  for (let n = 0; n < 7; n++) {
    await store.putWorkflow({ id: `done-${n}`, type: 'waiter', args: [], state: n === 3 ? 'failed' : 'completed', startedAt: T0 + n * 1000, finishedAt: T0 + n * 1000 + 5, deleteOnFinish: false });
  }
  await store.putWorkflow({ id: 'ghost', type: 'gone', args: [], state: 'running', startedAt: T0 + 50_000, deleteOnFinish: false });
  const manager = await WorkflowManager.open({ store, workflows: { waiter }, inboxPollMs: 0 });
  try {
    await manager.start('waiter', 'live');
    await manager.waitForResource('live', 'numbers', null); // its alias is held
    await body(manager);
  } finally {
    await manager.close();
  }
}

async function allPages(manager: WorkflowManager<{ waiter: typeof waiter }>, query: Omit<ListPageQuery, 'after'>): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  do {
    const page = await manager.listPage({ ...query, ...(after === undefined ? {} : { after }) });
    pages.push(page.items.map((w) => w.id));
    after = page.next;
  } while (after !== undefined);
  return pages;
}

for (const [name, open] of [
  ['memory (paged reads)', async () => ({ store: new MemoryStore() as Store, done: async () => {} })],
  ['files (the whole list, paged in the manager)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quest-list-page-'));
    return { store: (await FileStore.open(directory)) as Store, done: () => rm(directory, { recursive: true, force: true }) };
  }],
] as const) {
  describe(`manager.listPage on ${name}`, () => {
    test('pages newest first with what list() says of each workflow, and counts by status and type', async () => {
      const { store, done } = await open();
      try {
        await withManager(store, async (manager) => {
          const first = await manager.listPage({ limit: 3, counts: true });
          assert.deepEqual(first.items.map((w) => [w.id, w.status]), [['live', 'running'], ['ghost', 'suspended'], ['done-6', 'completed']]);
          // Each line as list() says it (status, aliases, error, times).
          const listed = new Map((await manager.list()).map((w) => [w.id, w]));
          for (const item of first.items) assert.deepEqual(item, listed.get(item.id));
          assert.deepEqual([...(first.counts ?? [])].sort((a, b) => (a.status + a.type < b.status + b.type ? -1 : 1)), [
            { status: 'completed', type: 'waiter', count: 6 },
            { status: 'failed', type: 'waiter', count: 1 },
            { status: 'running', type: 'waiter', count: 1 },
            { status: 'suspended', type: 'gone', count: 1 },
          ]);
          assert.deepEqual(await allPages(manager, { limit: 3 }), [['live', 'ghost', 'done-6'], ['done-5', 'done-4', 'done-3'], ['done-2', 'done-1', 'done-0']]);
          assert.deepEqual(await allPages(manager, { limit: 4, state: 'running' }), [['live', 'ghost']]);
          assert.deepEqual(await allPages(manager, { limit: 4, state: 'failed', type: 'waiter' }), [['done-3']]);
          assert.equal(first.next !== undefined && (await manager.listPage({ limit: 2, after: first.next })).items[0]?.id, 'done-5');
          await assert.rejects(manager.listPage({ limit: 2, after: 'no-cursor' }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
          await assert.rejects(manager.listPage({ limit: 0 }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
          // One workflow by id, or by an alias it holds.
          assert.deepEqual((await manager.listPage({ id: 'front-door', limit: 1 })).items.map((w) => [w.id, w.aliases]), [['live', ['front-door']]]);
          assert.deepEqual((await manager.listPage({ id: 'done-3', limit: 1 })).items.map((w) => w.id), ['done-3']);
          assert.deepEqual((await manager.listPage({ id: 'done-3', state: 'completed', limit: 1 })).items, []);
          assert.deepEqual((await manager.listPage({ id: 'nobody', limit: 1 })).items, []);
          await manager.queue<number>('live', 'numbers', null).put(1);
          await manager.getResult('live');
        });
      } finally {
        await store.close();
        await done();
      }
    });

    test('a search finds the workflows whose id or held alias contains it, and counts what it finds', async () => {
      const { store, done } = await open();
      try {
        await withManager(store, async (manager) => {
          assert.deepEqual(await allPages(manager, { limit: 3, search: 'done-' }), [['done-6', 'done-5', 'done-4'], ['done-3', 'done-2', 'done-1'], ['done-0']]);
          assert.deepEqual(await allPages(manager, { limit: 3, search: 'front' }), [['live']]);
          assert.deepEqual(await allPages(manager, { limit: 3, search: 'o', state: 'running' }), [['live', 'ghost']]);
          assert.deepEqual(await allPages(manager, { limit: 3, search: 'nobody' }), [[]]);
          const counted = await manager.listPage({ limit: 1, search: 'o', counts: true });
          assert.deepEqual([...(counted.counts ?? [])].sort((a, b) => (a.status + a.type < b.status + b.type ? -1 : 1)), [
            { status: 'completed', type: 'waiter', count: 6 },
            { status: 'failed', type: 'waiter', count: 1 },
            { status: 'running', type: 'waiter', count: 1 },
            { status: 'suspended', type: 'gone', count: 1 },
          ]);
          assert.deepEqual((await manager.listPage({ limit: 1, search: 'ghost', counts: true })).counts, [{ status: 'suspended', type: 'gone', count: 1 }]);
          assert.deepEqual((await manager.listPage({ limit: 1, search: '4', counts: true })).counts, [{ status: 'completed', type: 'waiter', count: 1 }]);
          // The same counts without a page: countWorkflows.
          assert.deepEqual(await manager.countWorkflows({ search: 'o' }), counted.counts);
          assert.deepEqual(await manager.countWorkflows({ search: 'ghost' }), [{ status: 'suspended', type: 'gone', count: 1 }]);
          assert.deepEqual(await manager.countWorkflows({ search: 'nobody' }), []);
          assert.deepEqual(await manager.countWorkflows(), (await manager.listPage({ limit: 1, counts: true })).counts);
          await manager.queue<number>('live', 'numbers', null).put(1);
          await manager.getResult('live');
        });
      } finally {
        await store.close();
        await done();
      }
    });

    test('status lists the suspended (or damaged) workflows the manager holds, newest first, by pages of their own', async () => {
      const { store, done } = await open();
      try {
        await store.putWorkflow({ id: 'ghost-2', type: 'gone', args: [], state: 'running', startedAt: T0 + 60_000, deleteOnFinish: false });
        await store.putWorkflow({ id: 'ghost-3', type: 'vanished', args: [], state: 'running', startedAt: T0 + 40_000, deleteOnFinish: false });
        await withManager(store, async (manager) => {
          assert.deepEqual(await allPages(manager, { limit: 2, status: 'suspended' }), [['ghost-2', 'ghost'], ['ghost-3']]);
          const first = await manager.listPage({ limit: 1, status: 'suspended' });
          assert.deepEqual(first.items.map((w) => [w.id, w.status, w.type]), [['ghost-2', 'suspended', 'gone']]);
          const listed = (await manager.list()).find((w) => w.id === 'ghost-2');
          assert.deepEqual(first.items[0], listed);
          assert.deepEqual(await allPages(manager, { limit: 5, status: 'suspended', type: 'vanished' }), [['ghost-3']]);
          assert.deepEqual(await allPages(manager, { limit: 5, status: 'suspended', search: 'ost-' }), [['ghost-2', 'ghost-3']]);
          assert.deepEqual(await allPages(manager, { limit: 5, status: 'suspended', state: 'running' }), [['ghost-2', 'ghost', 'ghost-3']]);
          assert.deepEqual(await allPages(manager, { limit: 5, status: 'damaged' }), [[]]);
          assert.deepEqual((await manager.listPage({ limit: 1, status: 'suspended', id: 'ghost-3' })).items.map((w) => w.id), ['ghost-3']);
          assert.deepEqual((await manager.listPage({ limit: 1, status: 'damaged', id: 'ghost-3' })).items, []);
          await assert.rejects(manager.listPage({ limit: 5, status: 'suspended', state: 'completed' }), (error) => isQuestError(error, 'INVALID_ARGUMENT') && /leave state out/.test((error as Error).message));
          await assert.rejects(manager.listPage({ limit: 5, status: 'running' as 'suspended' }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
          await assert.rejects(manager.listPage({ limit: 0, status: 'suspended' }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
          await assert.rejects(manager.listPage({ limit: 1, status: 'suspended', after: 'q1.1.1' }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
          await manager.queue<number>('live', 'numbers', null).put(1);
          await manager.getResult('live');
        });
      } finally {
        await store.close();
        await done();
      }
    });
  });
}
