/**
 * Shared helpers for Quest benchmarks (memory, SQLite, manager, ...): timing, medians, waiting for conditions
 * without sleeping, forced garbage collection, number formatting, table printing and `--json` output.
 *
 * Conventions:
 * - every timed figure is the median of several runs after a warm-up run (see {@link measure});
 * - a comparison with quest.py is printed as "× better": how many times better Quest for TypeScript is
 *   (higher rate, shorter time or fewer records); above 1 means ahead.
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// ---------------------------------------------------------------------------------------------------------------
// Time and statistics

/** Milliseconds, high resolution. */
export function now(): number {
  return performance.now();
}

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Timings of one measured figure: every run in ms, and their median. */
export interface Timing {
  readonly runs: number[];
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface MeasureOptions {
  /** Measured runs (the median is reported). Default 5. */
  runs?: number;
  /** Unmeasured runs first (JIT warm-up). Default 1. */
  warmup?: number;
  /** Collect garbage before each run so that one run's garbage is not charged to the next. Default true. */
  gcBetween?: boolean;
}

/**
 * Run `once` `warmup + runs` times and return the timings of the measured runs. `once` returns the duration it
 * measured itself (ms), so that set-up and tear-down stay outside the figure.
 */
export async function measure(once: () => Promise<number>, options: MeasureOptions = {}): Promise<Timing> {
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 1;
  const gcBetween = options.gcBetween ?? true;
  for (let i = 0; i < warmup; i++) {
    if (gcBetween) forceGc();
    await once();
  }
  const durations: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (gcBetween) forceGc();
    durations.push(await once());
  }
  return { runs: durations, medianMs: median(durations), minMs: Math.min(...durations), maxMs: Math.max(...durations) };
}

// ---------------------------------------------------------------------------------------------------------------
// Waiting without sleeping

/** A promise with its resolve function. */
export interface Signal<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function signal<T = void>(): Signal<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

/** Counts the items a benchmark workflow consumed (replayed ones included); `reached(n)` resolves at n. */
export class ConsumptionCounter {
  consumed = 0;
  private target = Number.POSITIVE_INFINITY;
  private reachedSignal: Signal = signal();

  /** Count one consumed item. */
  protected tick(): void {
    if (++this.consumed === this.target) this.reachedSignal.resolve();
  }

  /** Resolves once `target` items have been consumed in all. */
  reached(target: number): Promise<void> {
    this.target = target;
    this.reachedSignal = signal();
    if (this.consumed >= target) this.reachedSignal.resolve();
    return this.reachedSignal.promise;
  }
}

/**
 * Resolve once `condition()` is true, checking after each turn of the event loop (never a timer); throw after
 * `turns` turns (the bound detects a hang, a turn is cheap).
 */
export async function until(condition: () => boolean | Promise<boolean>, turns = 1_000_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await condition()) return;
    await nextTurn();
  }
  throw new Error('until(): the condition never became true');
}

// ---------------------------------------------------------------------------------------------------------------
// Memory

type GcFunction = () => void;

let gcFunction: GcFunction | null | undefined;

/**
 * The garbage collector: `globalThis.gc` when node runs with --expose-gc, else obtained at run time through the
 * V8 flag (works on Node 20); null when neither works.
 */
export function gcAvailable(): GcFunction | null {
  if (gcFunction !== undefined) return gcFunction;
  const exposed = (globalThis as { gc?: GcFunction }).gc;
  if (typeof exposed === 'function') {
    gcFunction = exposed;
    return gcFunction;
  }
  try {
    setFlagsFromString('--expose-gc');
    const fromContext: unknown = runInNewContext('gc');
    gcFunction = typeof fromContext === 'function' ? (fromContext as GcFunction) : null;
  } catch {
    gcFunction = null;
  }
  return gcFunction;
}

