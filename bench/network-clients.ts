/**
 * The client side of bench/network.ts, run in child processes (`fork`), so that the benchmark's own process
 * holds only the server. It obeys the parent's commands over IPC:
 *
 * - `calls`: open `clients` QuestClients (one connection each) and make one warm-up call each, answer `ready`;
 *   on `go`, every client makes `callsPerClient` calls one after the other; answer `done` with the
 *   latencies and the wall-clock start and end (epoch ms, comparable across processes).
 * - `listen`: open `listeners` resource streams, wait for the first snapshot of each, answer `listening`;
 *   then answer `changed` (with the wall-clock time) once every stream has seen the board at `value`.
 * - `channels`: open `count` idle call channels (one call each), answer `opened`.
 * - `release`: close the streams and channels, answer `released`.
 */
import { performance } from 'node:perf_hooks';
import { QuestClient } from '../src/client/client.js';
import type { RemoteResourceStream } from '../src/client/stream.js';

export type Transport = 'http' | 'websocket';

export type Command =
  | { type: 'calls'; url: string; token: string; transport: Transport; clients: number; callsPerClient: number; operation: 'put' | 'whoami' }
  | { type: 'go' }
  | { type: 'listen'; url: string; token: string; listeners: number; value: number }
  | { type: 'channels'; url: string; token: string; count: number }
  | { type: 'release' };

export type Reply =
  | { type: 'ready' }
  | { type: 'done'; startedAt: number; endedAt: number; latencies: number[] }
  | { type: 'listening' }
  | { type: 'changed'; at: number }
  | { type: 'opened' }
  | { type: 'released' }
  | { type: 'failed'; message: string };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

const reply = (message: Reply): void => void process.send?.(message);

let pendingCalls: (() => Promise<void>) | undefined;
let streams: RemoteResourceStream[] = [];
let idle: QuestClient[] = [];

async function prepareCalls(command: Extract<Command, { type: 'calls' }>): Promise<void> {
  const clients = Array.from({ length: command.clients }, () => new QuestClient(command.url, { token: command.token, transport: command.transport }));
  const call = (client: QuestClient, i: number): Promise<unknown> => (command.operation === 'put' ? client.queue<number>('w', 'items').put(i) : client.whoami());
  await Promise.all(clients.map((client) => call(client, -1))); // warm-up: connections open
  pendingCalls = async () => {
    const latencies: number[] = [];
    const startedAt = wallNow();
    await Promise.all(clients.map(async (client) => {
      for (let i = 0; i < command.callsPerClient; i++) {
        const t = performance.now();
        await call(client, i);
        latencies.push(performance.now() - t);
      }
    }));
    const endedAt = wallNow();
    await Promise.all(clients.map((client) => client.close()));
    reply({ type: 'done', startedAt, endedAt, latencies });
  };
  reply({ type: 'ready' });
}

async function listen(command: Extract<Command, { type: 'listen' }>): Promise<void> {
  const client = new QuestClient(command.url, { token: command.token });
  streams = Array.from({ length: command.listeners }, () => client.resourceStream('w'));
  await Promise.all(streams.map((stream) => stream.next()));
  reply({ type: 'listening' });
  await Promise.all(streams.map(async (stream) => {
    for (;;) {
      const { value, done } = await stream.next();
      if (done === true) throw new Error('a stream ended before the change reached it');
      const board = value.resources.find((resource) => resource.name === 'board')?.view as { value?: number } | undefined;
      if (board?.value === command.value) return;
    }
  }));
  reply({ type: 'changed', at: wallNow() });
}

async function openChannels(command: Extract<Command, { type: 'channels' }>): Promise<void> {
  idle = Array.from({ length: command.count }, () => new QuestClient(command.url, { token: command.token, transport: 'websocket' }));
  await Promise.all(idle.map((client) => client.whoami()));
  reply({ type: 'opened' });
}

async function release(): Promise<void> {
  await Promise.all(streams.map((stream) => stream.return()));
  await Promise.all(idle.map((client) => client.close()));
  streams = [];
  idle = [];
  reply({ type: 'released' });
}

process.on('message', (command: Command) => {
  const run = async (): Promise<void> => {
    switch (command.type) {
      case 'calls': return prepareCalls(command);
      case 'go': return pendingCalls?.();
      case 'listen': return listen(command);
      case 'channels': return openChannels(command);
      case 'release': return release();
    }
  };
  run().catch((error: unknown) => reply({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) }));
});
process.on('disconnect', () => process.exit(0));
