/**
 * Where the time of the slow puts to cold workflows goes (issue 10): bench/scale.ts's sections 1 and 2 (with
 * eviction only), each put timed and set against what overlapped it: the store's group commits (and whether a
 * WAL checkpoint ran in one), history reads, GC pauses.
 *
 *   node --expose-gc --import tsx bench/cold-put-profile.ts --workflows=100000 [--dir=PATH] [--puts=10000]
 */
import { openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { WorkflowManager } from '../src/index.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { formatInt, machineLoad, now, numberOption, scratchDirectory } from './harness.js';
import { queueWaiter } from './workloads.js';

const WAITING = numberOption('workflows', 100_000);
const PUTS = numberOption('puts', 10_000);
const MAX_RESIDENT = numberOption('max-resident', 10_000);
const directory = scratchDirectory('quest-cold-put-');

const workflows = {
  waiter: queueWaiter,
};

/** checkpoint-flush: a commit in which SQLite's automatic checkpoint ran (in the store's connection). */
type Kind = 'flush' | 'checkpoint-flush' | 'read' | 'gc';
interface Span { kind: Kind; start: number; end: number; detail?: number }
const spans: Span[] = [];
let recording = false;

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const gcObserver = new PerformanceObserver((list) => {
  if (!recording) return;
  for (const entry of list.getEntries()) spans.push({ kind: 'gc', start: entry.startTime, end: entry.startTime + entry.duration, detail: ((entry as { detail?: { kind?: number } }).detail)?.kind ?? 0 });
});

/**
 * The WAL's frame count (mxFrame, in the header of the WAL index, the -shm file): SQLite's automatic checkpoint
 * runs in the commit that leaves it at 1000 or more (https://www.sqlite.org/walformat.html).
 */
function walFrames(path: string): () => number {
  const buffer = Buffer.alloc(4);
  let fd: number | undefined;
  return () => {
    fd ??= openSync(`${path}-shm`, 'r');
    readSync(fd, buffer, 0, 4, 16);
    return buffer.readUInt32LE(0);
  };
}

function instrument(store: SqliteStore, path: string): { checkpoints: () => number } {
  const inner = store as unknown as { writes: { flush: () => void; queue: unknown[] }; loadRecords: (id: string) => Promise<unknown> };
  const writes = inner.writes;
  const flush = writes.flush.bind(writes);
  const frames = walFrames(path);
  let checkpoints = 0;
  writes.flush = () => {
    if (!recording || writes.queue.length === 0) return flush();
    const size = writes.queue.length;
    const start = now();
    flush();
    const end = now();
    const moved = frames() >= 1000;
    if (moved) checkpoints++;
    spans.push({ kind: moved ? 'checkpoint-flush' : 'flush', start, end, detail: size });
  };
  const load = inner.loadRecords.bind(store);
  inner.loadRecords = (id: string) => {
    if (!recording) return load(id);
    const start = now();
    const result = load(id);
    spans.push({ kind: 'read', start, end: now() });
    return result;
  };
  return { checkpoints: () => checkpoints };
}

async function main(): Promise<void> {
  gcObserver.observe({ entryTypes: ['gc'] });
  console.log(`cold-put profile: ${formatInt(WAITING)} waiting, maxResident ${formatInt(MAX_RESIDENT)}, ${formatInt(PUTS)} puts; ${machineLoad()}`);
  const path = join(directory, 'waiting.sqlite');
  const store = new SqliteStore(path);
  const manager = await WorkflowManager.open({ store, workflows, maxResident: MAX_RESIDENT });
  const t0 = now();
  const ids: string[] = [];
  for (let from = 0; from < WAITING; from += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, WAITING - from) }, (_, i) => `waiter-${from + i}`);
    await Promise.all(chunk.map((id) => manager.start('waiter', id)));
    await Promise.all(chunk.map((id) => manager.waitForResource(id, 'q', null)));
    ids.push(...chunk);
  }
  while ((await manager.list()).filter((info) => info.resident === false).length < WAITING - MAX_RESIDENT) await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(`started in ${((now() - t0) / 1000).toFixed(1)} s; db ${formatInt(statSync(path).size / 1e6)} MB, wal ${formatInt(statSync(`${path}-wal`).size / 1e6)} MB; ${machineLoad()}`);
  const probe = instrument(store, path);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  recording = true;
  const puts: { start: number; end: number }[] = [];
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  for (let i = 0; i < PUTS; i++) {
    const id = ids[Math.floor(random() * ids.length)] as string;
    const start = now();
    await manager.queue<number>(id, 'q', null).put(1);
    puts.push({ start, end: now() });
  }
  recording = false;
  loop.disable();
  const latencies = puts.map((p) => p.end - p.start).sort((a, b) => a - b);
  console.log(`puts: p50 ${pct(latencies, 50).toFixed(2)} p90 ${pct(latencies, 90).toFixed(2)} p99 ${pct(latencies, 99).toFixed(2)} p99.9 ${pct(latencies, 99.9).toFixed(2)} max ${latencies.at(-1)?.toFixed(2)} ms; ${machineLoad()}`);
  console.log(`event-loop delay: p50 ${(loop.percentile(50) / 1e6).toFixed(2)} p99 ${(loop.percentile(99) / 1e6).toFixed(2)} max ${(loop.max / 1e6).toFixed(2)} ms`);
  report(puts);
  const background = (store as unknown as { checkpoints?: { checkpoints: number } }).checkpoints?.checkpoints;
  console.log(`checkpoints in commits during the puts: ${probe.checkpoints()}; background checkpoints since the start: ${background ?? 'n/a'}; wal ${formatInt(statSync(`${path}-wal`).size / 1e6)} MB`);
  await manager.close();
  rmSync(directory, { recursive: true, force: true });
}

