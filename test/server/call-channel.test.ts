/**
 * The call channel (`/v1/calls`) on a real server on 127.0.0.1: the same operations and answers as HTTP,
 * as the identity proven at the upgrade, with the same limits.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isQuestError, ResourceNotFoundError, WorkflowNotFoundError } from '../../src/core/errors.js';
import { ForbiddenError, ServerClosingError, UnauthenticatedError } from '../../src/protocol/errors.js';
import { untilSettled } from '../helpers.js';
import { rawChannel } from './call-support.js';
import { startServer, tokenAuth, TOKENS } from './support.js';

describe('call channel: calls', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    served = await startServer();
  });
  after(async () => {
    await served.close();
  });

  test('a client with transport websocket starts, acts and gets results; errors are the same named classes', async () => {
    const admin = served.client(TOKENS.admin, { transport: 'websocket' });
    const ann = served.client(TOKENS.ann, { transport: 'websocket' });
    const bob = served.client(TOKENS.bob, { transport: 'websocket' });
    try {
      const handle = await admin.start('box', 'c1', 'gift');
      assert.equal(handle.created, true);
      await ann.waitForResource('c1', 'inbox');
      await ann.queue<string>('c1', 'inbox').put('hello');
      await ann.event('c1', 'done').set();
      assert.equal(await handle.result(), 'gift: hello');
      assert.deepEqual(await ann.whoami(), { identity: 'ann', roles: [] });
      await assert.rejects(bob.getResult('nope'), (error: unknown) => error instanceof WorkflowNotFoundError && isQuestError(error, 'WORKFLOW_NOT_FOUND'));
      await assert.rejects(bob.start('box', 'c2', 'x'), ForbiddenError);
      assert.equal(served.server.callChannelCount, 3);
    } finally {
      await Promise.all([admin.close(), ann.close(), bob.close()]);
    }
    await untilSettled(() => served.server.callChannelCount === 0, 100_000);
  });

  test('a client sends at most maxCallsInFlight calls at once: more wait in the client instead of being refused TOO_MANY_CALLS', async () => {
    await served.manager.start('counter', 'c7');
    await served.manager.waitForResource('c7', 'count', null);
    const admin = served.client(TOKENS.admin, { transport: 'websocket' });
    const tight = served.client(TOKENS.admin, { transport: 'websocket', maxCallsInFlight: 1 });
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, () => admin.has('c7')));
      assert.ok(answers.every((answer) => answer === true));
      await Promise.all(Array.from({ length: 20 }, (_, n) => tight.state<number>('c7', 'count').set(n)));
      assert.equal(await tight.state<number>('c7', 'count').get(), 19);
    } finally {
      await Promise.all([admin.close(), tight.close()]);
    }
  });

  test('answers come by id, in any order: a waiting result does not hold back later calls', async () => {
    await served.manager.start('vault', 'c3');
    const channel = await rawChannel(served.url, { token: TOKENS.ann });
    try {
      channel.send({ id: 'slow', operation: 'result', body: { id: 'c3' } });
      channel.send({ id: 1, operation: 'has', body: { id: 'c3' } });
      assert.deepEqual(await channel.answer(1), { id: 1, status: 200, value: true });
      assert.equal(channel.answers.length, 1);
      channel.send({ id: 2, operation: 'act', body: { id: 'c3', resource: 'secret', action: 'put', args: ['open'] } });
      assert.deepEqual(await channel.answer('slow'), { id: 'slow', status: 200, value: 'open' });
      assert.equal((await channel.answer(2)).status, 200);
      // A body is an object: JSON text in a string is not read as one.
      channel.send({ id: 3, operation: 'has', body: JSON.stringify({ id: 'c3' }) });
      const refused = await channel.answer(3);
      assert.equal(refused.status, 400);
      assert.equal('error' in refused && refused.error.name, 'BadRequestError');
    } finally {
      channel.ws.close();
    }
  });

  test('identity is the one proven at the upgrade: body fields and headers claim nothing', async () => {
    await served.manager.start('vault', 'c4');
    await served.manager.waitForResource('c4', 'secret', 'ann');
    const bob = await rawChannel(served.url, { token: TOKENS.bob, headers: { 'x-quest-identity': 'ann' } });
    const anonymous = await rawChannel(served.url, { headers: { 'x-quest-identity': 'ann', 'x-quest-roles': 'admin' } });
    try {
      const put = { operation: 'act', body: { id: 'c4', resource: 'secret', action: 'put', args: ['forged'], identity: 'ann' }, identity: 'ann' };
      bob.send({ id: 1, ...put });
      anonymous.send({ id: 1, ...put });
      anonymous.send({ id: 2, operation: 'start', body: { type: 'vault', id: 'c5', args: [] }, roles: ['admin'] });
      bob.send({ id: 2, operation: 'whoami' });
      for (const answer of [await bob.answer(1), await anonymous.answer(1)]) {
        assert.equal(answer.status, 404);
        assert.equal('error' in answer && answer.error.name, 'ResourceNotFoundError');
      }
      const refused = await anonymous.answer(2);
      assert.equal('error' in refused && refused.error.name, 'ForbiddenError');
      assert.deepEqual(await bob.answer(2), { id: 2, status: 200, value: { identity: 'bob', roles: [] } });
      assert.equal(await served.manager.has('c5'), false);
      assert.equal((await served.manager.resources('c4', 'ann')).length, 1);
      // ann's queue is untouched: her own put is the first item the workflow takes.
      await served.client(TOKENS.ann, { transport: 'websocket' }).queue<string>('c4', 'secret').put('real');
      assert.equal(await served.manager.getResult('c4'), 'real');
    } finally {
      bob.ws.close();
      anonymous.ws.close();
    }
  });

  test('a wrong token is refused at the upgrade: an answer with id null (UNAUTHENTICATED), then close 4401', async () => {
    const channel = await rawChannel(served.url, { token: 'wrong-token-1234' });
    const [code] = await channel.closed;
    assert.equal(code, 4401);
    const refusal = channel.answers[0];
    assert.ok(refusal !== undefined && refusal.id === null && refusal.status === 401 && 'error' in refusal && refusal.error.name === 'UnauthenticatedError');
    const client = served.client('wrong-token-1234', { transport: 'websocket' });
    await assert.rejects(client.has('c1'), UnauthenticatedError);
    await assert.rejects(client.has('c1'), UnauthenticatedError);
  });

  test('a private resource of another identity answers as a missing one', async () => {
    await served.manager.start('vault', 'c6');
    await served.manager.waitForResource('c6', 'secret', 'ann');
    const bob = served.client(TOKENS.bob, { transport: 'websocket' });
    try {
      await assert.rejects(bob.queue<string>('c6', 'secret').put('x'), ResourceNotFoundError);
      assert.deepEqual(await bob.resources('c6'), []);
    } finally {
      await bob.close();
    }
  });
});

describe('call channel: limits and shutdown', () => {
  test('calls in flight over maxCallsPerConnection are answered TOO_MANY_CALLS; the channel goes on', async () => {
    const served = await startServer({ maxCallsPerConnection: 1 });
    try {
      await served.manager.start('vault', 'l1');
      const channel = await rawChannel(served.url, { token: TOKENS.ann });
      channel.send({ id: 1, operation: 'result', body: { id: 'l1' } });
      await untilSettled(() => served.server.callsInFlight === 1, 100_000);
      channel.send({ id: 2, operation: 'has', body: { id: 'l1' } });
      const refused = await channel.answer(2);
      assert.equal(refused.status, 429);
      assert.equal('error' in refused && refused.error.name, 'TooManyCallsError');
      channel.send({ id: 3, operation: 'act', body: { id: 'l1', resource: 'secret', action: 'put', args: ['done'] } });
      // Still one in flight (the result): refused too, and nothing was put.
      assert.equal((await channel.answer(3)).status, 429);
      await served.client(TOKENS.ann).queue<string>('l1', 'secret').put('done');
      assert.deepEqual(await channel.answer(1), { id: 1, status: 200, value: 'done' });
      channel.send({ id: 4, operation: 'has', body: { id: 'l1' } });
      assert.equal((await channel.answer(4)).status, 200);
      channel.ws.close();
    } finally {
      await served.close();
    }
  });

  test('a message over maxBodyBytes is answered PAYLOAD_TOO_LARGE with its id; over twice the limit the channel closes 1009', async () => {
    const served = await startServer({ maxBodyBytes: 4096 });
    try {
      const channel = await rawChannel(served.url, { token: TOKENS.ann });
      channel.send({ id: 7, operation: 'whoami', body: { padding: 'x'.repeat(5000) } });
      const refused = await channel.answer(7);
      assert.equal(refused.status, 413);
      assert.equal('error' in refused && refused.error.name, 'PayloadTooLargeError');
      channel.send({ id: 8, operation: 'whoami' });
      assert.equal((await channel.answer(8)).status, 200);
      channel.send({ id: 9, operation: 'whoami', body: { padding: 'x'.repeat(9000) } });
      assert.equal((await channel.closed)[0], 1009);
    } finally {
      await served.close();
    }
  });

  test('connections over maxConnections are refused: TOO_MANY_CONNECTIONS, close 4503', async () => {
    const served = await startServer({ maxConnections: 1 });
    try {
      const first = await rawChannel(served.url, { token: TOKENS.ann });
      first.send({ id: 1, operation: 'whoami' });
      assert.equal((await first.answer(1)).status, 200);
      const second = await rawChannel(served.url, { token: TOKENS.ann });
      const [code] = await second.closed;
      assert.equal(code, 4503);
      assert.equal('error' in (second.answers[0] ?? {}) && (second.answers[0] as { error: { name: string } }).error.name, 'TooManyConnectionsError');
      first.ws.close();
    } finally {
      await served.close();
    }
  });

  test('heartbeats: a channel that does not answer pings is cut', async () => {
    const served = await startServer({ heartbeatMs: 20 });
    try {
      const { WebSocket } = await import('ws');
      const silent = new WebSocket(`${served.url.replace('http', 'ws')}/v1/calls`, ['quest.v1'], { autoPong: false });
      const closed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
      await new Promise((resolve) => silent.once('open', resolve));
      assert.equal(await closed, 1006);
    } finally {
      await served.close();
    }
  });

  test('graceful shutdown: a waiting call is answered SERVER_CLOSING, then the channel closes 1001', async () => {
    const served = await startServer({ drainMs: 10 });
    await served.manager.start('vault', 'l2');
    const client = served.client(TOKENS.ann, { transport: 'websocket' });
    const channel = await rawChannel(served.url, { token: TOKENS.ann });
    channel.send({ id: 1, operation: 'result', body: { id: 'l2' } });
    const waiting = client.getResult('l2').then(() => undefined, (error: unknown) => error);
    await untilSettled(() => served.server.callsInFlight === 2, 100_000);
    await served.server.close();
    const answer = await channel.answer(1);
    assert.equal(answer.status, 503);
    assert.equal('error' in answer && answer.error.name, 'ServerClosingError');
    assert.deepEqual(await channel.closed, [1001, 'the server is shutting down; reconnect later']);
    const error = await waiting;
    assert.ok(error instanceof ServerClosingError && error.retryable, String(error));
    await assert.rejects(client.has('l2'), { name: 'ConnectionFailedError' });
    await served.manager.close();
  });
});

describe('call channel: calls sent before the upgrade is authenticated', () => {
  test('a call sent as soon as the channel opens is answered, even when authentication finishes after it arrived', async () => {
    let callArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (callArrived = resolve));
    // Authentication that ends only once the client's first call has reached the server's socket.
    const served = await startServer({ authenticate: async (request) => {
      await arrived;
      return tokenAuth(request);
    } });
    try {
      // The server's HTTP server is private: reached here only to see the first bytes after the upgrade arrive.
      const http = (served.server as unknown as { http: Server }).http;
      http.once('upgrade', (_request: unknown, socket: Duplex) => socket.once('data', () => setImmediate(callArrived)));
      const channel = await rawChannel(served.url, { token: TOKENS.ann });
      channel.send({ id: 1, operation: 'whoami', body: {} });
      assert.deepEqual(await channel.answer(1), { id: 1, status: 200, value: { identity: 'ann', roles: [] } });
      channel.ws.close();
      await channel.closed;
    } finally {
      await served.close();
    }
  });
});