/** Collect garbage (twice, so that finalizers' garbage goes too) when possible; false when not. */
export function forceGc(): boolean {
  const gc = gcAvailable();
  if (gc === null) return false;
  gc();
  gc();
  return true;
}

/**
 * The process's RSS once garbage is collected and the freed memory has gone back to the system: V8 hands the
 * pages a collection freed back from a background thread, after gc() returns, so RSS read at once still
 * counts them (by hundreds of megabytes after a peak). Collects, waits half a second, and repeats until RSS
 * no longer falls (at most 20 rounds). Needs --expose-gc.
 */
export async function settledRss(): Promise<number> {
  let rss = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 20; round++) {
    forceGc();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = process.memoryUsage().rss;
    if (now >= rss * 0.99) return Math.min(rss, now);
    rss = now;
  }
  return rss;
}

/** Heap used after a forced collection, in bytes; undefined when garbage collection cannot be forced. */
export function heapUsedAfterGc(): number | undefined {
  return forceGc() ? process.memoryUsage().heapUsed : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

/** 12,345 */
export function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A rate with about three significant digits: 1,234,000 / 12,300 / 123 / 1.23 */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1000) return formatInt(Number(perSecond.toPrecision(3)));
  return Number(perSecond.toPrecision(3)).toString();
}

/** A duration given in ms, in a readable unit: 850 ns, 12.3 µs, 4.56 ms, 1.23 s */
export function formatDuration(ms: number): string {
  if (ms < 0.001) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (ms < 1) return `${(ms * 1000).toPrecision(3)} µs`;
  if (ms < 1000) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1000).toPrecision(3)} s`;
}

/** Bytes in MiB, KiB or B. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** "35.2×" (how many times better); "—" without a comparison figure. */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  if (ratio >= 100) return `${formatInt(ratio)}×`;
  if (ratio >= 10) return `${ratio.toFixed(0)}×`;
  return `${ratio.toFixed(2)}×`;
}

/** How many times better a higher-is-better figure is than the reference. */
export function higherIsBetter(ours: number, reference: number | undefined): number | undefined {
  return reference === undefined || reference === 0 ? undefined : ours / reference;
}

/** How many times better a lower-is-better figure (a time, a count) is than the reference. */
export function lowerIsBetter(ours: number, reference: number | undefined): number | undefined {
  return reference === undefined || ours === 0 ? undefined : reference / ours;
}

// ---------------------------------------------------------------------------------------------------------------
// Tables and JSON

export type Cell = string | number;
export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  readonly align?: Align;
}

/** A plain-text table: a title, a header row, aligned columns. */
export function renderTable(title: string, columns: readonly Column[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => columns.map((_, i) => String(row[i] ?? '')));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...text.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] as number;
        return (columns[i]?.align ?? 'right') === 'left' ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd();
  const out = [title, line(columns.map((column) => column.header)), widths.map((width) => '-'.repeat(width)).join('  ')];
  for (const row of text) out.push(line(row));
  return out.join('\n');
}

/** Results of one benchmark script, printed as JSON with `--json`. */
export class Report {
  private readonly sections: Record<string, unknown[]> = {};
  readonly json: boolean;

  constructor(readonly name: string, argv: readonly string[] = process.argv.slice(2)) {
    this.json = argv.includes('--json');
  }

  /** Record a result row under `section` (kept for `--json`). */
  add(section: string, row: Record<string, unknown>): void {
    (this.sections[section] ??= []).push(row);
  }

  /** Print human output (suppressed with `--json`, where only the JSON document goes to stdout). */
  print(text: string): void {
    if (!this.json) console.log(text);
  }

  /** Progress notes go to stderr so that `--json` output stays parseable. */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /** Print the JSON document (with `--json`). */
  finish(extra: Record<string, unknown> = {}): void {
    if (!this.json) return;
    console.log(JSON.stringify({ benchmark: this.name, ...environment(), ...extra, results: this.sections }, null, 2));
  }
}

/** Where the figures were taken. */
export function environment(): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    gcForced: gcAvailable() !== null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Command-line options, scratch directories and the disk's own limit (used by the SQLite and manager benchmarks)

/** The value of `--name=value` on the command line, or undefined. */
export function stringOption(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  const prefix = `--${name}=`;
  const found = argv.find((arg) => arg.startsWith(prefix));
  return found === undefined ? undefined : found.slice(prefix.length);
}

/** The number given as `--name=value`, or `fallback`; throws on a value that is not a number. */
export function numberOption(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const text = stringOption(name, argv);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new RangeError(`--${name} must be a number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * A fresh scratch directory for databases and test files: under `--dir=PATH` when given (to measure another
 * disk), else under the system's temporary directory. Remove it with `rmSync(dir, { recursive: true })`.
 */