function report(puts: readonly { start: number; end: number }[]): void {
  const kinds: Kind[] = ['flush', 'checkpoint-flush', 'read', 'gc'];
  const byKind = new Map<Kind, Span[]>(kinds.map((kind) => [kind, spans.filter((span) => span.kind === kind).sort((a, b) => a.start - b.start)]));
  for (const gcKind of [1, 2, 4, 8, 16]) {
    const durations = spans.filter((span) => span.kind === 'gc' && span.detail === gcKind).map((s) => s.end - s.start).sort((a, b) => a - b);
    const name = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-callbacks', 16: 'minor-mark' }[gcKind];
    if (durations.length > 0) console.log(`  gc ${name}: n=${durations.length} p50 ${pct(durations, 50).toFixed(2)} max ${durations.at(-1)?.toFixed(2)} ms`);
  }
  for (const kind of kinds) {
    const durations = (byKind.get(kind) ?? []).map((s) => s.end - s.start).sort((a, b) => a - b);
    if (durations.length > 0) console.log(`  ${kind.padEnd(16)} n=${String(durations.length).padStart(6)} p50 ${pct(durations, 50).toFixed(2)} p99 ${pct(durations, 99).toFixed(2)} max ${durations.at(-1)?.toFixed(2)} ms total ${(durations.reduce((a, b) => a + b, 0) / 1000).toFixed(2)} s`);
  }
  const overlap = (put: { start: number; end: number }, kind: Kind): number => {
    let sum = 0;
    for (const span of byKind.get(kind) ?? []) {
      if (span.end <= put.start) continue;
      if (span.start >= put.end) break;
      sum += Math.min(span.end, put.end) - Math.max(span.start, put.start);
    }
    return sum;
  };
  const sorted = [...puts].sort((a, b) => b.end - b.start - (a.end - a.start));
  for (const [label, group] of [['slowest 1 %', sorted.slice(0, Math.ceil(puts.length / 100))], ['the rest', sorted.slice(Math.ceil(puts.length / 100))]] as const) {
    const total = group.reduce((sum, put) => sum + put.end - put.start, 0);
    const parts = kinds.map((kind) => [kind, group.reduce((sum, put) => sum + overlap(put, kind), 0)] as const);
    const accounted = parts.reduce((sum, [, ms]) => sum + ms, 0);
    console.log(`  ${label} (${group.length} puts, mean ${(total / group.length).toFixed(2)} ms): ${parts.map(([kind, ms]) => `${kind} ${(ms / group.length).toFixed(2)}`).join(', ')}, other ${((total - accounted) / group.length).toFixed(2)} ms per put`);
  }
  console.log('  the 10 slowest puts (ms: total = flush + checkpoint-flush + read + gc + other):');
  for (const put of sorted.slice(0, 10)) {
    const parts = kinds.map((kind) => overlap(put, kind));
    const total = put.end - put.start;
    console.log(`    ${total.toFixed(2)} = ${parts.map((ms) => ms.toFixed(2)).join(' + ')} + ${(total - parts.reduce((a, b) => a + b, 0)).toFixed(2)}`);
  }
}

await main();
