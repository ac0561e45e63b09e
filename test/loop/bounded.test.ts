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
 * The bound does not hold when the producer runs ahead of the consumer (P grows: see bench/event-loop.ts "acks").
 * Changes an iteration makes on resources opened outside the loop stay with those resources; a state set (or an
 * event set/clear) replaces the previous one, so each such state adds one record, not one per iteration.
 *
 * The million-event run (and the 100,000 one) executes in a worker thread, see worker.ts for why; the assertions
 * are made here on its report. The million-event history is checked after every commit (TrackedHistory), and
 * sampled every 10,000 events.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, done, loop, queue, state, step } from '../../src/index.js';
import { runScenario } from './scenario.js';
import { TrackedHistory, outcome, summary, suspend, triangle, value } from './support.js';
import { runInWorker } from './worker.js';
import type { ScenarioReport } from './scenario.js';

/** The million-event run (about 8 s in a worker), shared by the bound test and the replay test. */
let millionRun: Promise<ScenarioReport> | undefined;
const million = (): Promise<ScenarioReport> => (millionRun ??= runInWorker({ k: 1_000_000, batch: 100, restart: true }));

describe('loop(): bounded history', () => {
  test('1,000,000 outside events in batches of 100: at most 4 + 100 = 104 records at every commit, sum exact', async () => {
    const report = await million();
    assert.equal(report.samples.length, 100, 'one sample per 10,000 events');
    for (const size of report.samples) assert.ok(size <= 104, `sampled ${size} records`);
    // Checked after every commit, not only at the samples; the bound is reached: it is the real constant.
    assert.equal(report.maxSize, 104);
    // Between batches: open + checkpoint (the next iteration's start is buffered until the next durable write).
    assert.equal(report.sizeAtRest, 2);
    assert.equal(report.checkpointIteration, 1_000_000);
    assert.deepEqual(report.checkpointState, { count: 1_000_000, sum: triangle(1_000_000) });
    // (The run goes on in the replay test below: suspended, resumed, one more event, then the end.)
    assert.deepEqual(report.result, { count: 1_000_001, sum: triangle(1_000_001) });
    assert.equal(report.sizeAfterFinish, 0, 'a finished workflow clears its history');
  });

  test('100,000 outside events one at a time: at most 5 records ever (real maximum on MemoryHistory: 4)', async () => {
    const report = await runInWorker({ k: 100_000, batch: 1, restart: false });
    assert.equal(report.samples.length, 10);
    for (const size of report.samples) assert.ok(size <= 5, `sampled ${size} records`);
    assert.ok(report.maxSize <= 5);
    assert.equal(report.maxSize, 4, 'open + checkpoint + iteration start + the pending event');
    assert.deepEqual(report.result, { count: 100_000, sum: triangle(100_000) });
  });

  test('the same bound holds in this process: 5,000 events in batches of 10 keep at most 4 + 10 = 14', async () => {
    const report = await runScenario({ k: 5_000, batch: 10, restart: false });
    assert.equal(report.maxSize, 14);
    assert.deepEqual(report.result, { count: 5_000, sum: triangle(5_000) });
  });

  test('a step inside each iteration adds one record: 10,000 events one at a time keep at most 6', async () => {
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
    for (let n = 1; n <= 10_000; n++) {
      await historian.act('events', null, 'put', n);
      await history.checkpointed(n);
    }
    // open + checkpoint + iteration start + event + get + the step's end (its start is pruned in the same commit).
    assert.equal(history.maxSize, 6);
    await historian.act('events', null, 'put', -1);
    assert.equal(await value(running), 10_000);
    assert.equal(applied, triangle(10_000));
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
    // open + (external + get) per event, never pruned: 1 + 1,001 puts + 1,000 gets (the last get is still
    // buffered when the workflow finishes and clears its history).
    assert.equal(history.maxSize, 1 + 1_001 + 1_000);
  });
});

