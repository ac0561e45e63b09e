/**
 * Quest at scale: many live workflows on one machine (issue 10).
 *
 *   npm run bench:scale                     100,000 waiting workflows (and the extrapolation to a million)
 *   npm run bench:scale -- --million        the full 1,000,000 (long, and needs the memory: see the figures)
 *   npm run bench:scale -- --workflows=N    N waiting workflows
 *   npm run bench:scale -- --quick          10,000 waiting workflows, no 100,000-workflow manager rates
 *   npm run bench:scale -- --rates          section 3 only (the manager rates at 1,000 and 100,000), median of 5 / 3 runs
 *   ... --dir=PATH                          put the databases and file stores under PATH, to measure that disk
 *   ... --waiting-only                      sections 1 and 2 only (the waiting workflows and the puts to them)
 *   ... --max-resident=N                    the eviction budget of section 1 (default 10,000; 1,000 with --quick)
 *   ... --launch-window=N                   ManagerOptions.launchWindow of section 3 (default: the manager's)
 *
 * Run with `node --expose-gc` (the npm script does): memory is read after a full garbage collection. The npm
 * script builds the package and measures the compiled code (bench/compiled/register.mjs), what users install;
 * `node --expose-gc --import tsx bench/scale.ts` measures the TypeScript sources instead.
 *
 * What is measured:
 * 1. W workflows each waiting on its own queue (`await q.get()` in a loop) on SqliteStore: the time from the
 *    first start() until every one of them waits (waitForResource on each), and the process's RSS and V8 heap
 *    after a full GC, against the RSS before the manager opened; per workflow, and extrapolated to 1,000,000
 *    when W is smaller (linear: printed as an extrapolation, not a measurement);
 *    Measured twice in the same run: with eviction (ManagerOptions.maxResident, default 10,000: the idle
 *    workflows beyond it drop their run and resume by replay when needed), then without (maxResident and
 *    maxResidentBytes: Infinity);
 * 2. then 10,000 puts, one at a time, each to a workflow picked at random: latency from the call until the put
 *    is applied and durable (the put resolves), p50 / p99 / max; with eviction, separately for the puts to a
 *    cold workflow (evicted when the puts began, first put to it: it resumes by replay before the put applies);
 * 3. one-step workflows through the manager (`async (i) => await one(i)`), all started at once, until every
 *    result: memory and SQLite, at 1,000 and 100,000 workflows (like bench/manager.ts table 1), each with its
 *    runs and a CPU probe (harness.ts cpuProbeMs: fixed native work, slower when the shared machine is);
 * 4. FileStore: 10,000 workflows of two steps started at once, until every result, with the process's open-file
 *    limit (`ulimit -n`) printed alongside (the store keeps its open files bounded, whatever the limit).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowManager, step } from '../src/index.js';
import { FileStore } from '../src/storage/files.js';
import { MemoryStore } from '../src/storage/memory.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { Store } from '../src/storage/store.js';
import { QUEST_PY_MANAGER_WORKFLOWS_PER_S } from './anchors.js';
import { queueWaiter } from './workloads.js';
import { cpuProbeMs, formatBytes, formatDuration, formatInt, formatRate, gcAvailable, machineLoad, measuredCode, now, numberOption, scratchDirectory, settledRss } from './harness.js';

const quick = process.argv.includes('--quick');
const ratesOnly = process.argv.includes('--rates');
const million = process.argv.includes('--million');
const waitingOnly = process.argv.includes('--waiting-only');
const WAITING = numberOption('workflows', million ? 1_000_000 : quick ? 10_000 : 100_000);
const EVENTS = 10_000;
const MAX_RESIDENT = numberOption('max-resident', quick ? 1_000 : 10_000);
const LAUNCH_WINDOW = process.argv.some((arg) => arg.startsWith('--launch-window=')) ? numberOption('launch-window', 0) : undefined;
/** Beyond this many waiting workflows, the run without eviction is skipped (it would not fit in memory). */
const NO_EVICTION_LIMIT = 200_000;
const FILE_WORKFLOWS = quick ? 2_000 : 10_000;
const directory = scratchDirectory('quest-bench-scale-');

const one = step('one', async (i: number) => i + 1);
const plus = step('plus', async (i: number) => i + 1);

const workflows = {
  /** Waits on its own queue for numbers until it gets 0. */
  waiter: queueWaiter,
  single: (i: number): Promise<number> => one(i),
  twoSteps: async (i: number): Promise<number> => (await plus(i)) + (await plus(i)),
};

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Start `count` workflows, at most `batch` start() calls outstanding at a time (the caller's own pacing). */
async function startAll(manager: WorkflowManager<typeof workflows>, count: number, batch: number): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < count; from += batch) {
    const chunk = Array.from({ length: Math.min(batch, count - from) }, (_, i) => `waiter-${from + i}`);
    await Promise.all(chunk.map((id) => manager.start('waiter', id)));
    await Promise.all(chunk.map((id) => manager.waitForResource(id, 'q', null)));
    ids.push(...chunk);
    if ((from / batch) % 20 === 0) progress(`  ${formatInt(from + chunk.length)} waiting`);
  }
  return ids;
}

