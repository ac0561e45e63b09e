import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, TaskCancelledError, alias, event, isQuestError, queue, step, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { gate, outcome, replayed, summary, suspend, visible, type Gate } from './support.js';

describe('tasks', () => {
  test('two tasks run concurrently and each replays its own steps', async () => {
    const plusFoo = step('plusFoo', async (text: string) => `${text}foo`);
    const threeFoo = task('threeFoo', async (text: string) => plusFoo(await plusFoo(await plusFoo(text))));
    const workflow = async (a: string, b: string) => {
      const first = threeFoo(a);
      const second = threeFoo(b);
      return [await first, await second];
    };
    assert.deepEqual(await new Historian('w', workflow, new MemoryHistory()).run('abc', 'xyz'), ['abcfoofoofoo', 'xyzfoofoofoo']);
  });

  /**
   * quest.py's long/fast race: one task is inside a long step while another completes short steps. When the
   * long step ends, pruning must remove only its own records; the short steps must replay, not run again.
   */
  function longFastRace(counts: { long: number; short: number }, longGates: Array<Gate>) {
    const longStep = step('longStep', async () => {
      const attempt = counts.long++;
      await (longGates[attempt] as Gate).promise;
      return 1;
    });
    const shortStep = step('shortStep', async () => ++counts.short);
    const doLongWork = task('doLongWork', () => longStep());
    const doFastWork = task('doFastWork', async () => {
      const total = (await shortStep()) + (await shortStep()) + (await shortStep());
      await using pause = await queue<null>('shortPause', null);
      await pause.get();
      return total;
    });
    return async () => {
      const long = doLongWork();
      const fast = doFastWork();
      await using pause = await queue<null>('workflowPause', null);
      await pause.get();
      return (await long) + (await fast);
    };
  }

  test('a task racing a long step: pruning the long step keeps the other task\'s steps', async () => {
    const counts = { long: 0, short: 0 };
    const longGate = gate();
    const workflow = longFastRace(counts, [longGate]);
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => counts.short === 3 && (await visible(first, null)).length === 2);
    longGate.open();
    await untilSettled(() => summary(history).includes('step_end main/doLongWork/longStep'));
    await suspend(first, running);
    const records = summary(history);
    assert.equal(records.filter((r) => r.startsWith('step_end main/doFastWork/shortStep')).length, 3);
    assert.ok(!records.includes('step_start main/doLongWork/longStep'), 'the long step\'s start was pruned');

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).length === 2);
    await second.act('workflowPause', null, 'put', null);
    await second.act('shortPause', null, 'put', null);
    assert.equal(await result, 7);
    assert.deepEqual(counts, { long: 1, short: 3 });
  });

  test('a task racing a long step: suspended while the long step runs, only the long step runs again', async () => {
    const counts = { long: 0, short: 0 };
    const gates = [gate(), gate()];
    const workflow = longFastRace(counts, gates);
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => counts.short === 3 && (await visible(first, null)).length === 2);
    await suspend(first, running);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => counts.long === 2 && (await visible(second, null)).length === 2);
    (gates[1] as Gate).open();
    await second.act('shortPause', null, 'put', null);
    await second.act('workflowPause', null, 'put', null);
    assert.equal(await result, 7);
    assert.deepEqual(counts, { long: 2, short: 3 });
  });

  test('nested tasks fed by a queue resume where they were', async () => {
    const level2 = task('level2', async () => {
      await using numbers = await queue<number>('numbers', null);
      return (await numbers.get()) + (await numbers.get());
    });
    const level1 = task('level1', () => level2());
    const workflow = async () => level1();
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).includes('numbers'));
    await first.act('numbers', null, 'put', 1);
    await suspend(first, running);
    assert.ok(summary(history).includes('internal main/level1/level2/numbers.get'), 'the first get was recorded');

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).includes('numbers'));
    assert.deepEqual((await second.resources(null))[0]?.view, { size: 0, items: [] }, 'the replayed put was taken again');
    await second.act('numbers', null, 'put', 2);
    assert.equal(await result, 3);
  });

  test('tasks fed by per-identity queues get their own items, before and after a resume', async () => {
    const collect = task('collect', async (who: string) => {
      const values: number[] = [];
      await using done = await event('done', who);
      const reader = task('reader', async () => {
        await using items = await queue<number>('items', who);
        for (;;) values.push(await items.get());
      })();
      await done.wait();
      reader.cancel();
      await reader.then(undefined, () => undefined);
      return values;
    });
    const workflow = async () => {
      const foo = collect('FOO');
      const bar = collect('BAR');
      return [...(await foo), ...(await bar)];
    };
    const allOpen = async (h: Historian<never[], unknown>) =>
      (await visible(h, 'FOO')).join() === 'done@FOO,items@FOO' && (await visible(h, 'BAR')).join() === 'done@BAR,items@BAR';
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(() => allOpen(first));
    await first.act('items', 'BAR', 'put', 4);
    await first.act('items', 'FOO', 'put', 1);
    await first.act('items', 'FOO', 'put', 2);
    await suspend(first, running);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(() => allOpen(second));
    await second.act('items', 'BAR', 'put', 5);
    await second.act('done', 'BAR', 'set');
    await second.act('items', 'FOO', 'put', 3);
    await second.act('done', 'FOO', 'set');
    assert.deepEqual(await result, [1, 2, 3, 4, 5]);
  });
});

