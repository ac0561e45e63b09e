/** The inspection operations (workflows, history, versions, stats): what they answer, and who may ask. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryStore } from '../../src/storage/memory.js';
import { isServiceError } from '../../src/protocol/errors.js';
import { ListSnapshot } from '../../src/server/inspect-operations.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { QuestServer } from '../../src/server/server.js';
import { QuestClient } from '../../src/client/client.js';
import { untilSettled } from '../helpers.js';
import { bearer, post, startServer, tokenAuth, TOKENS, workflows, type Workflows } from './support.js';

describe('inspection operations', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    const store = new MemoryStore();
    served = await startServer({ store }, store);
    for (let n = 1; n <= 12; n++) await served.manager.start('counter', `c${String(n).padStart(2, '0')}`);
    await served.manager.start('box', 'b1', 'gift');
    await served.manager.cancel('c01');
  });
  after(async () => {
    await served.close();
  });

  test('workflows pages newest first, counts every state, filters by state, type and id, and lists the types', async () => {
    const admin = served.client(TOKENS.admin);
    const first = await admin.workflows({ limit: 5 });
    assert.equal(first.total, 13);
    assert.equal(first.items.length, 5);
    assert.equal(first.counts.running, 12);
    assert.equal(first.counts.cancelled, 1);
    assert.deepEqual(first.types, ['box', 'counter']);
    const all = await admin.workflows({ limit: 500 });
    const starts = all.items.map((w) => w.startedAt);
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a));
    const second = await admin.workflows({ limit: 5, offset: 5 });
    assert.deepEqual(second.items.map((w) => w.id), all.items.slice(5, 10).map((w) => w.id));
    assert.deepEqual((await admin.workflows({ status: 'cancelled' })).items.map((w) => w.id), ['c01']);
    assert.deepEqual((await admin.workflows({ type: 'box' })).items.map((w) => w.id), ['b1']);
    assert.deepEqual((await admin.workflows({ search: 'c1' })).items.map((w) => w.id).sort(), ['c10', 'c11', 'c12']);
    assert.deepEqual((await admin.workflows({ id: 'c1' })).items.map((w) => w.id), []);
    assert.deepEqual((await admin.workflows({ id: 'c10' })).items.map((w) => w.id), ['c10']);
  });

  test('a bad page request is BAD_REQUEST, naming the field', async () => {
    const answer = await post(served.url, 'workflows', { limit: 501 }, bearer(TOKENS.admin));
    assert.equal(answer.status, 400);
    assert.match(answer.body.error?.message ?? '', /"limit" must be an integer from 1 to 500/);
    assert.equal((await post(served.url, 'workflows', { status: 'asleep' }, bearer(TOKENS.admin))).status, 400);
  });

  test('history answers the stored records with the versions, and an unknown id is WORKFLOW_NOT_FOUND', async () => {
    await served.manager.queue<string>('b1', 'inbox', 'ann').put('hello');
    await served.manager.waitForResource('b1', 'status', null);
    const history = await served.client(TOKENS.admin).history('b1');
    assert.equal(history.type, 'box');
    assert.equal(history.state, 'running');
    assert.equal(history.stored, history.items.filter((item) => item.type !== 'pruned').length);
    assert.ok(history.items.some((item) => item.type === 'external' && item.action === 'put'));
    const missing = await post(served.url, 'history', { id: 'nope' }, bearer(TOKENS.admin));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error?.fields?.code, 'WORKFLOW_NOT_FOUND');
  });

  test('versions and stats answer over the client', async () => {
    const admin = served.client(TOKENS.admin);
    assert.deepEqual(await admin.versions(), []);
    const stats = await admin.stats({ bucketMs: 60_000 });
    assert.equal(stats.bucketMs, 60_000);
    assert.equal(stats.started.reduce((sum, [, n]) => sum + n, 0), 13);
    assert.equal(stats.finished.reduce((sum, [, n]) => sum + n, 0), 1);
    assert.equal(stats.historySizes.length, 12);
  });

  test('every inspection operation needs the admin role: histories hold every identity\'s values', async () => {
    for (const [operation, body] of [['workflows', {}], ['history', { id: 'b1' }], ['versions', {}], ['stats', {}]] as const) {
      const answer = await post(served.url, operation, body, bearer(TOKENS.ann));
      assert.equal(answer.status, 403, operation);
      assert.equal(answer.body.error?.fields?.code, 'FORBIDDEN');
    }
    await assert.rejects(served.client(TOKENS.ann).history('b1'), (error) => isServiceError(error, 'FORBIDDEN'));
  });
});

test('without a store, the operations that read histories answer NOT_SERVED; the paged list still works', async () => {
  const served = await startServer();
  try {
    await served.manager.start('counter', 'c1');
    const admin = served.client(TOKENS.admin);
    assert.equal((await admin.workflows()).total, 1);
    await assert.rejects(admin.history('c1'), (error) => isServiceError(error, 'NOT_SERVED') && /QuestServerOptions\.store/.test((error as Error).message));
    assert.equal((await post(served.url, 'versions', {}, bearer(TOKENS.admin))).status, 501);
  } finally {
    await served.close();
  }
});

describe('the kept workflow list', () => {
  test('concurrent callers share one load, which is reused while young, then loaded again', async () => {
    let time = 0;
    let loads = 0;
    const snapshot = new ListSnapshot(async () => ++loads, () => time);
    assert.deepEqual(await Promise.all([snapshot.get(), snapshot.get()]), [1, 1]);
    time += 999;
    assert.equal(await snapshot.get(), 1);
    time += 1;
    assert.equal(await snapshot.get(), 2);
  });

  test('a slow load is kept four times as long as it took; invalidate() forgets it at once', async () => {
    let time = 0;
    let loads = 0;
    const snapshot = new ListSnapshot(async () => {
      time += 500;
      return ++loads;
    }, () => time);
    assert.equal(await snapshot.get(), 1);
    time += 1999;
    assert.equal(await snapshot.get(), 1);
    snapshot.invalidate();
    assert.equal(await snapshot.get(), 2);
  });

  test('a workflow started, cancelled or deleted through the server shows in the next page at once', async () => {
    const served = await startServer();
    try {
      const admin = served.client(TOKENS.admin);
      assert.equal((await admin.workflows()).total, 0);
      await admin.start('counter', 'c1');
      assert.equal((await admin.workflows()).counts.running, 1);
      await admin.cancel('c1');
      assert.equal((await admin.workflows()).counts.cancelled, 1);
      await admin.delete('c1');
      assert.equal((await admin.workflows()).total, 0);
    } finally {
      await served.close();
    }
  });
});

test('list and the workflows page carry resident: false for a running workflow the server evicted while idle, and nothing for a resident one', async () => {
  const store = new MemoryStore();
  const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0, maxResident: 1 });
  const server = new QuestServer(manager, { authenticate: tokenAuth, store });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    for (const id of ['v1', 'v2']) await manager.start('vault', id);
    await untilSettled(async () => (await manager.list()).some((info) => info.resident === false));
    const cold = (await manager.list()).find((info) => info.resident === false)?.id;
    const warm = cold === 'v1' ? 'v2' : 'v1';
    const admin = new QuestClient<Workflows>(url, { token: TOKENS.admin });
    const listed = await admin.list();
    assert.deepEqual(listed.map((info) => [info.id, info.status, info.resident]).sort(), [[cold, 'running', false], [warm, 'running', undefined]].sort());
    assert.ok(!('resident' in (listed.find((info) => info.id === warm) ?? {})), 'a resident workflow has no resident field');
    const page = await admin.workflows({ limit: 10 });
    assert.equal(page.items.find((info) => info.id === cold)?.resident, false);
    assert.equal(page.items.find((info) => info.id === warm)?.resident, undefined);
    assert.equal(page.counts.running, 2, 'an evicted workflow counts as running');
  } finally {
    await server.close();
    await manager.close();
  }
});