/** The ids list() shows evicted now (running, not resident). */
async function evictedIds(manager: WorkflowManager<typeof workflows>): Promise<Set<string>> {
  return new Set((await manager.list()).filter((info) => info.resident === false).map((info) => info.id));
}

async function waitingWorkflows(maxResident: number): Promise<void> {
  const evicting = maxResident < WAITING;
  const mode = maxResident === Infinity ? 'no eviction (maxResident, maxResidentBytes: Infinity)' : `eviction on, maxResident ${formatInt(maxResident)}`;
  say(`\n1. ${formatInt(WAITING)} workflows each waiting on its own queue, SqliteStore (synchronous FULL); ${mode}`);
  const before = await settledRss();
  const heapBefore = process.memoryUsage().heapUsed;
  const store = new SqliteStore(join(directory, `waiting-${String(maxResident)}.sqlite`));
  // No eviction at all: no memory budget either (maxResidentBytes, default 256 MiB, would bind past ~16,000 runs).
  const manager = await WorkflowManager.open({ store, workflows, maxResident, ...(maxResident === Infinity ? { maxResidentBytes: Infinity } : {}) });
  const start = now();
  const ids = await startAll(manager, WAITING, 10_000);
  // Evictions run at the end of event-loop turns: wait until the budget holds (a bench may poll).
  let cold = new Set<string>();
  if (evicting) {
    // list() reads every entry of the store: at a million, poll it seldom.
    while ((cold = await evictedIds(manager)).size < WAITING - maxResident) await new Promise((resolve) => setTimeout(resolve, WAITING > 100_000 ? 1000 : 50));
  }
  const startMs = now() - start;
  const after = await settledRss();
  const heap = process.memoryUsage().heapUsed;
  const perWorkflow = (after - before) / WAITING;
  say(`   started and all waiting${evicting ? ` (${formatInt(cold.size)} evicted)` : ''} in ${formatDuration(startMs)} (${formatRate((WAITING * 1000) / startMs)} workflows/s); ${machineLoad()}`);
  say(`   RSS after GC ${formatBytes(after)} (${formatBytes(before)} before the manager opened): ${formatBytes(perWorkflow)} per waiting workflow; V8 heap ${formatBytes(heap)} (${formatBytes((heap - heapBefore) / WAITING)} per waiting workflow)`);
  if (WAITING < 1_000_000) {
    const factor = 1_000_000 / WAITING;
    say(`   EXTRAPOLATED to 1,000,000 (×${factor.toFixed(0)}, linear; not measured): RSS ≈ ${formatBytes(before + perWorkflow * 1_000_000)}, start ≈ ${formatDuration(startMs * factor)} (target RSS < 2 GB). Measure it with --million.`);
  }

  say(`\n2. ${formatInt(EVENTS)} puts, one at a time, each to a random one of the ${formatInt(WAITING)} (${mode})`);
  const latencies: number[] = [];
  const coldLatencies: number[] = [];
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const eventsStart = now();
  for (let i = 0; i < EVENTS; i++) {
    const id = ids[Math.floor(random() * ids.length)] as string;
    const t = now();
    await manager.queue<number>(id, 'q', null).put(1);
    latencies.push(now() - t);
    // Cold for sure: evicted when the puts began and not put to since (later evictions count as warm).
    if (cold.delete(id)) coldLatencies.push(now() - t);
  }
  const eventsMs = now() - eventsStart;
  latencies.sort((a, b) => a - b);
  say(`   until applied (put resolved, durable): p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${(latencies.at(-1) ?? 0).toFixed(2)} ms; ${formatRate((EVENTS * 1000) / eventsMs)} puts/s one at a time (target p99 < 10 ms); ${machineLoad()}`);
  if (coldLatencies.length > 0) {
    coldLatencies.sort((a, b) => a - b);
    say(`   of which ${formatInt(coldLatencies.length)} to a cold (evicted) workflow: p50 ${percentile(coldLatencies, 50).toFixed(2)} ms, p99 ${percentile(coldLatencies, 99).toFixed(2)} ms, max ${(coldLatencies.at(-1) ?? 0).toFixed(2)} ms`);
  }

  const closeStart = now();
  await manager.close();
  say(`   close (suspends all ${formatInt(WAITING)}): ${formatDuration(now() - closeStart)}`);
}

let databases = 0;

