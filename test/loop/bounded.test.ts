/**
 * loop() keeps a constant-size history however many outside events it consumes, and replay after a restart
 * reads the same number of records after 1,000 events as after 1,000,000.
 *
 * The constant. While a loop over a public queue fed from outside runs, its history holds exactly:
 *   the queue's open record
 * + the latest checkpoint (none before the first iteration ends)
 * + the step_start of the iteration in progress
 * + the get of that iteration, once it has taken an event and the record reached storage
 * + one `external` record per outside event that is durable and not yet covered by a checkpoint (P of them:
 *   the one being handled and those still queued)
 * so  records <= 4 + P  at every commit. A producer that puts events B at a time and waits for their checkpoint
 * keeps P <= B: at most 4 + B records. One at a time (B = 1) the bound is 5 (open + checkpoint + iteration start +
 * event + its get), and on MemoryHistory the real maximum is 4: the get is written and pruned in the same
 * commit as the checkpoint, so it never reaches storage. With B = 100 the real maximum is 104 (= 4 + B).
 * A step inside the iteration adds its record (step_start while it runs, then step_end): 6 one at a time.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, done, loop, queue, step } from '../../src/index.js';
import { TrackedHistory, outcome, suspend, summary, triangle, value, type Outcome } from './support.js';

interface Totals {
  count: number;
  sum: number;
}

/** How many times the loop body ran, and with which iteration number last (for replay work). */
interface Probe {
  bodyCalls: number;
  lastIteration: number;
}

