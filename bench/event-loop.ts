/**
 * Event loops with loop(): outside events consumed inside `loop()`, whose history stays bounded, compared with
 * the same workflow reading its queue at the top level (history grows by 2 records per event) and with quest.py.
 *
 *   npx tsx bench/event-loop.ts            tables on stdout (progress on stderr); about 2 minutes
 *   npx tsx bench/event-loop.ts --json     one JSON document on stdout instead
 *   npx tsx bench/event-loop.ts --quick    1 run per figure, K up to 10,000 (a smoke test, a few seconds)
 *
 * The workflow sums the numbers put into a public queue (MemoryHistory). How outside events are fed:
 * - "acks": each `act('events', null, 'put', n)` awaited in turn, the consumer running behind (how quest.py's
 *   figure and bench/memory.ts's table 3 feed); the time runs until the workflow has consumed all K. The
 *   producer does not wait for the consumer, so events queue up: the history holds them until consumed.
 * - "lockstep": put one event, wait until its iteration's checkpoint is durable, put the next (at most one
 *   event pending: the history never exceeds 4 records on MemoryHistory);
 * - "batch 100": put 100 events at once, wait for the checkpoint of the last, repeat (at most 4 + 100 records).
 *
 * Replay after suspend: the workflow is suspended once all K are consumed; a new Historian over (a copy of) the
 * history is started; "live" is the time from `run()` until `waitForResource('events')` resolves (resource
 * streams publish once replay has caught up); "+1 event" until one more outside event has been consumed
 * (its checkpoint durable, or, at the top level, the workflow has counted it).
 *
 * Time figures: median of 5 runs (3 at 100,000, 1 at 1,000,000) after a JIT warm-up.
 */
import { Historian, MemoryHistory, done, isSuspension, loop, queue } from '../src/index.js';
import type { HistoryChange, HistoryRecord } from '../src/index.js';
import { QUEST_PY_EVENTS_PER_S, QUEST_PY_RECORDS_AFTER_EVENTS, QUEST_PY_REPLAY_S } from './anchors.js';
import {
  ConsumptionCounter,
  Report,
  forceGc,
  formatDuration,
  formatInt,
  formatRate,
  formatRatio,
  higherIsBetter,
  lowerIsBetter,
  median,
  now,
  renderTable,
  signal,
  type Cell,
  type Column,
  type Signal,
} from './harness.js';

const report = new Report('event-loop');
const quick = process.argv.includes('--quick');

// -------------------------------------------------------------------------------------------------------------
// A history that tells when a checkpoint is durable and remembers its largest size

class WatchedHistory extends MemoryHistory {
  maxSize = 0;
  checkpoint = 0;
  private target = Number.POSITIVE_INFINITY;
  private reached: Signal | undefined;

  override commit(change: HistoryChange): void {
    super.commit(change);
    if (this.size > this.maxSize) this.maxSize = this.size;
    for (const record of change.append) if (record.type === 'checkpoint') this.checkpoint = record.iteration;
    if (this.checkpoint >= this.target && this.reached !== undefined) {
      const reached = this.reached;
      this.reached = undefined;
      reached.resolve();
    }
  }

  /** Resolves once the checkpoint of iteration `iteration` is durable (iteration n consumes event n). */
  checkpointed(iteration: number): Promise<void> {
    if (this.checkpoint >= iteration) return Promise.resolve();
    this.target = iteration;
    this.reached = signal();
    return this.reached.promise;
  }

  static of(records: readonly HistoryRecord[]): WatchedHistory {
    const history = new WatchedHistory();
    history.commit({ append: structuredClone(records) as HistoryRecord[], remove: [] });
    history.maxSize = history.size;
    return history;
  }
}

// -------------------------------------------------------------------------------------------------------------
// Workflows

interface Totals {
  count: number;
  sum: number;
}

/** The numbers put into 'events', summed inside loop(); a negative number ends it. */
async function inLoop(): Promise<Totals> {
  await using events = await queue<number>('events', null);
  return await loop('events', { count: 0, sum: 0 }, async (totals: Totals) => {
    const n = await events.get();
    if (n < 0) return done(totals);
    return { count: totals.count + 1, sum: totals.sum + n };
  });
}

/** The same at the top level; counts what it consumed (replayed gets included) and signals at a target. */
class TopLevel extends ConsumptionCounter {
  sum = 0;

