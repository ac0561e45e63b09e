import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, post, startServer, TOKENS } from './support.js';

describe('server calls over HTTP', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    served = await startServer();
  });
  after(async () => {
    await served.close();
  });

  test('an admin starts a workflow, a player acts on it, and the result comes back serialized', async () => {
    const started = await post(served.url, 'start', { type: 'box', id: 'b1', args: ['gift'] }, bearer(TOKENS.admin));
    assert.equal(started.status, 200);
    assert.deepEqual(started.body.value, { id: 'b1', type: 'box', created: true });

    const put = await post(served.url, 'act', { id: 'b1', resource: 'inbox', action: 'put', args: ['hello'] }, bearer(TOKENS.ann));
    assert.deepEqual(put, { status: 200, body: { value: { $q: 'undefined' } } });
    await served.manager.waitForResource('b1', 'status', null);
    await post(served.url, 'act', { id: 'b1', resource: 'done', action: 'set', args: [] }, bearer(TOKENS.bob));
    const result = await post(served.url, 'result', { id: 'b1' }, bearer(TOKENS.bob));
    assert.deepEqual(result, { status: 200, body: { value: 'gift: hello' } });
  });

  test('start with ifExists resume returns the existing workflow; without it, DUPLICATE_WORKFLOW is a 409', async () => {
    await post(served.url, 'start', { type: 'counter', id: 'c1', args: [] }, bearer(TOKENS.admin));
    const again = await post(served.url, 'start', { type: 'counter', id: 'c1', args: [], ifExists: 'resume' }, bearer(TOKENS.admin));
    assert.deepEqual(again.body.value, { id: 'c1', type: 'counter', created: false });
    const duplicate = await post(served.url, 'start', { type: 'counter', id: 'c1', args: [] }, bearer(TOKENS.admin));
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error?.name, 'DuplicateWorkflowError');
    assert.equal(duplicate.body.error?.fields?.code, 'DUPLICATE_WORKFLOW');
    assert.equal('stack' in (duplicate.body.error ?? {}), false, 'no stack on the wire');
  });

  test('list gives epoch milliseconds; has, resources, waitForResource, cancel and delete answer as the manager', async () => {
    await post(served.url, 'start', { type: 'counter', id: 'c2', args: [] }, bearer(TOKENS.admin));
    const listed = await post(served.url, 'list', {}, bearer(TOKENS.admin));
    const line = (listed.body.value as { id: string; startedAt: unknown }[]).find((info) => info.id === 'c2');
    assert.equal(typeof line?.startedAt, 'number');
    assert.deepEqual((await post(served.url, 'has', { id: 'c2' })).body.value, true);
    assert.deepEqual((await post(served.url, 'has', { id: 'nope' })).body.value, false);
    const waited = await post(served.url, 'waitForResource', { id: 'c2', resource: 'count' });
    assert.deepEqual(waited.body.value, { name: 'count', identity: null, kind: 'state', view: { value: 0 } });
    const resources = await post(served.url, 'resources', { id: 'c2' });
    assert.deepEqual((resources.body.value as { name: string }[]).map((r) => r.name).sort(), ['count', 'fail']);
    assert.equal((await post(served.url, 'cancel', { id: 'c2' }, bearer(TOKENS.admin))).status, 200);
    const cancelled = await post(served.url, 'result', { id: 'c2' });
    assert.equal(cancelled.status, 409);
    assert.equal(cancelled.body.error?.name, 'WorkflowCancelledError');
    assert.equal((await post(served.url, 'delete', { id: 'c2' }, bearer(TOKENS.admin))).status, 200);
    const gone = await post(served.url, 'result', { id: 'c2' });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error?.fields?.code, 'WORKFLOW_NOT_FOUND');
  });

  test("a workflow's own failure is the answer of result (200 with the error), not a server error", async () => {
    await post(served.url, 'start', { type: 'counter', id: 'c3', args: [] }, bearer(TOKENS.admin));
    await served.manager.waitForResource('c3', 'fail', null);
    await post(served.url, 'act', { id: 'c3', resource: 'count', action: 'set', args: [5] });
    await post(served.url, 'act', { id: 'c3', resource: 'fail', action: 'set', args: [] });
    const failed = await post(served.url, 'result', { id: 'c3' });
    assert.equal(failed.status, 200);
    assert.equal(failed.body.error?.name, 'TypeError');
    assert.equal(failed.body.error?.message, 'failed at 5');
  });

  test('bad requests are named errors: unknown operation 404, bad JSON and wrong types 400, no manager call', async () => {
    const unknown = await post(served.url, 'close', {}, bearer(TOKENS.admin));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.name, 'UnknownOperationError');
    const notJson = await post(served.url, 'has', '{"id":');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error?.name, 'BadRequestError');
    const wrongType = await post(served.url, 'act', { id: 7, resource: 'x', action: 'put' });
    assert.equal(wrongType.status, 400);
    const get = await fetch(`${served.url}/v1/list`);
    assert.equal(get.status, 404);
    assert.equal(((await get.json()) as { error: { name: string } }).error.name, 'UnknownOperationError');
  });

  test('limits: a body over the size limit is 413, a body nested too deep is 400', async () => {
    const big = await post(served.url, 'has', { id: 'x'.repeat(1024 * 1024 + 10) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error?.name, 'PayloadTooLargeError');
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const nested = await post(served.url, 'act', { id: 'c1', resource: 'count', action: 'set', args: [deep] });
    assert.equal(nested.status, 400);
    assert.match(nested.body.error?.message ?? '', /nested deeper/);
  });
});
