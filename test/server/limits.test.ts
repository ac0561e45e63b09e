import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ServerClosingError } from '../../src/protocol/errors.js';
import { startServer, TOKENS } from './support.js';

/** A raw keep-alive connection; `send` writes requests and resolves with the next `count` bytes of answers. */
async function rawConnection(url: string): Promise<{ socket: Socket; request(text: string): void; received(): string }> {
  const socket = await new Promise<Socket>((resolve) => {
    const opened = connect(Number(new URL(url).port), '127.0.0.1', () => resolve(opened));
  });
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
  return { socket, request: (text) => socket.write(text), received: () => data };
}

const call = (operation: string, body: string): string => `POST /v1/${operation} HTTP/1.1\r\nHost: quest\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('server limits', () => {
  test('connections over maxConnections are refused with TOO_MANY_CONNECTIONS (503)', async () => {
    const served = await startServer({ maxConnections: 2 });
    const open: Socket[] = [];
    try {
      for (let n = 0; n < 2; n++) {
        const connection = await rawConnection(served.url);
        open.push(connection.socket);
        connection.request(call('whoami', '{}'));
        await until(() => connection.received().includes('"identity"'));
      }
      const refused = await fetch(`${served.url}/v1/whoami`, { method: 'POST', body: '{}' });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { error: { name: string } }).error.name, 'TooManyConnectionsError');
    } finally {
      for (const socket of open) socket.destroy();
      await served.close();
    }
  });

  test('calls in flight on one connection over maxCallsPerConnection are refused with TOO_MANY_CALLS (429)', async () => {
    const served = await startServer({ maxCallsPerConnection: 1 });
    try {
      await served.manager.start('vault', 'v1');
      const connection = await rawConnection(served.url);
      // Pipelined: the first waits for the workflow's result, the second arrives while it is in flight.
      connection.request(call('result', '{"id":"v1"}') + call('has', '{"id":"v1"}'));
      await served.manager.waitForResource('v1', 'secret', 'ann');
      await served.client(TOKENS.ann).queue<string>('v1', 'secret').put('done');
      await until(() => connection.received().includes('TooManyCallsError'));
      assert.match(connection.received(), /HTTP\/1\.1 200[\s\S]*"value":"done"[\s\S]*HTTP\/1\.1 429/);
      connection.socket.destroy();
    } finally {
      await served.close();
    }
  });

  test('a chunked body (no Content-Length) is read chunk by chunk: under the limit it is served, over it PAYLOAD_TOO_LARGE (413)', async () => {
    const served = await startServer({ maxBodyBytes: 1024 });
    try {
      const chunked = (chunks: string[]): string =>
        `POST /v1/whoami HTTP/1.1\r\nHost: quest\r\nTransfer-Encoding: chunked\r\n\r\n${chunks.map((chunk) => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`).join('')}0\r\n\r\n`;
      const small = await rawConnection(served.url);
      small.request(chunked(['{"pad', `ding":"${'x'.repeat(500)}"`, '}']));
      await until(() => small.received().includes('"identity"'));
      assert.match(small.received(), /^HTTP\/1\.1 200/);
      small.socket.destroy();
      const large = await rawConnection(served.url);
      large.request(chunked(['{"padding":"', 'x'.repeat(700), 'x'.repeat(700), '"}']));
      await until(() => large.received().includes('PayloadTooLargeError'));
      assert.match(large.received(), /^HTTP\/1\.1 413/);
      large.socket.destroy();
    } finally {
      await served.close();
    }
  });

  test('graceful shutdown: streams close with 1001 and a reason, waiting calls are answered SERVER_CLOSING, new calls refused', async () => {
    const served = await startServer({ drainMs: 10 });
    await served.manager.start('vault', 'v1');
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/v1/stream?workflow=v1`, ['quest.v1']);
    const firstMessage = new Promise((resolve) => ws.once('message', resolve));
    const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, String(reason)])));
    await firstMessage;
    const waiting = served.client().getResult('v1').then(() => undefined, (error: unknown) => error);
    await until(() => served.server.streamCount === 1 && served.server.callsInFlight === 1);
    await served.server.close();
    assert.deepEqual(await closed, [1001, 'the server is shutting down; reconnect later']);
    const error = await waiting;
    assert.ok(error instanceof ServerClosingError && error.retryable, String(error));
    await assert.rejects(served.client().has('v1'), { name: 'ConnectionFailedError' });
    await served.manager.close();
  });
});