  readonly workflow = async (): Promise<Totals> => {
    await using events = await queue<number>('events', null);
    for (;;) {
      const n = await events.get();
      if (n < 0) return { count: this.consumed, sum: this.sum };
      this.sum += n;
      this.tick();
    }
  };
}

async function suspendAndCheck(historian: Historian<never[], Totals>, running: Promise<unknown>): Promise<void> {
  await historian.suspend();
  const ended = await running;
  if (!isSuspension(ended)) throw new Error(`the workflow ended with ${String(ended)} instead of a suspension`);
}

const triangle = (n: number): number => (n * (n + 1)) / 2;

// -------------------------------------------------------------------------------------------------------------
// Feeding

type Mode = 'acks' | 'lockstep' | 'batch 100';

interface Fed {
  ms: number;
  /** Largest history size after any commit while feeding. */
  maxRecords: number;
  /** Durable records once all K are consumed (before the suspension writes what is buffered). */
  recordsAtRest: number;
  /** The history after the suspension: what a resume replays. */
  records: HistoryRecord[];
}

async function feedLoop(k: number, mode: Mode): Promise<Fed> {
  const history = new WatchedHistory();
  const historian = new Historian<never[], Totals>('loop', inLoop, history);
  const running = historian.run().catch((error: unknown) => error);
  await historian.waitForResource('events', null);
  const start = now();
  if (mode === 'acks') {
    for (let n = 1; n <= k; n++) await historian.act('events', null, 'put', n);
  } else {
    const batch = mode === 'lockstep' ? 1 : 100;
    for (let first = 1; first <= k; first += batch) {
      const last = Math.min(k, first + batch - 1);
      if (batch === 1) {
        await historian.act('events', null, 'put', first);
      } else {
        const puts: Array<Promise<unknown>> = [];
        for (let n = first; n <= last; n++) puts.push(historian.act('events', null, 'put', n));
        await Promise.all(puts);
      }
      await history.checkpointed(last);
    }
  }
  await history.checkpointed(k);
  const ms = now() - start;
  const checkpoint = history.snapshot().find((record) => record.type === 'checkpoint');
  const state = checkpoint?.type === 'checkpoint' ? (checkpoint.result as unknown as Totals) : undefined;
  if (state?.count !== k || state.sum !== triangle(k)) throw new Error(`loop state after ${k} events: ${JSON.stringify(state)}`);
  const fed = { ms, maxRecords: history.maxSize, recordsAtRest: history.size, records: [] as HistoryRecord[] };
  await suspendAndCheck(historian, running);
  fed.records = history.snapshot();
  return fed;
}

async function feedTopLevel(k: number, mode: 'acks' | 'lockstep'): Promise<Fed> {
  const history = new WatchedHistory();
  const reader = new TopLevel();
  const historian = new Historian<never[], Totals>('top', reader.workflow, history);
  const running = historian.run().catch((error: unknown) => error);
  await historian.waitForResource('events', null);
  const start = now();
  for (let n = 1; n <= k; n++) {
    if (mode === 'lockstep') {
      const consumed = reader.reached(n);
      await historian.act('events', null, 'put', n);
      await consumed;
    } else {
      await historian.act('events', null, 'put', n);
    }
  }
  await reader.reached(k);
  const ms = now() - start;
  if (reader.sum !== triangle(k)) throw new Error(`top-level sum after ${k} events: ${reader.sum}`);
  const fed = { ms, maxRecords: history.maxSize, recordsAtRest: history.size, records: [] as HistoryRecord[] };
  await suspendAndCheck(historian, running);
  fed.records = history.snapshot();
  return fed;
}

// -------------------------------------------------------------------------------------------------------------
// Replay

interface Replayed {
  liveMs: number;
  oneMoreMs: number;
}

async function replayLoop(k: number, records: readonly HistoryRecord[]): Promise<Replayed> {
  const history = WatchedHistory.of(records);
  const historian = new Historian<never[], Totals>('loop', inLoop, history);
  const start = now();
  const running = historian.run().catch((error: unknown) => error);
  await historian.waitForResource('events', null);
  const liveMs = now() - start;
  await historian.act('events', null, 'put', k + 1);
  await history.checkpointed(k + 1);
  const oneMoreMs = now() - start;
  await suspendAndCheck(historian, running);
  return { liveMs, oneMoreMs };
}