export function scratchDirectory(prefix: string): string {
  const parent = stringOption('dir') ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, prefix));
}

/**
 * The physical limit of one-at-a-time durable writes on the disk holding `directory`: append `bytes` bytes to
 * a new file there and `fdatasync` it, `count` times in a row. Returns the elapsed ms (the file is removed).
 */
export function fdatasyncAppendMs(directory: string, count: number, bytes = 100): number {
  const path = join(directory, `fdatasync-probe-${process.pid}`);
  const fd = openSync(path, 'a');
  const buffer = Buffer.alloc(bytes, 0x71);
  try {
    const start = now();
    for (let i = 0; i < count; i++) {
      writeSync(fd, buffer);
      fdatasyncSync(fd);
    }
    return now() - start;
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/**
 * The same, overwriting a file written and synced beforehand (`bytes` at offset i × `bytes` each time): what a
 * database log that is reused in place (SQLite's WAL after a checkpoint) costs, with no file-size change for
 * the file system to journal. Returns the elapsed ms (the file is removed).
 */
export function fdatasyncOverwriteMs(directory: string, count: number, bytes = 100): number {
  const path = join(directory, `fdatasync-probe-${process.pid}`);
  const fd = openSync(path, 'w+');
  const buffer = Buffer.alloc(bytes, 0x71);
  try {
    writeSync(fd, Buffer.alloc(count * bytes));
    fsyncSync(fd);
    const start = now();
    for (let i = 0; i < count; i++) {
      writeSync(fd, buffer, 0, bytes, i * bytes);
      fdatasyncSync(fd);
    }
    return now() - start;
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/** Size of a file in bytes, 0 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** "87 %" */
export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)} %`;
}

/** "load average 1.23 / 0.98 / 0.75 (1 / 5 / 15 min) on 2 CPUs": how busy the machine was (shared machines are noisy). */
export function machineLoad(): string {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return `load average ${one.toFixed(2)} / ${five.toFixed(2)} / ${fifteen.toFixed(2)} (1 / 5 / 15 min) on ${availableParallelism()} CPUs`;
}

/**
 * How fast this CPU runs right now: the milliseconds to hash 32 MiB with SHA-256, the best of three. Native
 * code, so that the figure moves with the machine only: a loop of JavaScript, used before, took 140 ms on its
 * first two calls and 213 ms on every later one in the same process (V8 compiles it differently once it is hot),
 * which read as the machine slowing down when it was not.
 */
export function cpuProbeMs(): number {
  const data = Buffer.alloc(32 * 1024 * 1024, 7);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    createHash('sha256').update(data).digest();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * Which Quest a benchmark runs: the compiled package when it was started with bench/compiled/register.mjs (the
 * npm scripts that say so), else the TypeScript sources loaded through tsx, which cost more per call than what
 * users run (see that file).
 */
export function measuredCode(): string {
  return import.meta.resolve('../src/index.js').endsWith('/dist/index.js')
    ? 'the compiled package (dist/)'
    : 'the TypeScript sources through tsx (slower than the compiled package: see bench/compiled/register.mjs)';
}
