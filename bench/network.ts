/**
 * The network edge: `act` (queue put) round trips over HTTP with 1, 10 and 100 concurrent clients, on the
 * in-memory store and on SQLite; fan-out of one change to 1,000 stream listeners; memory per idle stream.
 * Server and clients run in this process on 127.0.0.1, so every figure pays for both ends.
 *
 *   npm run bench:network             # full run
 *   npm run bench:network -- --quick  # fewer calls
 */
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { QuestClient } from '../src/client/client.js';
import type { RemoteResourceStream } from '../src/client/stream.js';
import { loop, queue, state } from '../src/index.js';
import { WorkflowManager } from '../src/manager/workflow-manager.js';
import { bearerTokens } from '../src/server/auth.js';
import { QuestServer } from '../src/server/server.js';
import { MemoryStore } from '../src/storage/memory.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { Store } from '../src/storage/store.js';
import { forceGc, formatBytes, formatDuration, formatInt, now, scratchDirectory } from './harness.js';

const quick = process.argv.includes('--quick');
const CALLS = quick ? 2_000 : 10_000;
const LISTENERS = 1_000;
const TOKEN = 'bench-token';

/** quest.py's WebSocket server, /work/shared/anchors/quest-py.md: send_event put round trips. */
const QUEST_PY_PUT: Record<number, { rate: number; p99: number }> = { 1: { rate: 493, p99: 4.9 }, 10: { rate: 526, p99: 36.7 }, 100: { rate: 662, p99: 208 } };
const QUEST_PY_FANOUT_1000_MS = 120.8;
const QUEST_PY_STREAM_BYTES = 57.4 * 1024;

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

/** `CALLS` puts split among `clients` concurrent callers: rate, p50, p99. */
async function roundTrips(url: string, clients: number): Promise<{ rate: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const perClient = Math.ceil(CALLS / clients);
  const callers = Array.from({ length: clients }, () => new QuestClient(url, { token: TOKEN }).queue<number>('w', 'items'));
  await Promise.all(callers.map((items) => items.put(-1))); // warm-up: connections open
  const started = now();
  await Promise.all(callers.map(async (items) => {
    for (let i = 0; i < perClient; i++) {
      const t = now();
      await items.put(i);
      latencies.push(now() - t);
    }
  }));
  const elapsed = now() - started;
  latencies.sort((a, b) => a - b);
  return { rate: (perClient * clients * 1000) / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function actTable(name: string, store: Store): Promise<void> {
  const { manager, server, url } = await open(store);
  try {
    console.log(`\nact (queue put) round trips over HTTP, ${name}, ${formatInt(CALLS)} calls per row`);
    console.log('clients | Quest for TypeScript             | quest.py (WebSocket, list history) | × rate');
    for (const clients of [1, 10, 100]) {
      const { rate, p50, p99 } = await roundTrips(url, clients);
      const peer = QUEST_PY_PUT[clients] as { rate: number; p99: number };
      console.log(`${String(clients).padStart(7)} | ${formatInt(Math.round(rate)).padStart(7)}/s p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms | ${formatInt(peer.rate).padStart(5)}/s p99 ${peer.p99} ms | ${(rate / peer.rate).toFixed(1)}×`);
    }
  } finally {
    await server.close();
    await manager.close();
  }
}

/** Open `LISTENERS` streams, wait for their first snapshot; time one `set` until all have it; memory per stream. */
async function fanOut(): Promise<void> {
  const { manager, server, url } = await open(new MemoryStore());
  const streams: RemoteResourceStream[] = [];
  try {
    forceGc();
    const before = process.memoryUsage();
    const client = new QuestClient(url, { token: TOKEN });
    for (let i = 0; i < LISTENERS; i++) streams.push(client.resourceStream('w'));
    await Promise.all(streams.map((stream) => stream.next()));
    forceGc();
    const after = process.memoryUsage();
    const perStream = (after.heapUsed + after.external - before.heapUsed - before.external) / LISTENERS;

    const reached = streams.map(async (stream) => {
      for (;;) {
        const { value, done } = await stream.next();
        if (done === true) throw new Error('a stream ended before the change reached it');
        const board = value.resources.find((r) => r.name === 'board')?.view as { value?: number } | undefined;
        if (board?.value === 1) return;
      }
    });
    const started = now();
    await manager.state<number>('w', 'board', null).set(1);
    await Promise.all(reached);
    const fanOutMs = now() - started;

    console.log(`\n${formatInt(LISTENERS)} stream listeners on one workflow (values included)`);
    console.log(`  a state set reaches all of them in ${formatDuration(fanOutMs)}   quest.py: ${QUEST_PY_FANOUT_1000_MS} ms (names only), ratio ${(QUEST_PY_FANOUT_1000_MS / fanOutMs).toFixed(1)}×`);
    console.log(`  memory per idle stream, server and client ends together: ${formatBytes(perStream)} (heap + external)   quest.py: ${formatBytes(QUEST_PY_STREAM_BYTES)} (server end)`);
  } finally {
    await Promise.all(streams.map((stream) => stream.return()));
    await server.close();
    await manager.close();
  }
}

const directory = scratchDirectory('quest-bench-network-');
try {
  console.log(`Quest network bench${quick ? ' (--quick)' : ''}: server and clients in one process on 127.0.0.1 (load average ${loadavg()[0]?.toFixed(1)})`);
  await actTable('in-memory store', new MemoryStore());
  await actTable('SQLite', await SqliteStore.open(join(directory, 'bench.sqlite')));
  await fanOut();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