async function replayTopLevel(k: number, records: readonly HistoryRecord[]): Promise<Replayed> {
  const history = WatchedHistory.of(records);
  const reader = new TopLevel();
  const historian = new Historian<never[], Totals>('top', reader.workflow, history);
  const all = reader.reached(k + 1);
  const start = now();
  const running = historian.run().catch((error: unknown) => error);
  await historian.waitForResource('events', null);
  const liveMs = now() - start;
  await historian.act('events', null, 'put', k + 1);
  await all;
  const oneMoreMs = now() - start;
  await suspendAndCheck(historian, running);
  if (reader.consumed !== k + 1) throw new Error(`top-level replay consumed ${reader.consumed}, expected ${k + 1}`);
  return { liveMs, oneMoreMs };
}

// -------------------------------------------------------------------------------------------------------------
// Measuring

function runsFor(k: number): number {
  if (quick) return 1;
  if (k >= 1_000_000) return 1;
  return k >= 100_000 ? 3 : 5;
}

async function repeat<T>(runs: number, once: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) {
    forceGc();
    results.push(await once());
  }
  return results;
}

function spread(values: readonly number[]): string {
  return `${formatDuration(Math.min(...values))} … ${formatDuration(Math.max(...values))}`;
}

async function warmUp(): Promise<void> {
  for (const mode of ['acks', 'lockstep', 'batch 100'] as const) {
    const fed = await feedLoop(20_000, mode);
    await replayLoop(20_000, fed.records);
  }
  for (const mode of ['acks', 'lockstep'] as const) {
    const fed = await feedTopLevel(5_000, mode);
    await replayTopLevel(5_000, fed.records);
  }
}