async function oneStepRate(kind: 'memory' | 'sqlite', count: number): Promise<number> {
  const store: Store = kind === 'memory' ? new MemoryStore() : new SqliteStore(join(directory, `one-step-${count}-${++databases}.sqlite`));
  const manager = await WorkflowManager.open({ store, workflows, ...(LAUNCH_WINDOW === undefined ? {} : { launchWindow: LAUNCH_WINDOW }) });
  const start = now();
  const handles = await Promise.all(Array.from({ length: count }, (_, i) => manager.start('single', `w${i}`, i)));
  const results = await Promise.all(handles.map((handle) => handle.result()));
  const ms = now() - start;
  await manager.close();
  for (const [i, result] of results.entries()) if (result !== i + 1) throw new Error(`workflow w${i} returned ${result}`);
  return (count * 1000) / ms;
}

/**
 * Runs of 1,000 workflows per store before measuring: V8 optimizes the hot path only after some thousands of
 * calls, and a run of 1,000 lasts tens of milliseconds, so without this the figure at 1,000 is the start-up
 * of the process (interpreted code), not a manager that has been serving for a while.
 */
const WARM_UP_RUNS = 20;

async function managerRates(): Promise<void> {
  const runs = ratesOnly ? 5 : 1;
  const median = quick ? 'median of 5 runs' : 'median of 5 runs at 1,000, of 3 at 100,000';
  say(`\n3. One-step workflows through the manager, all started at once, until every result (${runs === 1 ? 'one run each' : median}, after ${WARM_UP_RUNS} runs of 1,000 on each store to warm up)`);
  for (const kind of ['memory', 'sqlite'] as const) for (let run = 0; run < WARM_UP_RUNS; run++) await oneStepRate(kind, 1_000);
  for (const count of quick ? [1_000] : [1_000, 100_000]) {
    for (const kind of ['memory', 'sqlite'] as const) {
      const rates: number[] = [];
      const probe = cpuProbeMs();
      // Five runs of 1,000 (a run is short: the median steadies it); three of 100,000.
      for (let run = 0; run < (count > 1_000 ? Math.min(runs, 3) : runs); run++) rates.push(await oneStepRate(kind, count));
      const rate = rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
      const peer = kind === 'memory' ? QUEST_PY_MANAGER_WORKFLOWS_PER_S[count] : undefined;
      const target = kind === 'memory' ? 30_000 : 15_000;
      say(`   ${kind.padEnd(6)} ${formatInt(count).padStart(7)}: ${formatRate(rate).padStart(7)} workflows/s (target ≥ ${formatInt(target)}${peer === undefined ? '' : `; quest.py ${formatInt(peer)}`}); runs ${rates.map((r) => formatRate(r)).join(' / ')}; CPU probe ${probe.toFixed(0)} ms; ${machineLoad()}`);
    }
  }
}

function openFileLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((text) => text.startsWith('Max open files'));
    return line?.split(/\s+/)[3] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function fileStore(): Promise<void> {
  say(`\n4. FileStore: ${formatInt(FILE_WORKFLOWS)} workflows of two steps started at once, until every result (open-file limit ${openFileLimit()})`);
  const store = await FileStore.open(join(directory, 'files'));
  const manager = await WorkflowManager.open({ store, workflows });
  const start = now();
  const ids = Array.from({ length: FILE_WORKFLOWS }, (_, i) => `f${i}`);
  await Promise.all(ids.map((id, i) => manager.start('twoSteps', id, i)));
  const results = await Promise.all(ids.map((id) => manager.getResult<number>(id)));
  const ms = now() - start;
  await manager.close();
  for (const [i, result] of results.entries()) if (result !== 2 * i + 2) throw new Error(`workflow f${i} returned ${result}`);
  say(`   ${formatDuration(ms)}: ${formatRate((FILE_WORKFLOWS * 1000) / ms)} workflows/s, no EMFILE; ${machineLoad()}`);
}

async function main(): Promise<void> {
  if (gcAvailable() === null) throw new Error('Run with node --expose-gc (npm run bench:scale does).');
  say(`Quest for TypeScript at scale — node ${process.version}, ${process.platform}-${process.arch}; measuring ${measuredCode()}; files in ${directory} (removed at the end)`);
  say(`At the start: ${machineLoad()}`);
  try {
    if (!ratesOnly) {
      await waitingWorkflows(MAX_RESIDENT);
      if (WAITING <= NO_EVICTION_LIMIT) await waitingWorkflows(Infinity);
      else say(`\n   (not run without eviction: ${formatInt(WAITING)} resident runs would need about ${formatBytes(WAITING * 19_000)} of memory)`);
    }
    if (!waitingOnly) {
      await managerRates();
      if (!ratesOnly) await fileStore();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  say(`\nAt the end: ${machineLoad()}`);
}

await main();