describe('loop(): replay after a restart does not depend on how many events were consumed', () => {
  test('after 1,000 and after 1,000,000 events a resume replays the same 3 records and runs the body once', async () => {
    const small = await runScenario({ k: 1_000, batch: 100, restart: true });
    const large = await million();

    // The records a resume replays: open + checkpoint + the start of the iteration waiting for an event (the
    // suspension writes the buffered start).
    assert.deepEqual(small.atSuspend, ['resource_open main/queue:events', 'checkpoint main/events', 'step_start main/events/#1001']);
    assert.deepEqual(large.atSuspend, ['resource_open main/queue:events', 'checkpoint main/events', 'step_start main/events/#1000001']);
    assert.equal(small.replayed, 3);
    assert.equal(large.replayed, 3);
    // The same work: no completed iteration runs again, only the one that was waiting restarts.
    assert.equal(small.bodyCallsToResume, 1);
    assert.equal(large.bodyCallsToResume, 1);
    assert.equal(small.iterationResumed, 1_001);
    assert.equal(large.iterationResumed, 1_000_001);
    // And the totals carry on exactly: event k + 1 consumed after the resume, then the end.
    assert.deepEqual(small.result, { count: 1_001, sum: triangle(1_001) });
    assert.deepEqual(large.result, { count: 1_000_001, sum: triangle(1_000_001) });
  });
});

describe('loop(): events the workflow puts itself', () => {
  test('a loop that puts jobs back into its own queue (retries) stays bounded and replays them exactly', async () => {
    interface Job {
      id: number;
      tries: number;
    }
    const handled: number[] = [];
    const handle = step('handle', async (id: number) => {
      handled.push(id);
      return id;
    });
    const workflow = async () => {
      await using jobs = await queue<Job>('jobs', null);
      return await loop('work', [] as number[], async (finished: number[]) => {
        const job = await jobs.get();
        if (job.id < 0) return done(finished);
        // Every third job fails twice: it goes back to the end of the queue (a put by the workflow itself,
        // taken by a later iteration: both records leave the history then).
        if (job.id % 3 === 0 && job.tries < 2) {
          await jobs.put({ id: job.id, tries: job.tries + 1 });
          return finished;
        }
        await handle(job.id);
        return [...finished, job.id];
      });
    };
    const history = new TrackedHistory();
    let historian = new Historian('retries', workflow, history);
    let running = outcome(historian.run());
    await historian.waitForResource('jobs', null);
    for (let id = 1; id <= 30; id++) await historian.act('jobs', null, 'put', { id, tries: 0 });
    // Suspend while jobs and re-queued jobs wait in the queue, twice.
    for (let restart = 0; restart < 2; restart++) {
      await history.checkpointed(history.checkpointIteration + 7);
      await suspend(historian, running);
      historian = new Historian('retries', workflow, history);
      running = outcome(historian.run());
    }
    // 30 jobs + 2 retries of each of the 10 failing ones = 50 iterations.
    await history.checkpointed(50);
    assert.deepEqual(summary(history), ['resource_open main/queue:jobs', 'checkpoint main/work']);
    await historian.act('jobs', null, 'put', { id: -1, tries: 0 });
    const finished = await value(running);
    // Each job handled once (the order depends on when the retries were queued between the outside puts).
    assert.deepEqual([...finished].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(handled, finished);
  });

  test('a loop that publishes its progress in a state() opened outside it stays bounded, and the state survives restarts', async () => {
    const workflow = async () => {
      await using events = await queue<number>('events', null);
      await using progress = await state('progress', null, 0);
      await using last = await state<number | null>('last', null, null);
      return await loop('sum', 0, async (sum: number) => {
        const n = await events.get();
        if (n < 0) return done(sum);
        await progress.set(sum + n);
        await last.set(n);
        return sum + n;
      });
    };
    const history = new TrackedHistory();
    let historian = new Historian('progress', workflow, history);
    let running = outcome(historian.run());
    await historian.waitForResource('events', null);
    for (let n = 1; n <= 1_000; n++) {
      await historian.act('events', null, 'put', n);
      await history.checkpointed(n);
      if (n % 250 === 0) {
        await suspend(historian, running);
        historian = new Historian('progress', workflow, history);
        running = outcome(historian.run());
        await historian.waitForResource('last', null);
        // What an outside caller reads after the restart is what the loop had published.
        assert.equal(await historian.act('progress', null, 'get'), triangle(n));
        assert.equal(await historian.act('last', null, 'get'), n);
      }
    }
    await historian.act('events', null, 'put', -1);
    assert.equal(await value(running), triangle(1_000));
    // 3 opens + the checkpoint + the newest set of each state + the outside event waiting + the start of the
    // iteration about to take it. (Without superseding: one more set record per state per iteration.)
    assert.ok(history.maxSize <= 8, `at most ${history.maxSize} records`);
  });
});
