/**
 * Fuzz: more than 10,000 malformed requests and stream messages (random bytes, wrong JSON types, unknown
 * operations, huge and deeply nested payloads, forged credentials, half-closed sockets) against a real
 * server. The server keeps serving, the store is unchanged, and every answer is a value or a named error.
 * Seeded: a failure names its seed.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import * as questErrors from '../../src/core/errors.js';
import { SERVICE_ERROR_CLASSES } from '../../src/protocol/errors.js';
import { seededRandom, untilSettled } from '../helpers.js';
import { rawChannel } from './call-support.js';
import { startServer, TOKENS } from './support.js';

const SEED = Number(process.env['QUEST_FUZZ_SEED'] ?? 20261130);
const NAMED = new Set<string>([
  ...SERVICE_ERROR_CLASSES.map((errorClass) => errorClass.name),
  ...Object.values(questErrors).flatMap((value) => (typeof value === 'function' && value.prototype instanceof Error ? [value.name] : [])),
]);
/** Stray messages sent on one stream (cheap: most of the 10,000). */
const STRAY = 7_000;
const OPERATIONS = ['start', 'has', 'result', 'list', 'cancel', 'delete', 'resources', 'act', 'waitForResource', 'whoami'];
/** Malformed messages sent on call channels. */
const CALL_MESSAGES = 4_000;

