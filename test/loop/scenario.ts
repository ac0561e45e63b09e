/**
 * The counting scenario of the bound and replay tests (and of bench/event-loop.ts): a workflow sums outside
 * events inside loop(); a producer puts events 1..k, `batch` at a time, each batch once the checkpoint of the
 * previous one is durable; the history's size is checked after every commit and sampled every 10,000 events.
 * Optionally the workflow is then suspended and resumed with a new Historian, and one more event is consumed.
 *
 * Returns plain data so that it can run in a worker thread (see worker.ts): the tests assert on it.
 */
import { Historian, done, loop, queue } from '../../src/index.js';
import { TrackedHistory, outcome, suspend, summary, value, type Outcome } from './support.js';

export interface Totals {
  count: number;
  sum: number;
}

/** How often the loop body ran, and with which iteration number last. */
export interface Probe {
  bodyCalls: number;
  lastIteration: number;
}

/** Sums outside events (positive numbers) until a negative one arrives. */
export function summing(probe: Probe) {
  return async (): Promise<Totals> => {
    await using events = await queue<number>('events', null);
    return await loop('events', { count: 0, sum: 0 }, async (totals: Totals, iteration) => {
      probe.bodyCalls++;
      probe.lastIteration = iteration;
      const n = await events.get();
      if (n < 0) return done(totals);
      return { count: totals.count + 1, sum: totals.sum + n };
    });
  };
}

export interface ScenarioInput {
  k: number;
  batch: number;
  /** Suspend after the k events, resume with a new Historian, consume event k + 1, end. Else just end. */
  restart: boolean;
}

export interface ScenarioReport {
  /** History size every 10,000 events, right after a batch was put (before it was consumed). */
  samples: number[];
  /** Largest history size after any commit while the k events were fed. */
  maxSize: number;
  /** History size once the last checkpoint is durable (between batches). */
  sizeAtRest: number;
  /** Iteration of the last checkpoint and the state it holds. */
  checkpointIteration: number;
  checkpointState: unknown;
  /** Milliseconds to feed and consume the k events. */
  feedMs: number;
  /** With restart: the history at suspension (`type id`), records the resume loaded, body calls until live. */
  atSuspend?: string[];
  replayed?: number;
  bodyCallsToResume?: number;
  iterationResumed?: number;
  /** Milliseconds from the new run() until it is live (queue visible) and until one more event is consumed. */
  resumeMs?: number;
  resumeAndOneEventMs?: number;
  /** The workflow's result, and the history size after it finished. */
  result: Totals;
  sizeAfterFinish: number;
}

export interface Fed {
  readonly historian: Historian<never[], Totals>;
  readonly history: TrackedHistory;
  readonly running: Promise<Outcome<Totals>>;
  readonly probe: Probe;
  readonly samples: number[];
  readonly feedMs: number;
}

/** Start the workflow and feed events 1..k, `batch` at a time (one event per iteration: iteration n handles n). */
export async function feed(k: number, batch: number, workflowId = 'sum'): Promise<Fed> {
  const probe: Probe = { bodyCalls: 0, lastIteration: 0 };
  const history = new TrackedHistory();
  const historian = new Historian<never[], Totals>(workflowId, summing(probe), history);
  const running = outcome(historian.run());
  await historian.waitForResource('events', null);
  const samples: number[] = [];
  const started = performance.now();
  for (let first = 1; first <= k; first += batch) {
    const last = Math.min(k, first + batch - 1);
    const puts: Array<Promise<unknown>> = [];
    for (let n = first; n <= last; n++) puts.push(historian.act('events', null, 'put', n));
    await Promise.all(puts);
    if (Math.floor(last / 10_000) > Math.floor((first - 1) / 10_000)) samples.push(history.size);
    await history.checkpointed(last);
  }
  return { historian, history, running, probe, samples, feedMs: performance.now() - started };
}

export async function runScenario(input: ScenarioInput): Promise<ScenarioReport> {
  const { k, batch } = input;
  const fed = await feed(k, batch);
  const { history, probe } = fed;
  const checkpoint = history.snapshot().find((record) => record.type === 'checkpoint');
  const report: ScenarioReport = {
    samples: fed.samples,
    maxSize: history.maxSize,
    sizeAtRest: history.size,
    checkpointIteration: history.checkpointIteration,
    checkpointState: checkpoint?.type === 'checkpoint' ? checkpoint.result : undefined,
    feedMs: fed.feedMs,
    result: { count: 0, sum: 0 },
    sizeAfterFinish: -1,
  };
  let historian = fed.historian;
  let running = fed.running;
  let next = k + 1;
  if (input.restart) {
    await suspend(historian, running);
    report.atSuspend = summary(history);
    const callsBefore = probe.bodyCalls;
    const started = performance.now();
    historian = new Historian<never[], Totals>('sum', summing(probe), history);
    running = outcome(historian.run());
    // Live again: replay has caught up and the queue is visible to outside callers.
    await historian.waitForResource('events', null);
    report.resumeMs = performance.now() - started;
    report.replayed = history.loads.at(-1);
    report.bodyCallsToResume = probe.bodyCalls - callsBefore;
    report.iterationResumed = probe.lastIteration;
    await historian.act('events', null, 'put', next);
    await history.checkpointed(next);
    report.resumeAndOneEventMs = performance.now() - started;
    next++;
  }
  await historian.act('events', null, 'put', -1);
  report.result = await value(running);
  report.sizeAfterFinish = history.size;
  return report;
}
