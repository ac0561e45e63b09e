/**
 * The `workflows` inspection call on a store with paged reads: a page and its counts are answered without
 * reading every entry (seen through the store: a MemoryStore that counts its listWorkflows calls), the cursor
 * pages on while workflows start, one workflow by id is one read, and a search and the suspended and damaged
 * filters read pages too, each with its total.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import { bearer, CountingStore, post, startServer, TOKENS } from './support.js';
import { until } from '../manager/support.js';

const FINISHED = 240;
const BASE = Date.now() - 10_000_000;

function finished(n: number): WorkflowEntry {
  const state: WorkflowState = n % 10 === 0 ? 'failed' : 'completed';
  return { id: `w${String(n).padStart(3, '0')}`, type: n % 3 === 0 ? 'box' : 'counter', args: [], state, startedAt: BASE + n * 1000, finishedAt: BASE + n * 1000 + 10, deleteOnFinish: false };
}

describe('inspection: the workflows call on a store with paged reads', () => {
  const store = new CountingStore();
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    for (let n = 0; n < FINISHED; n++) await store.putWorkflow(finished(n));
    served = await startServer({ store }, store);
    await served.manager.start('counter', 'live1');
    await served.manager.start('counter', 'live2');
  });
  after(async () => {
    await served.close();
  });

  test('a page and its counts are read without reading every entry; the cursor pages on while workflows start', async () => {
    const admin = served.client(TOKENS.admin);
    const lists = store.lists;
    const newestFirst = [...Array.from({ length: FINISHED }, (_, n) => finished(n).id).reverse()];
    const first = await admin.workflows({ limit: 100 });
    assert.deepEqual(first.items.slice(0, 2).map((w) => [w.id, w.status]), [['live2', 'running'], ['live1', 'running']]);
    assert.deepEqual(first.items.slice(2).map((w) => w.id), newestFirst.slice(0, 98));
    assert.equal(first.total, FINISHED + 2);
    assert.deepEqual(first.counts, { running: 2, suspended: 0, damaged: 0, completed: 216, failed: 24, cancelled: 0 });
    assert.deepEqual(first.types, ['box', 'counter']);
    assert.equal(typeof first.next, 'string');
    // A workflow started between two pages shows on the first page, never shifts the next one.
    await served.manager.start('box', 'live3', 'late');
    const second = await admin.workflows({ limit: 100, after: first.next!, offset: 100 });
    assert.equal(second.offset, 100);
    assert.deepEqual(second.items.map((w) => w.id), newestFirst.slice(98, 198));
    const third = await admin.workflows({ limit: 100, after: second.next!, offset: 200 });
    assert.deepEqual(third.items.map((w) => w.id), newestFirst.slice(198));
    assert.equal(third.next, undefined);
    // Filters by state and type, each with its total from the counts.
    const failed = await admin.workflows({ status: 'failed', limit: 10 });
    assert.deepEqual(failed.items.map((w) => w.id), newestFirst.filter((id) => Number(id.slice(1)) % 10 === 0).slice(0, 10));
    assert.equal(failed.total, 24);
    const boxes = await admin.workflows({ status: 'completed', type: 'box', limit: 500 });
    assert.deepEqual(boxes.items.map((w) => w.id), newestFirst.filter((id) => Number(id.slice(1)) % 3 === 0 && Number(id.slice(1)) % 10 !== 0));
    assert.equal(boxes.total, boxes.items.length);
    assert.equal(boxes.next, undefined);
    assert.deepEqual((await admin.workflows({ status: 'running' })).items.map((w) => w.id), ['live3', 'live2', 'live1']);
    assert.equal(store.lists, lists, 'no call read the whole list');
  });

  test('id answers from one read; search from pages, in the same order, with its total', async () => {
    const admin = served.client(TOKENS.admin);
    const lists = store.lists;
    const one = await admin.workflows({ id: 'w007', limit: 1 });
    assert.deepEqual([one.items.map((w) => w.id), one.total, one.next], [['w007'], 1, undefined]);
    assert.deepEqual((await admin.workflows({ id: 'w007', status: 'failed' })).items, []);
    assert.deepEqual((await admin.workflows({ id: 'nobody' })).total, 0);
    const paged = await admin.workflows({ limit: 500 });
    const expected = paged.items.map((w) => w.id).filter((id) => id.includes('w1'));
    const searched: string[] = [];
    let answer = await admin.workflows({ limit: 40, search: 'w1' });
    for (;;) {
      assert.equal(answer.total, expected.length);
      assert.deepEqual(answer.counts, paged.counts, 'the counts are of every workflow');
      searched.push(...answer.items.map((w) => w.id));
      if (answer.next === undefined) break;
      answer = await admin.workflows({ limit: 40, search: 'w1', after: answer.next, offset: searched.length });
    }
    assert.deepEqual(searched, expected);
    const failedOnes = await admin.workflows({ limit: 500, search: 'w1', status: 'failed' });
    assert.deepEqual(failedOnes.items.map((w) => w.id), expected.filter((id) => Number(id.slice(1)) % 10 === 0));
    assert.equal(failedOnes.total, failedOnes.items.length);
    assert.equal((await admin.workflows({ search: 'live', status: 'running' })).total, 3);
    assert.equal(store.lists, lists, 'no call read the whole list');
    // A search not counted before reads one page: its total and the counts come from the store's counts alone.
    const pagesBefore = store.pages.length;
    const fresh = await admin.workflows({ limit: 5, search: 'w23' });
    assert.deepEqual([fresh.items.map((w) => w.id), fresh.total], [['w239', 'w238', 'w237', 'w236', 'w235'], 10]);
    assert.deepEqual(store.pages.slice(pagesBefore).map(({ search, limit }) => [search, limit]), [['w23', 5]]);
    // offset without a cursor (an older client) pages the whole list.
    assert.deepEqual((await admin.workflows({ limit: 5, offset: 5 })).items.map((w) => w.id), paged.items.slice(5, 10).map((w) => w.id));
  });

  test('a cursor the server did not give is INVALID_ARGUMENT (400), saying what to pass', async () => {
    const answer = await post(served.url, 'workflows', { limit: 5, after: 'page-2' }, bearer(TOKENS.admin));
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error?.fields?.code, 'INVALID_ARGUMENT');
    assert.match(answer.body.error?.message ?? '', /pass the `next` of the page before/);
    assert.equal((await post(served.url, 'workflows', { after: 7 }, bearer(TOKENS.admin))).status, 400);
  });
});

describe('inspection: the suspended and damaged filters on a store with paged reads', () => {
  const store = new CountingStore();
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    for (let n = 0; n < 30; n++) await store.putWorkflow(finished(n));
    // Running workflows of a type the server does not know (held suspended), and one whose history is damaged.
    for (const n of [1, 2, 3]) await store.putWorkflow({ id: `ghost-${n}`, type: 'gone', args: [], state: 'running', startedAt: BASE + 100_000 + n, deleteOnFinish: false });
    await store.putWorkflow({ id: 'hurt', type: 'counter', args: [], state: 'running', startedAt: BASE + 200_000, deleteOnFinish: false });
    await store.history('hurt').commit({ append: [{ v: 0, seq: 1, type: 'step_start' } as never], remove: [] });
    served = await startServer({ store }, store);
    await served.manager.start('counter', 'live1');
  });
  after(async () => {
    await served.close();
  });

  test('suspended and damaged list what the manager holds, by cursor, with their totals, without reading every entry', async () => {
    const admin = served.client(TOKENS.admin);
    await until(async () => (await served.manager.list()).some((w) => w.status === 'damaged'));
    const lists = store.lists;
    const first = await admin.workflows({ status: 'suspended', limit: 2 });
    assert.deepEqual(first.items.map((w) => [w.id, w.status]), [['ghost-3', 'suspended'], ['ghost-2', 'suspended']]);
    assert.equal(first.total, 3);
    assert.equal(typeof first.next, 'string');
    assert.deepEqual(first.counts, { running: 1, suspended: 3, damaged: 1, completed: 27, failed: 3, cancelled: 0 });
    const second = await admin.workflows({ status: 'suspended', limit: 2, after: first.next!, offset: 2 });
    assert.deepEqual([second.items.map((w) => w.id), second.next], [['ghost-1'], undefined]);
    const damaged = await admin.workflows({ status: 'damaged' });
    assert.deepEqual([damaged.items.map((w) => [w.id, w.status]), damaged.total], [[['hurt', 'damaged']], 1]);
    assert.match(damaged.items[0]?.error ?? '', /format version/);
    const searched = await admin.workflows({ status: 'suspended', search: 'st-2' });
    assert.deepEqual([searched.items.map((w) => w.id), searched.total], [['ghost-2'], 1]);
    assert.deepEqual((await admin.workflows({ status: 'suspended', type: 'counter' })).items, []);
    assert.deepEqual((await admin.workflows({ status: 'running' })).items.map((w) => w.id), ['live1']);
    assert.equal(store.lists, lists, 'no call read the whole list');
  });

  test('versions leaves the damaged history out instead of failing, and is kept as the list is: two calls, one read of the histories', async () => {
    const admin = served.client(TOKENS.admin);
    const lists = store.lists;
    assert.deepEqual(await admin.versions(), []);
    assert.deepEqual(await admin.versions(), []);
    assert.equal(store.lists, lists + 1, 'one pass over the running workflows');
  });
});