describe('fuzz: malformed requests and messages', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  const random = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (max: number): number => Math.floor(random() * max);

  /** The store as callers could see it: workflows, and ann's queue in the vault. */
  const storeState = async (vault = 'v1'): Promise<unknown> => ({
    list: (await served.manager.list()).map(({ id, type, status }) => ({ id, type, status })),
    secret: await served.manager.resources(vault, 'ann'),
    history: (await served.store.history(vault).load()).length,
  });

  before(async () => {
    served = await startServer({ maxBodyBytes: 64 * 1024, logger: { warn: () => undefined, error: () => undefined } });
    await served.manager.start('vault', 'v1');
    await served.manager.waitForResource('v1', 'secret', 'ann');
    // The vault now waits for the outside: its records reach the store, and from then on nothing may change it.
    await untilSettled(async () => (await served.store.history('v1').load()).length > 0);
  });
  after(async () => {
    await served.close();
  });

  const randomJson = (depth = 0): unknown => {
    switch (depth > 4 ? int(4) : int(7)) {
      case 0: return null;
      case 1: return random() < 0.5;
      case 2: return pick([0, -1, 1e308, Number.MAX_SAFE_INTEGER, 3.14]);
      case 3: return pick(['', 'v1', 'secret', 'put', 'get', '__proto__', '\u0000', 'x'.repeat(int(300)), '$q']);
      case 4: return Array.from({ length: int(4) }, () => randomJson(depth + 1));
      case 5: return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(['id', 'type', 'args', 'resource', 'action', 'identity', '$q', 'v', 'ifExists']), randomJson(depth + 1)]));
      default: return { id: pick(['v1', 'nope', '', 7]), resource: pick(['secret', 'other', null]), action: pick(['put', 'get', 'size', 'drop', 1]), args: pick([[], ['x'], 'x', [{ $q: 'Map', v: 5 }], [{ $q: 'Type:Nope', v: 1 }]]), identity: 'ann' };
    }
  };

  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

  /** One malformed HTTP request: its path, headers and body. */
  const malformedRequest = (): { path: string; method: string; headers: Record<string, string>; body?: string | Uint8Array } => {
    const headers: Record<string, string> = { 'content-type': pick(['application/json', 'text/plain', 'application/octet-stream']) };
    const credentials = int(6);
    if (credentials === 0) headers['authorization'] = `Bearer ${TOKENS.bob}`;
    if (credentials === 1) headers['authorization'] = pick(['Bearer', 'Bearer x y', 'Basic abc', `Bearer ${TOKENS.ann}z`, 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbm4ifQ.']);
    if (credentials === 2) headers['x-quest-identity'] = 'ann';
    const operation = random() < 0.9 ? pick(OPERATIONS) : pick(['close', 'running', '__proto__', 'constructor', 'deliverInbox', '%00', 'act/extra']);
    const method = random() < 0.95 ? 'POST' : pick(['GET', 'PUT', 'DELETE', 'PATCH']);
    const path = random() < 0.97 ? `/v1/${operation}` : pick(['/', '/v2/act', '/v1', '/v1/stream', `/v1/${'a'.repeat(5000)}`]);
    let body: string | Uint8Array | undefined;
    switch (int(5)) {
      case 0: body = new Uint8Array(Array.from({ length: int(200) }, () => int(256))); break;
      case 1: body = JSON.stringify(randomJson()); break;
      case 2: body = JSON.stringify(randomJson()).slice(0, -1 - int(3)); break;
      case 3: body = nested(50 + int(5000)); break;
      default: body = JSON.stringify({ id: 'v1', resource: 'secret', action: 'put', args: [JSON.parse(nested(70))], identity: 'ann' });
    }
    if (method === 'GET') body = undefined;
    // result and waitForResource on a running workflow wait by design (not malformed): aim them elsewhere.
    if ((operation === 'result' || operation === 'waitForResource') && typeof body === 'string') body = body.replaceAll('"v1"', '"v0"');
    return { path, method, headers, body };
  };

  test('10,000+ malformed requests and messages: the server keeps serving, the store is unchanged, every answer is named', async () => {
    const before = await storeState();
    let answered = 0;
    const check = (status: number, body: unknown, what: string): void => {
      const answer = body as { value?: unknown; error?: { name?: unknown } };
      if ('value' in answer && status === 200) return;
      assert.ok(typeof answer.error?.name === 'string' && NAMED.has(answer.error.name), `seed ${SEED}: ${what} answered ${status} ${JSON.stringify(body).slice(0, 200)}`);
      assert.ok(status >= 400 || status === 200, `seed ${SEED}: ${what} answered ${status}`);
    };

    // HTTP: 3,000 malformed calls, 8 at a time.
    const requests = Array.from({ length: 3_000 }, malformedRequest);
    for (let start = 0; start < requests.length; start += 8) {
      await Promise.all(requests.slice(start, start + 8).map(async (request) => {
        const response = await fetch(`${served.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body ?? null });
        check(response.status, await response.json(), `${request.method} ${request.path.slice(0, 40)}`);
        answered++;
      }));
    }
    // Over the size limit: 413, without reading it all.
    for (let n = 0; n < 20; n++) {
      const response = await fetch(`${served.url}/v1/act`, { method: 'POST', body: 'x'.repeat(64 * 1024 + 1 + int(100_000)) });
      assert.equal(response.status, 413);
      check(response.status, await response.json(), 'huge body');
      answered++;
    }

    // Streams: 7,000 stray messages on open streams, each answered by a named error; the streams stay open.
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/v1/stream?workflow=v1`, ['quest.v1']);
    const replies: { type: string; error?: { name: string } }[] = [];
    ws.on('message', (data) => replies.push(JSON.parse(String(data)) as (typeof replies)[number]));
    await new Promise((resolve) => ws.once('open', resolve));
    let errorReplies = 0;
    ws.on('message', (data) => (errorReplies += (JSON.parse(String(data)) as { type: string }).type === 'error' ? 1 : 0));
    // In batches, waiting for the answers, so that this reader never lets them pile up on the server.
    for (let sent = 0; sent < STRAY; sent += 500) {
      for (let n = 0; n < 500; n++) {
        ws.send(pick([JSON.stringify(randomJson()), nested(int(3000)), Buffer.from(Array.from({ length: int(100) }, () => int(256)))]));
      }
      await untilSettled(() => errorReplies >= sent + 500, 10_000_000);
    }
    assert.ok(replies.every((reply) => reply.type === 'snapshot' || reply.error?.name === 'BadRequestError'));
    answered += STRAY;
    // A message over the size limit closes that stream with 1009 (ws's "message too big"), nothing else.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(64 * 1024 + 10));
    assert.equal(await closed, 1009);

    // Half-closed and garbage sockets: 50 raw connections that send part of a request (or bytes) and end.
    for (let n = 0; n < 50; n++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(new URL(served.url).port), '127.0.0.1', () => {
          socket.end(pick(['POST /v1/act HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id":', 'GARBAGE\r\n\r\n', 'GET /v1/stream?workflow=v1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', '\u0000\u0001\u0002']));
        });
        socket.on('data', () => undefined);
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
      });
      answered++;
    }

    assert.ok(answered >= 10_000, `${answered} malformed requests and messages`);
    assert.deepEqual(await storeState(), before, `seed ${SEED}: the store changed`);
    // Still serving, and still honest: ann (and only ann) reaches her queue.
    const ann = served.client(TOKENS.ann);
    assert.deepEqual(await ann.whoami(), { identity: 'ann', roles: [] });
    await ann.queue<string>('v1', 'secret').put('still here');
    assert.equal(await served.manager.getResult('v1'), 'still here');
  });
  /** One malformed call message: raw text or bytes, or a message object of wrong shape. */
  const malformedCall = (n: number): string | Buffer => {
    switch (int(9)) {
      case 0: return Buffer.from(Array.from({ length: int(200) }, () => int(256)));
      case 1: return JSON.stringify(randomJson());
      case 2: return JSON.stringify({ id: n, operation: pick(OPERATIONS), body: randomJson() }).slice(0, -1 - int(3));
      case 3: return JSON.stringify({ id: pick([n, String(n), null, -0.5, 'x'.repeat(200), [n], { n }]), operation: pick(OPERATIONS), body: {} });
      case 4: return JSON.stringify({ id: n, operation: pick([7, null, 'close', '__proto__', 'constructor', 'deliverInbox', 'stream', '']), body: {} });
      case 5: return `{"id":${n},"operation":"act","body":${nested(70 + int(3000))}}`;
      case 6: return JSON.stringify({ id: n, operation: 'act', body: { id: 'v2', resource: 'secret', action: pick(['put', 'get', 'size']), args: ['forged'], identity: 'ann' }, identity: 'ann', roles: ['admin'] });
      case 7: return JSON.stringify({ id: n, operation: pick(['start', 'cancel', 'delete']), body: { id: 'v2', type: 'vault', args: [] }, roles: ['admin'] });
      default: {
        // Over the 64 KiB limit (under twice it): PAYLOAD_TOO_LARGE, and the channel goes on.
        const operation = pick(OPERATIONS.filter((name) => name !== 'result' && name !== 'waitForResource'));
        return JSON.stringify({ id: n, operation, body: { id: 'v2', padding: 'x'.repeat(64 * 1024 + int(32 * 1024)) } });
      }
    }
  };

  test(`call channel: ${CALL_MESSAGES} malformed messages, forged identities and over-size messages: one named answer each, the store unchanged`, async () => {
    // A vault of its own (the test above finishes v1), waiting for the outside like v1.
    await served.manager.start('vault', 'v2');
    await served.manager.waitForResource('v2', 'secret', 'ann');
    await untilSettled(async () => (await served.store.history('v2').load()).length > 0);
    const before = await storeState('v2');
    const channels = [await rawChannel(served.url, { token: TOKENS.bob }), await rawChannel(served.url), await rawChannel(served.url, { token: TOKENS.admin })];
    for (let sent = 0; sent < CALL_MESSAGES; sent += 200) {
      for (let n = sent; n < sent + 200; n++) {
        // The admin only sends messages that cannot parse to a call: its rights must not reach the vault.
        const channel = channels[n % 3] as (typeof channels)[number];
        let message = malformedCall(n);
        if (n % 3 === 2) message = Buffer.from(Array.from({ length: 1 + int(100) }, () => int(256)));
        channel.send(message);
      }
      // Every message gets one answer (by id, or id null when it has none that can be read).
      await untilSettled(() => channels.reduce((count, channel) => count + channel.answers.length, 0) >= sent + 200, 10_000_000);
    }
    let answers = 0;
    for (const channel of channels) {
      for (const answer of channel.answers) {
        answers++;
        if ('value' in answer) {
          assert.equal(answer.status, 200);
          continue;
        }
        assert.ok(NAMED.has(answer.error.name), `seed ${SEED}: call answered ${JSON.stringify(answer).slice(0, 200)}`);
        assert.ok(answer.status >= 400, `seed ${SEED}: ${answer.status}`);
      }
    }
    assert.equal(answers, CALL_MESSAGES);
    assert.deepEqual(await storeState('v2'), before, `seed ${SEED}: the store changed`);
    // Over twice the limit: that channel closes with 1009; the others go on.
    const bob = channels[0] as (typeof channels)[number];
    bob.send('x'.repeat(2 * 64 * 1024 + 10));
    assert.equal((await bob.closed)[0], 1009);
    const anonymous = channels[1] as (typeof channels)[number];
    anonymous.send({ id: 'last', operation: 'whoami' });
    assert.deepEqual(await anonymous.answer('last'), { id: 'last', status: 200, value: { identity: null, roles: [] } });
    for (const channel of channels) channel.ws.close();
  });
});
