/**
 * The client's call channel (`transport: 'websocket'`) when the connection drops: calls in flight fail with
 * CallInterruptedError saying whether the server may have done them (and are never re-sent); the next call
 * reconnects by itself, also to a server restarted on the same port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { CallInterruptedError, isServiceError } from '../../src/protocol/errors.js';
import { QuestServer } from '../../src/server/server.js';
import { untilSettled } from '../helpers.js';
import { startServer, tokenAuth, TOKENS, type Workflows } from '../server/support.js';
import { QuestClient } from '../../src/client/client.js';

/** A TCP relay on 127.0.0.1 in front of `port`, whose connections can be cut (a network failure). */
async function relay(port: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const relayPort = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${relayPort}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('client call channel: dropped connections', () => {
  test('calls in flight when the connection drops fail with CallInterruptedError, saying whether they may have been done; the next call reconnects', async () => {
    // drainMs: the calls the cut left waiting on the server (a result, a wait) need not hold its close.
    const served = await startServer({ drainMs: 10 });
    const cable = await relay(Number(new URL(served.url).port));
    const ann = new QuestClient<Workflows>(cable.url, { token: TOKENS.ann, transport: 'websocket' });
    try {
      await served.manager.start('box', 'd1', 'x');
      await ann.waitForResource('d1', 'done');
      const acting = ann.event('d1', 'done').wait().then(() => undefined, (error: unknown) => error);
      const reading = ann.getResult('d1').then(() => undefined, (error: unknown) => error);
      await untilSettled(() => served.server.callsInFlight === 2, 100_000);
      cable.cut();
      const [acted, read] = await Promise.all([acting, reading]);
      assert.ok(acted instanceof CallInterruptedError && isServiceError(acted, 'CALL_INTERRUPTED'), String(acted));
      assert.equal(acted.mayHaveBeenApplied, true);
      assert.equal(acted.retryable, false);
      assert.match(acted.message, /may have done it/);
      assert.ok(read instanceof CallInterruptedError, String(read));
      assert.equal(read.mayHaveBeenApplied, false);
      assert.equal(read.retryable, true);
      // Nothing was re-sent behind the caller's back; the next call opens a new connection.
      assert.equal(await ann.has('d1'), true);
      assert.equal(served.server.callChannelCount, 1);
    } finally {
      await ann.close();
      await cable.close();
      await served.close();
    }
  });

  test('after a server restart on the same port, the next call reconnects', async () => {
    const served = await startServer();
    const port = Number(new URL(served.url).port);
    const ann = new QuestClient<Workflows>(served.url, { token: TOKENS.ann, transport: 'websocket' });
    try {
      assert.deepEqual(await ann.whoami(), { identity: 'ann', roles: [] });
      await served.server.close();
      await untilSettled(() => served.server.callChannelCount === 0, 100_000);
      await assert.rejects(ann.whoami(), { name: 'ConnectionFailedError' });
      const again = new QuestServer(served.manager, { authenticate: tokenAuth });
      await again.listen(port, '127.0.0.1');
      try {
        assert.deepEqual(await ann.whoami(), { identity: 'ann', roles: [] });
      } finally {
        await again.close();
      }
    } finally {
      await ann.close();
      await served.manager.close();
    }
  });

  test('an idle call channel does not keep a Node process alive', async () => {
    const served = await startServer();
    try {
      const script = `
        import { QuestClient } from './src/client/client.ts';
        const client = new QuestClient(${JSON.stringify(served.url)}, { token: ${JSON.stringify(TOKENS.ann)}, transport: 'websocket' });
        console.log(JSON.stringify(await client.whoami()));`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        // A child kept alive by its socket would never exit: kill it (a failure, exit code null) after a bound.
        timeout: 30_000,
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(output), { identity: 'ann', roles: [] });
    } finally {
      await served.close();
    }
  });
});
