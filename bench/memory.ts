/**
 * Benchmarks of Quest for TypeScript over the in-memory history (MemoryHistory), compared with quest.py.
 *
 *   npx tsx bench/memory.ts            tables on stdout (progress on stderr)
 *   npx tsx bench/memory.ts --json     one JSON document on stdout instead
 *   npx tsx bench/memory.ts --quick    fewer runs and no 100,000 sizes (a smoke test, a few seconds)
 *
 * What is measured (every time figure: median of 5 runs, 3 at 100,000, after one warm-up run):
 * 1. sequential trivial steps: a workflow awaits N steps in a loop, each returning a number; time from
 *    `run()` to its result (which includes clearing the finished history);
 * 2. replay after suspend: a history of K outside `put`s on a top-level queue, each read by the workflow's
 *    `await q.get()`; time from a new `run()` until replay has caught up (see `replayOnce` for how that is
 *    detected);
 * 3. outside events: K `act('q', null, 'put', i)` calls, each awaited in turn (each is durable before the next
 *    starts, as a caller that waits for its acknowledgement would do); time from the first act until the
 *    workflow has consumed all K;
 * 4. history records kept after completed steps (pruning), and after outside events;
 * 5. heap used with the history of 100,000 completed steps (forced garbage collection; skipped when it
 *    cannot be forced).
 */
import { Historian, MemoryHistory, isSuspension, queue, step } from '../src/index.js';
import type { HistoryRecord } from '../src/index.js';
import {
  QUEST_PY_EVENTS_PER_S,
  QUEST_PY_RECORDS_AFTER_EVENTS,
  QUEST_PY_RECORDS_AFTER_STEPS,
  QUEST_PY_REPLAY_S,
  QUEST_PY_STEPS_PER_S,
} from './anchors.js';
import {
  ConsumptionCounter,
  Report,
  forceGc,
  formatBytes,
  formatDuration,
  formatInt,
  formatRate,
  formatRatio,
  heapUsedAfterGc,
  higherIsBetter,
  lowerIsBetter,
  measure,
  now,
  renderTable,
  until,
  type Column,
  type Timing,
} from './harness.js';

const report = new Report('memory');
const quick = process.argv.includes('--quick');
/** Replay of the largest history is measured only if its estimate (linear from the 10,000 one) is below this. */
const REPLAY_100K_BUDGET_MS = 10_000;

// -------------------------------------------------------------------------------------------------------------
// Workflows

const trivial = step('trivial', async (i: number) => i);
const inner = step('inner', async (i: number) => i);
/** A step with 3 nested sub-steps: pruning at its end must leave only its own end record. */
const outer = step('outer', async (i: number) => (await inner(i)) + (await inner(i + 1)) + (await inner(i + 2)));

interface StepProbe {
  /** Called once the loop is done, while the workflow (and its history) is still alive. */
  atLoopEnd?: () => void;
}

/** A workflow that awaits `count` steps in a loop (trivial ones, or ones with 3 nested sub-steps). */
function stepsWorkflow(nested: boolean, probe: StepProbe = {}) {
  return async (count: number): Promise<number> => {
    let sum = 0;
    for (let i = 0; i < count; i++) sum += nested ? await outer(i) : await trivial(i);
    probe.atLoopEnd?.();
    return sum;
  };
}

/** A workflow that reads a top-level queue forever, counting what it took; `reached` fires at a target. */
class QueueReader extends ConsumptionCounter {
  readonly workflow = async (): Promise<void> => {
    const q = await queue<number>('q', null);
    for (;;) {
      await q.get();
      this.tick();
    }
  };
}

/** Suspend a historian and check that its run ended with the suspension, not with an error. */
async function suspendAndCheck(historian: { suspend(): Promise<void> }, outcome: Promise<unknown>): Promise<void> {
  await historian.suspend();
  const ended = await outcome;
  if (!isSuspension(ended)) throw new Error(`the workflow ended with ${String(ended)} instead of a suspension`);
}

// -------------------------------------------------------------------------------------------------------------
// 1. Sequential steps

async function stepsOnce(count: number): Promise<number> {
  const historian = new Historian('steps', stepsWorkflow(false), new MemoryHistory());
  const start = now();
  const sum = await historian.run(count);
  const ms = now() - start;
  if (sum !== (count * (count - 1)) / 2) throw new Error(`steps workflow returned ${sum}`);
  return ms;
}

// -------------------------------------------------------------------------------------------------------------
// 3. Outside events (also builds the histories that 2 replays)