// -------------------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const wallStart = now();
  forceGc();
  const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000];
  const topSizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  report.note('warming up ...');
  await warmUp();

  const feedRows: Cell[][] = [];
  const replayRows: Cell[][] = [];
  const loopHistories = new Map<number, HistoryRecord[]>();

  // 1. loop(): feeding -------------------------------------------------------------------------------------------
  for (const k of sizes) {
    for (const mode of ['acks', 'lockstep', 'batch 100'] as const) {
      report.note(`loop(): K = ${formatInt(k)}, ${mode} ...`);
      const runs = await repeat(runsFor(k), () => feedLoop(k, mode));
      const ms = runs.map((run) => run.ms);
      const medianMs = median(ms);
      const perSecond = (k * 1000) / medianMs;
      const last = runs.at(-1) as Fed;
      const maxRecords = Math.max(...runs.map((run) => run.maxRecords));
      if (mode === 'lockstep') loopHistories.set(k, last.records);
      const anchor = mode === 'acks' ? QUEST_PY_EVENTS_PER_S[k] : undefined;
      feedRows.push([
        'loop()', formatInt(k), mode, runs.length, formatDuration(medianMs), spread(ms), formatRate(perSecond),
        formatInt(maxRecords), formatInt(last.recordsAtRest), formatInt(last.records.length),
        anchor === undefined ? '—' : formatRate(anchor), formatRatio(higherIsBetter(perSecond, anchor)),
      ]);
      report.add('feed', {
        pattern: 'loop', k, mode, runsMs: ms, medianMs, eventsPerS: perSecond, maxRecords, recordsAtRest: last.recordsAtRest,
        recordsAfterSuspend: last.records.length, questPyEventsPerS: anchor ?? null,
      });
    }
  }

  // 2. Top level: feeding ------------------------------------------------------------------------------------------
  const topHistories = new Map<number, HistoryRecord[]>();
  for (const k of topSizes) {
    for (const mode of ['acks', 'lockstep'] as const) {
      report.note(`top level: K = ${formatInt(k)}, ${mode} ...`);
      const runs = await repeat(runsFor(k), () => feedTopLevel(k, mode));
      const ms = runs.map((run) => run.ms);
      const medianMs = median(ms);
      const perSecond = (k * 1000) / medianMs;
      const last = runs.at(-1) as Fed;
      if (mode === 'acks') topHistories.set(k, last.records);
      const anchor = mode === 'acks' ? QUEST_PY_EVENTS_PER_S[k] : undefined;
      feedRows.push([
        'top level', formatInt(k), mode, runs.length, formatDuration(medianMs), spread(ms), formatRate(perSecond),
        formatInt(Math.max(...runs.map((run) => run.maxRecords))), formatInt(last.recordsAtRest), formatInt(last.records.length),
        anchor === undefined ? '—' : formatRate(anchor), formatRatio(higherIsBetter(perSecond, anchor)),
      ]);
      report.add('feed', {
        pattern: 'topLevel', k, mode, runsMs: ms, medianMs, eventsPerS: perSecond, recordsAfterSuspend: last.records.length,
        questPyEventsPerS: anchor ?? null,
      });
    }
  }

  // 3. Replay after suspend ----------------------------------------------------------------------------------------
  for (const [pattern, histories, replay] of [
    ['loop()', loopHistories, replayLoop],
    ['top level', topHistories, replayTopLevel],
  ] as const) {
    for (const [k, records] of histories) {
      report.note(`replay, ${pattern}: K = ${formatInt(k)} ...`);
      const runs = await repeat(k >= 100_000 && pattern === 'top level' ? (quick ? 1 : 3) : quick ? 1 : 5, () => replay(k, records));
      const live = runs.map((run) => run.liveMs);
      const oneMore = runs.map((run) => run.oneMoreMs);
      const anchorS = QUEST_PY_REPLAY_S[k];
      const anchorMs = anchorS === undefined ? undefined : anchorS * 1000;
      replayRows.push([
        pattern, formatInt(k), formatInt(records.length), runs.length, formatDuration(median(live)), spread(live), formatDuration(median(oneMore)),
        anchorMs === undefined ? '—' : formatDuration(anchorMs), formatRatio(lowerIsBetter(median(oneMore), anchorMs)),
      ]);
      report.add('replay', {
        pattern: pattern === 'loop()' ? 'loop' : 'topLevel', k, records: records.length, liveMs: live, liveMedianMs: median(live),
        plusOneEventMs: oneMore, plusOneEventMedianMs: median(oneMore), questPyS: anchorS ?? null,
      });
    }
  }

  // Output -----------------------------------------------------------------------------------------------------------
  const header = [
    `Quest for TypeScript: outside events consumed in loop() vs at the top level (MemoryHistory) — node ${process.version}, ` +
      `${process.platform}-${process.arch}${quick ? ', --quick (1 run per figure, K up to 10,000)' : ''}`,
    'Time figures: median of 5 runs (3 at 100,000, 1 at 1,000,000) after a JIT warm-up.',
    'quest.py: /work/shared/anchors/quest-py.md (top-level queue, list history; its events/s figure feeds like "acks").',
    '"× better": how many times better than quest.py (higher rate, shorter time).',
  ].join('\n');
  const feedColumns: Column[] = [
    { header: 'pattern', align: 'left' }, { header: 'K' }, { header: 'feed', align: 'left' }, { header: 'runs' }, { header: 'median' },
    { header: 'min … max' }, { header: 'events/s' }, { header: 'max records' }, { header: 'records at end' },
    { header: 'after suspend' }, { header: 'quest.py events/s' }, { header: '× better' },
  ];
  report.print(header);
  report.print('');
  report.print(renderTable('1. Outside events consumed (first put until all K consumed); history records: largest after any commit, '
    + 'durable once all are consumed, and after the suspension (what a resume replays)', feedColumns, feedRows));
  report.print('');
  report.print(renderTable('2. Replay after suspend (new run() until live: queue visible after replay; and until one more event is consumed)', [
    { header: 'pattern', align: 'left' }, { header: 'K' }, { header: 'records replayed' }, { header: 'runs' }, { header: 'live after' },
    { header: 'min … max' }, { header: '+1 event' }, { header: 'quest.py replay' }, { header: '× better' },
  ], replayRows));
  report.print('');
  const records1000 = topHistories.get(1_000)?.length;
  report.print(
    `History after 1,000 outside events: loop() ${formatInt(loopHistories.get(1_000)?.length ?? -1)} records, ` +
      `top level ${formatInt(records1000 ?? -1)}, quest.py ${formatInt(QUEST_PY_RECORDS_AFTER_EVENTS[1_000] ?? -1)} ` +
      `(${formatRatio(lowerIsBetter(loopHistories.get(1_000)?.length ?? 0, QUEST_PY_RECORDS_AFTER_EVENTS[1_000]))} fewer with loop()).`,
  );
  report.print(`Total bench time ${formatDuration(now() - wallStart)}.`);
  report.finish({ quick, totalMs: now() - wallStart });
}

await main();
