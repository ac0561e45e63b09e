/**
 * The network edge, with the server alone in this process and the clients in child processes
 * (bench/network-clients.ts), all on 127.0.0.1:
 * - `act` (queue put) round trips over HTTP and over the WebSocket call channel with 1, 10 and 100
 *   concurrent clients (one connection each), on the in-memory store and on SQLite;
 * - the network layer alone (`whoami`, no store) on both transports, against quest.py's `has_workflow`;
 * - fan-out of one change to 1,000 stream listeners; the server's memory per idle stream and per idle call
 *   channel.
 * quest.py's figures (/work/shared/anchors/quest-py.md) are printed in the same tables.
 *
 *   npm run bench:network                            # full run
 *   npm run bench:network -- --quick                 # fewer calls
 *   npm run bench:network -- --client-processes=1    # clients in one process (default 2)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loop, queue, state } from '../src/index.js';
import { WorkflowManager } from '../src/manager/workflow-manager.js';
import { bearerTokens } from '../src/server/auth.js';
import { QuestServer } from '../src/server/server.js';
import { MemoryStore } from '../src/storage/memory.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { Store } from '../src/storage/store.js';
import { forceGc, formatBytes, formatDuration, formatInt, scratchDirectory } from './harness.js';
import type { Command, Reply, Transport } from './network-clients.js';

const quick = process.argv.includes('--quick');
const CALLS = quick ? 2_000 : 10_000;
const LISTENERS = 1_000;
const TOKEN = 'bench-token';
const PROCESSES = Number(process.argv.find((arg) => arg.startsWith('--client-processes='))?.slice('--client-processes='.length) ?? 2);

/** quest.py's WebSocket server, /work/shared/anchors/quest-py.md: send_event put and has_workflow round trips. */
const QUEST_PY_PUT: Record<number, { rate: number; p99: number }> = { 1: { rate: 493, p99: 4.9 }, 10: { rate: 526, p99: 36.7 }, 100: { rate: 662, p99: 208 } };
const QUEST_PY_HAS: Record<number, { rate: number; p99: number }> = { 1: { rate: 3_374, p99: 0.47 }, 10: { rate: 13_909, p99: 2.1 }, 100: { rate: 15_851, p99: 15.9 } };
const QUEST_PY_FANOUT_1000_MS = 120.8;
const QUEST_PY_STREAM_BYTES = 57.4 * 1024;
const QUEST_PY_CALL_CONNECTION_BYTES = 47.7 * 1024;

/**
 * Takes puts forever in a `loop()` (so that neither the queue nor the history grows with the calls), and shows
 * a public state for stream listeners.
 */
async function inbox(): Promise<void> {
  await using items = await queue<number>('items', null);
  await using _board = await state<number>('board', null, 0);
  await loop('take', 0, async (taken) => (await items.get(), taken + 1));
}
const workflows = { inbox };

/** A child process of clients, driven by commands. */
class ClientProcess {
  private readonly child: ChildProcess;
  private readonly replies: Reply[] = [];
  private waiter: (() => void) | undefined;

  constructor() {
    this.child = fork(new URL('./network-clients.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: Reply) => {
      this.replies.push(reply);
      this.waiter?.();
    });
  }

  send(command: Command): void {
    this.child.send(command);
  }

