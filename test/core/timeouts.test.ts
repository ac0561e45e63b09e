import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Historian,
  MemoryHistory,
  TimeoutError,
  abortSignal,
  event,
  isQuestError,
  multiQueue,
  queue,
  state,
  step,
  type HistoryRecord,
} from '../../src/index.js';
import { VirtualClock } from '../../src/testing/index.js';
import { untilSettled } from '../helpers.js';
import { outcome, suspend } from './support.js';

/** A virtual clock for one test; restored when the test ends. */
function virtualClock(t: { after(fn: () => void): void }): VirtualClock {
  const clock = new VirtualClock({ start: Date.UTC(2027, 0, 1) });
  t.after(clock.install());
  return clock;
}

function timedOutRecords(history: MemoryHistory): HistoryRecord[] {
  return history.snapshot().filter((r) => (r.type === 'internal' || r.type === 'step_end') && r.error?.name === 'TimeoutError');
}

test('a step with timeoutMs fails with TimeoutError and aborts its signal; a restart replays the timeout without running the step', async (t) => {
  const clock = virtualClock(t);
  const history = new MemoryHistory();
  let executions = 0;
  let abortedWith: unknown;
  const slow = step('slow', async () => {
    executions++;
    const signal = abortSignal();
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => {
      abortedWith = signal.reason;
      resolve();
    }));
    return 'finished';
  }, { timeoutMs: 5_000 });
  const workflow = async () => {
    let branch: string;
    try {
      branch = await slow();
    } catch (error) {
      branch = isQuestError(error, 'TIMEOUT') ? `timed out after ${(error as TimeoutError).timeoutMs} ms` : 'other';
    }
    await using answers = await queue<string>('answers', null);
    return `${branch}, then ${await answers.get()}`;
  };
  const first = new Historian('slow', workflow, history);
  const firstRun = outcome(first.run());
  await untilSettled(() => clock.pending > 0);
  await clock.advance(4_999);
  assert.equal(timedOutRecords(history).length, 0, 'not yet');
  await clock.advance(1);
  await first.waitForResource('answers', null);
  assert.ok(isQuestError(abortedWith, 'TIMEOUT'), 'the step body saw its signal abort with the TimeoutError');
  assert.equal(timedOutRecords(history).length, 1, 'the timeout is the recorded outcome of the step');
  await suspend(first, firstRun);

  const second = new Historian('slow', workflow, history);
  const secondRun = second.run();
  await second.waitForResource('answers', null);
  assert.equal(clock.pending, 0, 'the replay set no timer: it did not wait again');
  await second.act('answers', null, 'put', 'an answer');
  assert.equal(await secondRun, 'timed out after 5000 ms, then an answer');
  assert.equal(executions, 1, 'the timed-out step did not run again');
});

test('a step that returns in time is not affected by its timeout', async (t) => {
  virtualClock(t);
  const quick = step('quick', async (n: number) => n * 2, { timeoutMs: 10 });
  assert.equal(await new Historian('quick', async () => quick(21), new MemoryHistory()).run(), 42);
});

test('queue.get with timeoutMs: the timeout is recorded, and a restart takes the timeout branch without waiting again', async (t) => {
  const clock = virtualClock(t);
  const history = new MemoryHistory();
  const workflow = async () => {
    await using answers = await queue<string>('answers', null);
    await using phase = await state('phase', null, 'waiting');
    let answer: string;
    try {
      answer = await answers.get({ timeoutMs: 60_000 });
    } catch (error) {
      if (!isQuestError(error, 'TIMEOUT')) throw error;
      answer = 'nobody answered';
    }
    await phase.set('done');
    await using finish = await event('finish', null);
    await finish.wait();
    return answer;
  };
  const first = new Historian('ask', workflow, history);
  const firstRun = outcome(first.run());
  await first.waitForResource('answers', null);
  await untilSettled(() => clock.pending > 0);
  await clock.advance(60_000);
  await first.waitForResource('finish', null);
  assert.equal(timedOutRecords(history).length, 1);
  await suspend(first, firstRun);

  const second = new Historian('ask', workflow, history);
  const secondRun = second.run();
  await second.waitForResource('finish', null);
  assert.equal(clock.pending, 0, 'no timer on replay');
  // An answer that arrives now is too late: the recorded branch stands.
  await second.act('answers', null, 'put', 'late answer');
  await second.act('finish', null, 'set');
  assert.equal(await secondRun, 'nobody answered');
});