/** Sums outside events (positive numbers) until a negative one arrives. */
function summing(probe: Probe) {
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

interface Fed {
  readonly historian: Historian<never[], Totals>;
  readonly history: TrackedHistory;
  readonly running: Promise<Outcome<Totals>>;
  readonly probe: Probe;
  /** History size sampled every 10,000 events, right after a batch was put (before it is consumed). */
  readonly samples: number[];
}

/**
 * Start the summing workflow and put events 1..k, `batch` at a time: the next batch goes out once the
 * checkpoint of the previous one is durable (one event per iteration, so iteration n handles event n).
 */
async function feed(k: number, batch: number): Promise<Fed> {
  const probe: Probe = { bodyCalls: 0, lastIteration: 0 };
  const history = new TrackedHistory();
  const historian = new Historian<never[], Totals>('sum', summing(probe), history);
  const running = outcome(historian.run());
  await historian.waitForResource('events', null);
  const samples: number[] = [];
  for (let first = 1; first <= k; first += batch) {
    const last = Math.min(k, first + batch - 1);
    const puts: Array<Promise<unknown>> = [];
    for (let n = first; n <= last; n++) puts.push(historian.act('events', null, 'put', n));
    await Promise.all(puts);
    if (Math.floor(last / 10_000) > Math.floor((first - 1) / 10_000)) samples.push(history.size);
    await history.checkpointed(last);
  }
  return { historian, history, running, probe, samples };
}

/** Shared by the bound test and the replay test: fed once (about 8 s), whichever test runs first. */
let million: Promise<Fed> | undefined;
const feedMillion = (): Promise<Fed> => (million ??= feed(1_000_000, 100));

describe('loop(): bounded history', () => {
  test('1,000,000 outside events in batches of 100: at most 4 + 100 = 104 records at every commit, sum exact', async () => {
    const { historian, history, running, samples } = await feedMillion();
    assert.equal(samples.length, 100, 'one sample per 10,000 events');
    for (const size of samples) assert.ok(size <= 104, `sampled ${size} records`);
    // Checked after every commit, not only at the samples; the bound is reached: it is the real constant.
    assert.equal(history.maxSize, 104);
    // Between batches: open + checkpoint + the next iteration's start.
    assert.equal(history.size, 3);
    assert.equal(history.checkpointIteration, 1_000_000);
    // Keep it running for the replay test below; end it there. Check the state is exact here without ending it:
    // the state lives in the checkpoint record.
    const checkpoint = history.snapshot().find((record) => record.type === 'checkpoint');
    assert.deepEqual(checkpoint?.type === 'checkpoint' ? checkpoint.result : undefined, { count: 1_000_000, sum: triangle(1_000_000) });
    assert.equal(historian.status, 'running');
    void running;
  });

  test('200,000 outside events one at a time: at most 5 records ever (real maximum on MemoryHistory: 4)', async () => {
    const { historian, history, running, samples } = await feed(200_000, 1);
    assert.equal(samples.length, 20);
    for (const size of samples) assert.ok(size <= 5, `sampled ${size} records`);
    assert.ok(history.maxSize <= 5);
    assert.equal(history.maxSize, 4, 'open + checkpoint + iteration start + the pending event');
    await historian.act('events', null, 'put', -1);
    assert.deepEqual(await value(running), { count: 200_000, sum: triangle(200_000) });
    assert.equal(history.size, 0, 'a finished workflow clears its history');
  });

  test('a step inside each iteration adds one record: 20,000 events one at a time keep at most 6', async () => {
    let applied = 0;
    const apply = step('apply', async (n: number) => {
      applied += n;
      return n;
    });
    const workflow = async () => {
      await using events = await queue<number>('events', null);
      return await loop('events', 0, async (count: number) => {
        const n = await events.get();
        if (n < 0) return done(count);
        await apply(n);
        return count + 1;
      });
    };
    const history = new TrackedHistory();
    const historian = new Historian('apply', workflow, history);
    const running = outcome(historian.run());
    await historian.waitForResource('events', null);
    for (let n = 1; n <= 20_000; n++) {
      await historian.act('events', null, 'put', n);
      await history.checkpointed(n);
    }
    // open + checkpoint + iteration start + event + get + the step's end (its start is pruned in the same commit).
    assert.equal(history.maxSize, 6);
    await historian.act('events', null, 'put', -1);
    assert.equal(await value(running), 20_000);
    assert.equal(applied, triangle(20_000));
  });

  test('contrast: the same 1,000 events read at the top level (no loop) leave 2 records per event', async () => {
    const workflow = async () => {
      await using events = await queue<number>('events', null);
      let sum = 0;
      for (;;) {
        const n = await events.get();
        if (n < 0) return sum;
        sum += n;
      }
    };
    const history = new TrackedHistory();
    const historian = new Historian('top', workflow, history);
    const running = outcome(historian.run());
    await historian.waitForResource('events', null);
    for (let n = 1; n <= 1_000; n++) await historian.act('events', null, 'put', n);
    await historian.act('events', null, 'put', -1);
    assert.equal(await value(running), triangle(1_000));
    // open + (external + get) per event, the end event included; never pruned.
    assert.equal(history.maxSize, 1 + 2 * 1_001);
  });
});

describe('loop(): replay after a restart does not depend on how many events were consumed', () => {
  /**
   * Suspend a fed workflow, resume it with a new Historian over the same history and report what the resume had
   * to replay; then finish it with one more event and check the totals.
   */
  async function restart(fed: Fed, k: number) {
    const { historian, history, running, probe } = fed;
    await suspend(historian, running);
    const atSuspend = summary(history);
    const callsBefore = probe.bodyCalls;
    const again = new Historian<never[], Totals>('sum', summing(probe), history);
    const resumed = outcome(again.run());
    // Live again: replay has caught up and the queue is visible.
    await again.waitForResource('events', null);
    const replayed = history.loads.at(-1);
    const bodyCallsToResume = probe.bodyCalls - callsBefore;
    const iterationResumed = probe.lastIteration;
    // One more event is consumed live, then the loop ends.
    await again.act('events', null, 'put', k + 1);
    await history.checkpointed(k + 1);
    await again.act('events', null, 'put', -1);
    assert.deepEqual(await value(resumed), { count: k + 1, sum: triangle(k + 1) });
    return { atSuspend, replayed, bodyCallsToResume, iterationResumed };
  }

  test('after 1,000 and after 1,000,000 events a resume replays the same 3 records and runs the body once', async () => {
    const small = await restart(await feed(1_000, 100), 1_000);
    const large = await restart(await feedMillion(), 1_000_000);

    // The records a resume replays: open + checkpoint + the start of the iteration waiting for an event.
    assert.deepEqual(small.atSuspend, ['resource_open main/queue:events', 'checkpoint main/events', 'step_start main/events/#1001']);
    assert.deepEqual(large.atSuspend, ['resource_open main/queue:events', 'checkpoint main/events', 'step_start main/events/#1000001']);
    assert.equal(small.replayed, 3);
    assert.equal(large.replayed, 3);
    // The same work: no completed iteration runs again, only the one that was waiting restarts.
    assert.equal(small.bodyCallsToResume, 1);
    assert.equal(large.bodyCallsToResume, 1);
    assert.equal(small.iterationResumed, 1_001);
    assert.equal(large.iterationResumed, 1_000_001);
  });
});