describe('cancelling tasks', () => {
  test('awaiting a cancelled task throws TaskCancelledError, and the cancellation replays', async () => {
    const seen: string[] = [];
    const record = step('record', async (item: string) => {
      seen.push(item);
      return item;
    });
    const worker = task('worker', async () => {
      await using items = await queue<string>('items', null);
      const done: string[] = [];
      for (;;) done.push(await record(await items.get()));
    });
    const outcomes: string[] = [];
    const workflow = async () => {
      const handle = worker();
      await using stop = await event('stop', null);
      await stop.wait();
      handle.cancel();
      try {
        await handle;
        outcomes.push('finished');
      } catch (error) {
        outcomes.push(error instanceof TaskCancelledError ? `cancelled ${isQuestError(error, 'TASK_CANCELLED')}` : `other ${String(error)}`);
      }
      await using end = await queue<string>('end', null);
      return await end.get();
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).join() === 'items,stop');
    await first.act('items', null, 'put', 'a');
    await first.act('items', null, 'put', 'b');
    await untilSettled(() => seen.length === 2);
    await first.act('stop', null, 'set');
    await untilSettled(async () => (await visible(first, null)).join() === 'end,stop');
    await suspend(first, running);
    assert.deepEqual(outcomes, ['cancelled true']);
    assert.ok(summary(history).includes('task_end main/worker'));

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).join() === 'end,stop');
    await second.act('end', null, 'put', 'bye');
    assert.equal(await result, 'bye');
    assert.deepEqual(outcomes, ['cancelled true', 'cancelled true']);
    assert.deepEqual(seen, ['a', 'b'], 'the worker\'s steps replayed, not ran');
  });

  test('a step cancelled midway is forgotten and does not run again on resume', async () => {
    const hold = gate();
    let started = 0;
    const slow = step('slow', async () => {
      started++;
      await hold.promise;
      return 'late';
    });
    const worker = task('worker', () => slow());
    const workflow = async () => {
      const handle = worker();
      await using stop = await event('stop', null);
      await stop.wait();
      handle.cancel();
      const ended = await handle.then(() => 'finished', (error: unknown) => (error instanceof TaskCancelledError ? 'cancelled' : 'other'));
      await using end = await queue<null>('end', null);
      await end.get();
      return ended;
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => started === 1 && (await visible(first, null)).length === 1);
    await first.act('stop', null, 'set');
    await untilSettled(async () => (await visible(first, null)).join() === 'end,stop');
    await suspend(first, running);
    assert.ok(!summary(history).some((r) => r.includes('slow')), `the cancelled step left no records: ${summary(history).join(', ')}`);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).join() === 'end,stop');
    await second.act('end', null, 'put', null);
    assert.equal(await result, 'cancelled');
    assert.equal(started, 1);
    hold.open();
  });

  test('tasks not awaited are cancelled when the step that started them ends', async () => {
    const observed: string[] = [];
    const listener = task('listener', async () => {
      await using q = await queue<string>('inner', null);
      try {
        observed.push(await q.get());
      } catch (error) {
        observed.push(error instanceof TaskCancelledError ? 'cancelled' : String(error));
        throw error;
      }
    });
    const starter = step('starter', async () => {
      listener();
      await using started = await queue<null>('release', null);
      await started.get();
      return 'step done';
    });
    const history = new MemoryHistory();
    const historian: Historian<[], { value: string; open: string[] }> = new Historian('w', async () => {
      const value = await starter();
      return { value, open: await visible(historian, null) };
    }, history);
    const result = historian.run();
    await untilSettled(async () => (await visible(historian, null)).join() === 'inner,release');
    await historian.act('release', null, 'put', null);
    assert.deepEqual(await result, { value: 'step done', open: [] });
    assert.deepEqual(observed, ['cancelled']);
  });

  test('tasks not awaited are cancelled when the task that started them ends, and when the workflow returns', async () => {
    const observed: string[] = [];
    const waiter = task('waiter', async (label: string) => {
      await using q = await queue<string>(label, null);
      try {
        return await q.get();
      } catch (error) {
        observed.push(`${label}: ${error instanceof TaskCancelledError ? 'cancelled' : String(error)}`);
        throw error;
      }
    });
    const bothOpen = async () => (await visible(historian, null)).join() === 'child,orphan';
    const parent = task('parent', async () => {
      waiter('child');
      // Not a Quest await: this workflow is never replayed, it only has to let the child open its queue.
      await untilSettled(bothOpen);
      return 'parent done';
    });
    const workflow = async () => {
      waiter('orphan');
      return parent();
    };
    const historian = new Historian('w', workflow, new MemoryHistory());
    assert.equal(await historian.run(), 'parent done');
    assert.deepEqual(observed.sort(), ['child: cancelled', 'orphan: cancelled']);
  });

  test('a cancelled task releases its resources and aliases, live and on replay alike', async () => {
    const held = new Map<string, string>();
    const aliases = {
      add: (name: string, workflowId: string) => {
        if (held.has(name)) throw new Error(`alias ${name} is taken`);
        held.set(name, workflowId);
      },
      remove: (name: string) => {
        held.delete(name);
      },
    };
    const attempts: string[] = [];
    const listener = task('listener', async () => {
      await using _nick = await alias('lobby');
      await using inbox = await queue<string>('inbox', null);
      try {
        return await inbox.get();
      } catch (error) {
        // Cancelled: no new Quest calls are possible any more.
        try {
          await queue('cleanup', null);
          attempts.push('opened');
        } catch (again) {
          attempts.push((again as Error).name);
        }
        throw error;
      }
    });
    const workflow = async () => {
      const handle = listener();
      await using stop = await event('stop', null);
      await stop.wait();
      handle.cancel();
      await handle.then(undefined, () => undefined);
      await using end = await queue<string>('end', null);
      return await end.get();
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history, { aliases });
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).join() === 'inbox,stop');
    assert.deepEqual([...held.keys()], ['lobby']);
    await first.act('stop', null, 'set');
    await untilSettled(async () => (await visible(first, null)).join() === 'end,stop');
    assert.deepEqual([...held.keys()], [], 'the alias was released when the task was cancelled');
    assert.deepEqual(attempts, ['TaskCancelledError']);
    await suspend(first, running);

    const second = new Historian('w', workflow, history, { aliases });
    const result = second.run();
    await replayed(second);
    assert.deepEqual(await visible(second, null), ['end', 'stop'], 'the cancelled task\'s queue is closed again on replay');
    assert.deepEqual([...held.keys()], [], 'and its alias released again');
    await second.act('end', null, 'put', 'bye');
    assert.equal(await result, 'bye');
    assert.deepEqual(attempts, ['TaskCancelledError', 'TaskCancelledError']);
  });

  test('only the workflow that started a task can cancel it', async () => {
    let handle: { cancel(): void } | undefined;
    const idle = task('idle', async () => {
      await using q = await queue<null>('q', null);
      await q.get();
    });
    const historian = new Historian('w', async () => {
      handle = idle();
      await handle;
    }, new MemoryHistory());
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    assert.throws(() => handle?.cancel(), { name: 'InvalidArgumentError' });
    await suspend(historian, running);
  });
});