  /** The next reply of type `type` (a `failed` reply throws). */
  async next<T extends Reply['type']>(type: T): Promise<Extract<Reply, { type: T }>> {
    for (;;) {
      const reply = this.replies.shift();
      if (reply?.type === 'failed') throw new Error(`a client process failed: ${reply.message}`);
      if (reply?.type === type) return reply as Extract<Reply, { type: T }>;
      if (reply !== undefined) throw new Error(`expected ${type} from a client process, got ${reply.type}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  stop(): void {
    this.child.disconnect();
  }
}

async function open(store: Store): Promise<{ manager: WorkflowManager<typeof workflows>; server: QuestServer; url: string }> {
  const manager = await WorkflowManager.open({ store, workflows });
  const server = new QuestServer(manager, {
    authenticate: bearerTokens({ [TOKEN]: { identity: 'bench' } }),
    maxConnections: 4 * LISTENERS,
  });
  const { url } = await server.listen(0, '127.0.0.1');
  await manager.start('inbox', 'w');
  await manager.waitForResource('w', 'board', null);
  return { manager, server, url };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Split `total` into `parts` near-equal positive shares. */
function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, n) => Math.floor(total / parts) + (n < total % parts ? 1 : 0));
}

/** `CALLS` calls split among `clients` concurrent clients in the child processes: rate, p50, p99. */
async function roundTrips(children: ClientProcess[], url: string, transport: Transport, clients: number, operation: 'put' | 'whoami'): Promise<Figures> {
  const callsPerClient = Math.ceil(CALLS / clients);
  const used = children.slice(0, Math.min(children.length, clients));
  const split = shares(clients, used.length);
  used.forEach((child, n) => child.send({ type: 'calls', url, token: TOKEN, transport, clients: split[n] as number, callsPerClient, operation }));
  for (const child of used) await child.next('ready');
  for (const child of used) child.send({ type: 'go' });
  const results = await Promise.all(used.map((child) => child.next('done')));
  const elapsed = Math.max(...results.map((result) => result.endedAt)) - Math.min(...results.map((result) => result.startedAt));
  const latencies = results.flatMap((result) => result.latencies).sort((a, b) => a - b);
  return { rate: (latencies.length * 1000) / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] as number };
}

/** Calls per second, and latencies in ms. */
interface Figures {
  rate: number;
  p50: number;
  p99: number;
  max: number;
}

function row(clients: number, transport: Transport, figures: Figures, peer: { rate: number; p99: number }): string {
  const ours = `${formatInt(Math.round(figures.rate)).padStart(7)}/s p50 ${figures.p50.toFixed(2).padStart(6)} ms p99 ${figures.p99.toFixed(2).padStart(6)} ms max ${figures.max.toFixed(0).padStart(4)} ms`;
  return `${String(clients).padStart(7)} | ${transport.padEnd(9)} | ${ours} | ${formatInt(peer.rate).padStart(6)}/s p99 ${String(peer.p99).padStart(5)} ms | ${(figures.rate / peer.rate).toFixed(1).padStart(5)}×`;
}

async function callTable(children: ClientProcess[], title: string, store: Store, operation: 'put' | 'whoami', peerName: string, peer: Record<number, { rate: number; p99: number }>): Promise<void> {
  const { manager, server, url } = await open(store);
  try {
    console.log(`\n${title}, ${formatInt(CALLS)} calls per row (load average ${loadavg()[0]?.toFixed(1)})`);
    console.log(`clients | transport | Quest for TypeScript                                  | ${peerName.padEnd(25)} | × rate`);
    for (const clients of [1, 10, 100]) {
      for (const transport of ['http', 'websocket'] as const) {
        console.log(row(clients, transport, await roundTrips(children, url, transport, clients, operation), peer[clients] as { rate: number; p99: number }));
      }
    }
  } finally {
    await server.close();
    await manager.close();
  }
}

/** Resolves once `condition()` holds (checked after each turn of the event loop). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** The server's heap + external memory, after a full collection. */
function serverMemory(): number {
  forceGc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/**
 * `LISTENERS` streams from the child processes: the server's memory per idle stream, then the time from one
 * `set` until every listener has the change; then the server's memory per idle call channel.
 */
async function fanOut(children: ClientProcess[]): Promise<void> {
  const { manager, server, url } = await open(new MemoryStore());
  try {
    const split = shares(LISTENERS, children.length);
    const before = serverMemory();
    children.forEach((child, n) => child.send({ type: 'listen', url, token: TOKEN, listeners: split[n] as number, value: 1 }));
    for (const child of children) await child.next('listening');
    await until(() => server.streamCount === LISTENERS);
    const perStream = (serverMemory() - before) / LISTENERS;
    const started = performance.timeOrigin + performance.now();
    await manager.state<number>('w', 'board', null).set(1);
    const reached = await Promise.all(children.map((child) => child.next('changed')));
    const fanOutMs = Math.max(...reached.map((reply) => reply.at)) - started;
    for (const child of children) child.send({ type: 'release' });
    for (const child of children) await child.next('released');
    await until(() => server.streamCount === 0);

    const beforeChannels = serverMemory();
    children.forEach((child, n) => child.send({ type: 'channels', url, token: TOKEN, count: split[n] as number }));
    for (const child of children) await child.next('opened');
    await until(() => server.callChannelCount === LISTENERS && server.callsInFlight === 0);
    const perChannel = (serverMemory() - beforeChannels) / LISTENERS;
    for (const child of children) child.send({ type: 'release' });
    for (const child of children) await child.next('released');
    await until(() => server.callChannelCount === 0);

    console.log(`\n${formatInt(LISTENERS)} stream listeners on one workflow (values included), in ${children.length} client processes (load average ${loadavg()[0]?.toFixed(1)})`);
    console.log(`  a state set reaches all of them in ${formatDuration(fanOutMs)}   quest.py: ${QUEST_PY_FANOUT_1000_MS} ms (names only), ratio ${(QUEST_PY_FANOUT_1000_MS / fanOutMs).toFixed(1)}×`);
    console.log(`  server memory per idle stream: ${formatBytes(perStream)} (heap + external)   quest.py: ${formatBytes(QUEST_PY_STREAM_BYTES)}`);
    console.log(`  server memory per idle call channel: ${formatBytes(perChannel)} (heap + external)   quest.py: ${formatBytes(QUEST_PY_CALL_CONNECTION_BYTES)} (/call)`);
  } finally {
    await server.close();
    await manager.close();
  }
}

const directory = scratchDirectory('quest-bench-network-');
const children = Array.from({ length: Math.max(1, PROCESSES) }, () => new ClientProcess());
try {
  console.log(`Quest network bench${quick ? ' (--quick)' : ''}: the server alone in this process, clients in ${children.length} child processes, on 127.0.0.1`);
  console.log(`${availableParallelism()} CPUs; load average ${loadavg().map((load) => load.toFixed(2)).join(' ')} (1, 5, 15 min)`);
  await callTable(children, 'act (queue put) round trips, in-memory store', new MemoryStore(), 'put', 'quest.py put (list history)', QUEST_PY_PUT);
  await callTable(children, 'act (queue put) round trips, SQLite', await SqliteStore.open(join(directory, 'bench.sqlite')), 'put', 'quest.py put (list history)', QUEST_PY_PUT);
  await callTable(children, 'the network layer alone: whoami (no store)', new MemoryStore(), 'whoami', 'quest.py has_workflow', QUEST_PY_HAS);
  await fanOut(children);
} finally {
  for (const child of children) child.stop();
  rmSync(directory, { recursive: true, force: true });
}