test('a wait interrupted by a restart keeps its recorded deadline rather than starting the timeout over', async (t) => {
  const clock = virtualClock(t);
  const history = new MemoryHistory();
  const workflow = async () => {
    await using answers = await queue<string>('answers', null);
    try {
      return await answers.get({ timeoutMs: 1_000 });
    } catch (error) {
      if (isQuestError(error, 'TIMEOUT')) return 'timeout';
      throw error;
    }
  };
  const first = new Historian('restart', workflow, history);
  const firstRun = outcome(first.run());
  await untilSettled(() => clock.pending > 0);
  await clock.advance(600);
  await suspend(first, firstRun);
  assert.equal(clock.pending, 0, 'the suspended wait cleared its timer');

  const second = new Historian('restart', workflow, history);
  const secondRun = outcome(second.run());
  await untilSettled(() => clock.pending > 0);
  assert.equal(clock.nextAt, Date.UTC(2027, 0, 1) + 1_000, 'the timer is set for the recorded deadline');
  await clock.advance(399);
  assert.equal(timedOutRecords(history).length, 0);
  await clock.advance(1);
  assert.deepEqual(await secondRun, { ok: true, value: 'timeout' });
});

test('an item that arrives before the deadline wins, and the timeout never fires', async (t) => {
  const clock = virtualClock(t);
  const workflow = async () => {
    await using answers = await queue<string>('answers', null);
    await using ready = await event('ready', null);
    const answer = await answers.get({ timeoutMs: 1_000 });
    await ready.wait({ timeoutMs: 1_000 });
    return answer;
  };
  const historian = new Historian('wins', workflow, new MemoryHistory());
  const run = historian.run();
  await historian.waitForResource('answers', null);
  await untilSettled(() => clock.pending > 0);
  await historian.act('answers', null, 'put', 'in time');
  await untilSettled(() => clock.pending > 0);
  await historian.act('ready', null, 'set');
  assert.equal(await run, 'in time');
  assert.equal(clock.pending, 0, 'no timer is left behind');
});

test('event.wait and multiQueue.next time out with TimeoutError', async (t) => {
  const clock = virtualClock(t);
  const workflow = async () => {
    const results: string[] = [];
    await using flag = await event('flag', null);
    try {
      await flag.wait({ timeoutMs: 10 });
    } catch (error) {
      results.push((error as Error).name);
    }
    await using answers = await multiQueue<string>('answer', ['ann', 'bob']);
    try {
      await answers.next({ timeoutMs: 10 });
    } catch (error) {
      results.push((error as Error).name);
    }
    return results;
  };
  const historian = new Historian('waits', workflow, new MemoryHistory());
  const run = historian.run();
  await untilSettled(() => clock.pending > 0);
  await clock.advance(10);
  await untilSettled(() => clock.pending > 0);
  await clock.advance(10);
  assert.deepEqual(await run, ['TimeoutError', 'TimeoutError']);
});

test('timeoutMs must be a non-negative number', async () => {
  assert.throws(() => step('bad', async () => 1, { timeoutMs: -1 }), { code: 'INVALID_ARGUMENT' });
  const workflow = async () => {
    await using answers = await queue<string>('answers', null);
    return await answers.get({ timeoutMs: Number.NaN });
  };
  await assert.rejects(new Historian('bad', workflow, new MemoryHistory()).run(), { code: 'INVALID_ARGUMENT' });
});

test('with retry, each attempt has its own timeout and a timed-out attempt is retried', async (t) => {
  const clock = new VirtualClock({ start: Date.UTC(2027, 0, 1), auto: true });
  t.after(clock.install());
  let attempts = 0;
  const flaky = step('flaky', async () => {
    attempts++;
    if (attempts === 1) await new Promise<never>(() => undefined); // hangs: only its timeout ends it
    return `attempt ${attempts}`;
  }, { timeoutMs: 1_000, retry: { attempts: 3, delayMs: 10 } });
  const history = new MemoryHistory();
  assert.equal(await new Historian('flaky', async () => flaky(), history).run(), 'attempt 2');
  assert.equal(attempts, 2);
});

test('suspending a workflow clears the timer of a step with a timeout', async (t) => {
  const clock = virtualClock(t);
  const stuck = step('stuck', async () => new Promise<never>(() => undefined), { timeoutMs: 3_600_000 });
  const historian = new Historian('stuck', async () => stuck(), new MemoryHistory());
  const run = outcome(historian.run());
  await untilSettled(() => clock.pending > 0);
  await suspend(historian, run);
  assert.equal(clock.pending, 0, 'no timer left behind to keep the process alive');
});