interface Fed {
  ms: number;
  /** The history after the suspension: 1 open record + K puts + K gets. */
  records: HistoryRecord[];
}

async function feedOnce(count: number): Promise<Fed> {
  const history = new MemoryHistory();
  const reader = new QueueReader();
  const historian = new Historian('events', reader.workflow, history);
  const outcome = historian.run().catch((error: unknown) => error);
  await until(async () => (await historian.resources(null)).length === 1); // the queue is open
  const all = reader.reached(count);
  const start = now();
  for (let i = 0; i < count; i++) await historian.act('q', null, 'put', i);
  await all;
  const ms = now() - start;
  // Every item consumed: suspend (the workflow waits in its next get). Buffered records are drained.
  await suspendAndCheck(historian, outcome);
  return { ms, records: history.snapshot() };
}

// -------------------------------------------------------------------------------------------------------------
// 2. Replay after suspend

/**
 * Replay a history of `count` outside events (a fresh copy of `records`) and return the time from `run()`
 * until replay has caught up.
 *
 * How "caught up" is detected, through the public API only: as soon as the queue is visible (its open is the
 * first record, replayed in the first turns), one more outside `put` is made. `act()` waits while the history
 * is being replayed and only then records the put; the workflow, whose next `get` is live once every recorded
 * get has been replayed, consumes it. So the figure is the replay of all 2K+1 records plus one live event
 * (a few µs, see table 3), with no polling while the replay runs and no sleep.
 */
async function replayOnce(count: number, records: readonly HistoryRecord[]): Promise<number> {
  const history = new MemoryHistory();
  history.commit({ append: structuredClone(records), remove: [] });
  const reader = new QueueReader();
  const historian = new Historian('events', reader.workflow, history);
  const all = reader.reached(count + 1);
  const start = now();
  const outcome = historian.run().catch((error: unknown) => error);
  await until(async () => (await historian.resources(null)).length === 1);
  await historian.act('q', null, 'put', count);
  await all;
  const ms = now() - start;
  await suspendAndCheck(historian, outcome);
  if (reader.consumed !== count + 1) throw new Error(`replay consumed ${reader.consumed} items, expected ${count + 1}`);
  return ms;
}

// -------------------------------------------------------------------------------------------------------------
// 4. and 5. Records kept and memory

interface Kept {
  records: number;
  /** Heap used (after gc) while those records are kept, and after the workflow completed; undefined without gc. */
  heapAtLoopEnd: number | undefined;
  heapAfter: number | undefined;
  heapBefore: number | undefined;
  ms: number;
}

async function keptOnce(count: number, nested: boolean): Promise<Kept> {
  const history = new MemoryHistory();
  const kept: Kept = { records: -1, heapAtLoopEnd: undefined, heapAfter: undefined, heapBefore: undefined, ms: 0 };
  const historian = new Historian(
    'kept',
    stepsWorkflow(nested, {
      atLoopEnd: () => {
        kept.records = history.size;
        kept.heapAtLoopEnd = heapUsedAfterGc();
      },
    }),
    history,
  );
  kept.heapBefore = heapUsedAfterGc();
  const start = now();
  await historian.run(count);
  kept.ms = now() - start; // includes the forced gc at the loop end
  kept.heapAfter = heapUsedAfterGc();
  return kept;
}

// -------------------------------------------------------------------------------------------------------------
// Main

function runsFor(size: number): number {
  if (quick) return 1;
  return size >= 100_000 ? 3 : 5;
}

function spread(timing: Timing): string {
  return `${formatDuration(timing.minMs)} … ${formatDuration(timing.maxMs)}`;
}

/**
 * Bring every path to its optimized (JIT) state first, so that the small sizes, measured first, are not charged
 * for compilation: one warm-up run per figure is too short for that at N = 1,000.
 */
async function warmUp(): Promise<void> {
  await stepsOnce(20_000);
  const fed = await feedOnce(10_000);
  await replayOnce(10_000, fed.records);
  await keptOnce(2_000, true);
}

