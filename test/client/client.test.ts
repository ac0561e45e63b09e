import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isQuestError, ResourceNotFoundError, WorkflowNotFoundError } from '../../src/core/errors.js';
import { QuestClient } from '../../src/client/client.js';
import { ConnectionFailedError, ForbiddenError, UnauthenticatedError, isServiceError } from '../../src/protocol/errors.js';
import { startServer, TOKENS, type Workflows } from '../server/support.js';

describe('QuestClient calls', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    served = await startServer();
  });
  after(async () => {
    await served.close();
  });

  test('start and result are typed by the registry; proxies act as the token identity', async () => {
    const admin = served.client(TOKENS.admin);
    const handle = await admin.start('box', 'b1', 'gift');
    assert.equal(handle.created, true);
    const ann = served.client(TOKENS.ann);
    await ann.waitForResource('b1', 'inbox');
    await ann.queue<string>('b1', 'inbox').put('hello');
    await ann.event('b1', 'done').set();
    const result: string = await handle.result();
    assert.equal(result, 'gift: hello');
    assert.equal(await ann.getResult<string>('b1'), 'gift: hello');
  });

  test('values travel with the serializer: Dates and Maps arrive as they left', async () => {
    const admin = served.client(TOKENS.admin);
    await admin.start('counter', 'c1');
    await admin.waitForResource('c1', 'count');
    const when = new Date(1_700_000_000_000);
    await admin.state<unknown>('c1', 'count').set(new Map([['at', when]]));
    const back = await admin.state<Map<string, Date>>('c1', 'count').get();
    assert.ok(back instanceof Map);
    assert.equal(back.get('at')?.getTime(), when.getTime());
  });

  test('server errors come back as the same named classes', async () => {
    const bob = served.client(TOKENS.bob);
    await assert.rejects(bob.getResult('nope'), (error: unknown) => error instanceof WorkflowNotFoundError && isQuestError(error, 'WORKFLOW_NOT_FOUND'));
    await served.client(TOKENS.admin).start('box', 'b2', 'x');
    await bob.waitForResource('b2', 'status');
    await assert.rejects(bob.queue<string>('b2', 'inbox').put('x'), ResourceNotFoundError);
    await assert.rejects(bob.start('box', 'b3', 'x'), (error: unknown) => error instanceof ForbiddenError && isServiceError(error, 'FORBIDDEN'));
    await assert.rejects(served.client('wrong-token-1234').has('b2'), UnauthenticatedError);
  });

  test('a refused connection is a ConnectionFailedError', async () => {
    const nowhere = new QuestClient<Workflows>('http://127.0.0.1:1');
    await assert.rejects(nowhere.has('x'), (error: unknown) => error instanceof ConnectionFailedError && isServiceError(error, 'CONNECTION_FAILED'));
  });

  test('fetch can be injected: the hono app answers in process', async () => {
    const inProcess = new QuestClient<Workflows>('http://in-process', {
      token: TOKENS.ann,
      fetch: (input, init) => Promise.resolve(served.server.app.request(String(input).replace('http://in-process', ''), init)),
    });
    assert.deepEqual(await inProcess.whoami(), { identity: 'ann', roles: [] });
  });
});
