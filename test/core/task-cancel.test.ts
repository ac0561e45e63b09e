import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Historian,
  MemoryHistory,
  TaskCancelledError,
  event,
  loop,
  done,
  queue,
  step,
  task,
  type HistoryRecord,
} from '../../src/index.js';
import { outcome, suspend } from './support.js';

/**
 * A worker task handles jobs from a queue; a supervisor cancels it from inside a step (`decide`), whose code does
 * not run again on replay. The workflow then waits for an outside event, so the test can restart it there.
 */
function supervised(handled: string[]) {
  const handle = step('handle', async (job: string) => {
    handled.push(job);
    return job.toUpperCase();
  });
  const worker = task('worker', async (results: string[]) => {
    await using jobs = await queue<string>('jobs', null);
    for (;;) results.push(await handle(await jobs.get()));
  });
  return async () => {
    const results: string[] = [];
    const running = worker(results);
    await using stop = await event('stop', null);
    await stop.wait();
    // The decision and the cancel are one step: once it has completed, replay does not run it again.
    await step('decide', async () => {
      running.cancel();
      return 'stopped';
    })();
    const ended = await running.then(() => 'finished', (error: unknown) => (error instanceof TaskCancelledError ? 'cancelled' : String(error)));
    await using finish = await event('finish', null);
    await finish.wait();
    return `worker ${ended} after ${results.join(',')}`;
  };
}

test('a cancel made inside a completed step is recorded, and a restart cancels the task at the same point', async () => {
  const history = new MemoryHistory();
  const handled: string[] = [];
  const workflow = supervised(handled);
  const first = new Historian('supervised', workflow, history, { stallTimeoutMs: 300 });
  const firstRun = outcome(first.run());
  await first.waitForResource('jobs', null);
  await first.act('jobs', null, 'put', 'a');
  await first.act('jobs', null, 'put', 'b');
  await first.waitForResource('stop', null);
  await first.act('stop', null, 'set');
  await first.waitForResource('finish', null);
  const cancels = history.snapshot().filter((record: HistoryRecord) => record.type === 'task_cancel');
  assert.deepEqual(cancels.map((record) => record.type === 'task_cancel' && [record.id, record.target]), [['main/decide/#cancel', 'main/worker']]);
  await suspend(first, firstRun);

  // Replay: 'decide' returns its recorded result without running; the recorded cancel stops the worker where
  // it stopped live. Without the record the worker would wait for a job forever and replay would stall.
  const second = new Historian('supervised', workflow, history, { stallTimeoutMs: 300 });
  const secondRun = second.run();
  await second.waitForResource('finish', null);
  await second.act('finish', null, 'set');
  assert.equal(await secondRun, 'worker cancelled after A,B');
  assert.deepEqual(handled, ['a', 'b'], 'no job ran twice');
});

test('a cancel made by another task replays at the recorded point, not at the call', async () => {
  // The canceller cancels right after taking a message; the victim records a step per tick meanwhile. On replay
  // the cancel call comes as soon as the canceller's get is replayed, but the victim's ticks recorded before the
  // cancel must replay first: the cancellation takes effect at its record.
  const history = new MemoryHistory();
  const runs: number[][] = [];
  const victim = task('victim', async (counted: number[]) => {
    await using tick = await queue<number>('tick', null);
    for (;;) counted.push(await step('count', async (n: number) => n * 10)(await tick.get()));
  });
  const canceller = task('canceller', async (target: { cancel(): void }) => {
    await using orders = await queue<string>('orders', null);
    await orders.get();
    target.cancel();
  });
  const workflow = async () => {
    const counted: number[] = [];
    runs.push(counted);
    const running = victim(counted);
    await canceller(running);
    await running.then(undefined, (error: unknown) => {
      if (!(error instanceof TaskCancelledError)) throw error;
    });
    await using finish = await event('finish', null);
    await finish.wait();
    return counted;
  };
  const first = new Historian('race', workflow, history, { stallTimeoutMs: 300 });
  const firstRun = outcome(first.run());
  await first.waitForResource('tick', null);
  await first.waitForResource('orders', null);
  await first.act('tick', null, 'put', 1);
  await first.act('tick', null, 'put', 2);
  await first.act('orders', null, 'put', 'stop');
  await first.waitForResource('finish', null);
  await suspend(first, firstRun);

  const second = new Historian('race', workflow, history, { stallTimeoutMs: 300 });
  const secondRun = second.run();
  await second.waitForResource('finish', null);
  await second.act('finish', null, 'set');
  const live = runs[0] ?? assert.fail('the first run counted');
  assert.ok(live.length > 0, 'the victim handled a tick before it was cancelled');
  assert.deepEqual(await secondRun, live, 'replay cancelled the victim after the same ticks as the live run');
});

test('a cancel made in a completed loop iteration replays too', async () => {
  const history = new MemoryHistory();
  const sleeper = task('sleeper', async () => {
    await using never = await event('never', null);
    await never.wait();
    return 'woke';
  });
  const workflow = async () => {
    const running = sleeper();
    await using commands = await queue<string>('commands', null);
    const count = await loop('commands', 0, async (n) => {
      const command = await commands.get();
      if (command === 'cancel') running.cancel();
      if (command === 'end') return done(n);
      return n + 1;
    });
    const state = await running.then((value) => value, (error: unknown) => (error instanceof TaskCancelledError ? 'cancelled' : String(error)));
    await using finish = await event('finish', null);
    await finish.wait();
    return `${state} after ${count}`;
  };
  const first = new Historian('looped', workflow, history, { stallTimeoutMs: 300 });
  const firstRun = outcome(first.run());
  await first.waitForResource('commands', null);
  await first.act('commands', null, 'put', 'noop');
  await first.act('commands', null, 'put', 'cancel');
  await first.act('commands', null, 'put', 'end');
  await first.waitForResource('finish', null);
  await suspend(first, firstRun);

  const second = new Historian('looped', workflow, history, { stallTimeoutMs: 300 });
  const secondRun = second.run();
  await second.waitForResource('finish', null);
  await second.act('finish', null, 'set');
  assert.equal(await secondRun, 'cancelled after 2');
});

test('a history written before cancels were recorded (format 2) replays its cancels at the call, as it did', async () => {
  const history = new MemoryHistory();
  const workflow = async () => {
    const waiting = task('waiting', async () => {
      await using never = await event('never', null);
      await never.wait();
    })();
    waiting.cancel();
    const ended = await waiting.then(() => 'finished', (error: unknown) => (error instanceof TaskCancelledError ? 'cancelled' : 'other'));
    await using finish = await event('finish', null);
    await finish.wait();
    return ended;
  };
  const first = new Historian('legacy', workflow, history, { stallTimeoutMs: 300 });
  const firstRun = outcome(first.run());
  await first.waitForResource('finish', null);
  await suspend(first, firstRun);
  // What a format 2 Quest wrote: the same records, without the cancel, each marked format 2.
  const legacy = new MemoryHistory();
  legacy.commit({ append: history.snapshot().filter((r) => r.type !== 'task_cancel').map((r) => ({ ...r, v: 2 })), remove: [] });

  const second = new Historian('legacy', workflow, legacy, { stallTimeoutMs: 300 });
  const secondRun = second.run();
  await second.waitForResource('finish', null);
  await second.act('finish', null, 'set');
  assert.equal(await secondRun, 'cancelled');
});