async function main(): Promise<void> {
  const wallStart = now();
  const gcForced = forceGc();
  const big = quick ? [] : [100_000];
  report.note('warming up ...');
  await warmUp();

  // 1. Sequential steps ------------------------------------------------------------------------------------------
  const stepRows: (string | number)[][] = [];
  for (const n of [1_000, 10_000, ...big]) {
    report.note(`steps: N = ${formatInt(n)} ...`);
    const timing = await measure(() => stepsOnce(n), { runs: runsFor(n) });
    const perSecond = (n * 1000) / timing.medianMs;
    const usPerStep = (timing.medianMs * 1000) / n;
    const anchor = QUEST_PY_STEPS_PER_S[n];
    stepRows.push([
      formatInt(n), timing.runs.length, formatDuration(timing.medianMs), spread(timing), formatRate(perSecond), usPerStep.toFixed(2),
      anchor === undefined ? '—' : formatRate(anchor), anchor === undefined ? '—' : ((1e6 / anchor).toFixed(0)), formatRatio(higherIsBetter(perSecond, anchor)),
    ]);
    report.add('steps', { n, runsMs: timing.runs, medianMs: timing.medianMs, stepsPerS: perSecond, usPerStep, questPyStepsPerS: anchor ?? null });
  }
  const stepColumns: Column[] = [
    { header: 'N' }, { header: 'runs' }, { header: 'median' }, { header: 'min … max' }, { header: 'steps/s' }, { header: 'µs/step' },
    { header: 'quest.py steps/s' }, { header: 'quest.py µs/step' }, { header: '× better' },
  ];

  // 3. Outside events (the last fed history of each size is kept for 2) ------------------------------------------
  const eventRows: (string | number)[][] = [];
  const histories = new Map<number, HistoryRecord[]>();
  let recordsAfter1000Events: number | undefined;
  for (const k of [1_000, 10_000, ...big]) {
    report.note(`outside events: K = ${formatInt(k)} ...`);
    const timing = await measure(async () => {
      const fed = await feedOnce(k);
      histories.set(k, fed.records);
      return fed.ms;
    }, { runs: runsFor(k) });
    if (k === 1_000) recordsAfter1000Events = histories.get(k)?.length;
    const perSecond = (k * 1000) / timing.medianMs;
    const anchor = QUEST_PY_EVENTS_PER_S[k];
    eventRows.push([
      formatInt(k), timing.runs.length, formatDuration(timing.medianMs), spread(timing), formatRate(perSecond),
      ((timing.medianMs * 1000) / k).toFixed(2), anchor === undefined ? '—' : formatRate(anchor), formatRatio(higherIsBetter(perSecond, anchor)),
    ]);
    report.add('outsideEvents', { k, runsMs: timing.runs, medianMs: timing.medianMs, eventsPerS: perSecond, questPyEventsPerS: anchor ?? null });
  }

  // 2. Replay after suspend -----------------------------------------------------------------------------------
  const replayRows: (string | number)[][] = [];
  let tenThousandMs: number | undefined;
  for (const k of [1_000, 10_000, ...big]) {
    const records = histories.get(k);
    if (records === undefined) continue;
    if (k === 100_000) {
      const estimate = (tenThousandMs ?? Number.POSITIVE_INFINITY) * 10;
      if (estimate >= REPLAY_100K_BUDGET_MS) {
        report.note(`replay: K = 100,000 skipped (estimated ${formatDuration(estimate)})`);
        replayRows.push([formatInt(k), formatInt(records.length), 0, `skipped: estimate ${formatDuration(estimate)} ≥ 10 s`, '', '', '', '']);
        continue;
      }
    }
    report.note(`replay: K = ${formatInt(k)} ...`);
    const timing = await measure(() => replayOnce(k, records), { runs: runsFor(k), warmup: k >= 100_000 ? 0 : 1 });
    if (k === 10_000) tenThousandMs = timing.medianMs;
    const anchorS = QUEST_PY_REPLAY_S[k];
    replayRows.push([
      formatInt(k), formatInt(records.length), timing.runs.length, formatDuration(timing.medianMs), spread(timing),
      ((timing.medianMs * 1000) / k).toFixed(2), anchorS === undefined ? '—' : formatDuration(anchorS * 1000),
      formatRatio(lowerIsBetter(timing.medianMs, anchorS === undefined ? undefined : anchorS * 1000)),
    ]);
    report.add('replay', { k, records: records.length, runsMs: timing.runs, medianMs: timing.medianMs, usPerEvent: (timing.medianMs * 1000) / k, questPyS: anchorS ?? null });
  }

  histories.clear(); // not to be counted in the heap figures below

  // 4. Records kept ---------------------------------------------------------------------------------------------
  report.note('records kept ...');
  const flat = await keptOnce(10_000, false);
  const nested = await keptOnce(10_000, true);
  const recordRows: (string | number)[][] = [
    ['10,000 completed top-level steps', formatInt(flat.records), '10,000 (one end record per step)', formatInt(QUEST_PY_RECORDS_AFTER_STEPS[10_000] ?? 0),
      formatRatio(lowerIsBetter(flat.records, QUEST_PY_RECORDS_AFTER_STEPS[10_000]))],
    ['10,000 completed steps of 3 nested sub-steps', formatInt(nested.records), '10,000 (sub-steps pruned)', '—', '—'],
    ['1,000 outside events at top level (+ suspension)', formatInt(recordsAfter1000Events ?? -1), '2,001 (open + put + get each)',
      formatInt(QUEST_PY_RECORDS_AFTER_EVENTS[1_000] ?? 0), formatRatio(lowerIsBetter(recordsAfter1000Events ?? 0, QUEST_PY_RECORDS_AFTER_EVENTS[1_000]))],
  ];
  report.add('records', { scenario: 'steps', n: 10_000, records: flat.records, questPy: QUEST_PY_RECORDS_AFTER_STEPS[10_000] ?? null });
  report.add('records', { scenario: 'nestedSteps', n: 10_000, subSteps: 3, records: nested.records, questPy: null });
  report.add('records', { scenario: 'outsideEvents', k: 1_000, records: recordsAfter1000Events ?? null, questPy: QUEST_PY_RECORDS_AFTER_EVENTS[1_000] ?? null });

  // 5. Memory ----------------------------------------------------------------------------------------------------
  const memoryN = quick ? 10_000 : 100_000;
  let memoryText: string;
  if (!gcForced) {
    memoryText = `5. Heap used: skipped (garbage collection cannot be forced; run node with --expose-gc)`;
    report.add('memory', { skipped: true });
  } else {
    report.note(`memory: N = ${formatInt(memoryN)} ...`);
    const kept = await keptOnce(memoryN, false);
    const before = kept.heapBefore ?? 0;
    const atEnd = kept.heapAtLoopEnd ?? 0;
    const after = kept.heapAfter ?? 0;
    const perRecord = (atEnd - before) / Math.max(1, kept.records);
    memoryText = renderTable(`5. Heap used (process.memoryUsage().heapUsed after a forced gc), ${formatInt(memoryN)} sequential steps`, [
      { header: 'moment', align: 'left' }, { header: 'heap used' }, { header: 'history records' },
    ], [
      ['before the run', formatBytes(before), '0'],
      [`after ${formatInt(memoryN)} steps, workflow still running`, formatBytes(atEnd), formatInt(kept.records)],
      ['after the workflow completed (history cleared)', formatBytes(after), '0'],
      ['growth per kept record (end record of a completed step)', formatBytes(perRecord), ''],
    ]);
    report.add('memory', { n: memoryN, heapBefore: before, heapAtLoopEnd: atEnd, heapAfter: after, records: kept.records, bytesPerRecord: perRecord });
  }

  // Output -----------------------------------------------------------------------------------------------------------
  const header = [
    `Quest for TypeScript: in-memory history (MemoryHistory) — node ${process.version}, ${process.platform}-${process.arch}` +
      `${quick ? ', --quick (1 run per figure, no 100,000 sizes)' : ''}`,
    'Time figures: median of 5 runs (3 at 100,000) after a warm-up run (and a JIT warm-up of every path).',
    'quest.py figures: /work/shared/anchors/quest-py.md (Python 3.11, list history, same kind of machine).',
    '"× better": how many times better than quest.py (higher rate, shorter time, fewer records).',
  ].join('\n');
  report.print(header);
  report.print('');
  report.print(renderTable('1. Sequential trivial steps (run() until the result)', stepColumns, stepRows));
  report.print('');
  report.print(renderTable('2. Replay after suspend, K outside events at top level (new run() until replay has caught up)', [
    { header: 'K' }, { header: 'records' }, { header: 'runs' }, { header: 'median' }, { header: 'min … max' }, { header: 'µs/event' },
    { header: 'quest.py' }, { header: '× better' },
  ], replayRows));
  report.print('');
  report.print(renderTable('3. Outside events into a queue the workflow reads (first act until all K consumed; acts awaited one by one)', [
    { header: 'K' }, { header: 'runs' }, { header: 'median' }, { header: 'min … max' }, { header: 'events/s' }, { header: 'µs/event' },
    { header: 'quest.py events/s' }, { header: '× better' },
  ], eventRows));
  report.print('');
  report.print(renderTable('4. History records kept', [
    { header: 'after', align: 'left' }, { header: 'records' }, { header: 'expected', align: 'left' }, { header: 'quest.py' }, { header: '× better' },
  ], recordRows));
  report.print('');
  report.print(memoryText);
  report.print('');
  report.print(`Total bench time ${formatDuration(now() - wallStart)}.`);
  report.finish({ quick, totalMs: now() - wallStart });
}

await main();
