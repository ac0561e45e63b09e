import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, done, event, loop, queue, state, step, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { gate, outcome, replayed, summary, suspend, visible } from './support.js';

describe('pruning', () => {
  test('outside events on a step-scoped resource are pruned with the step', async () => {
    const getValue = step('getValue', async () => {
      await using values = await queue<number>('the-queue', null);
      return await values.get();
    });
    const workflow = async () => (await getValue()) + (await getValue());
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).includes('the-queue'));
    await first.act('the-queue', null, 'put', 1);
    await untilSettled(() => summary(history).includes('step_end main/getValue'));
    await untilSettled(async () => (await visible(first, null)).includes('the-queue'));
    await suspend(first, running);
    // The first step's queue, the outside put on it and the get are gone; only the step's result is left.
    assert.deepEqual(summary(history), ['step_end main/getValue', 'step_start main/getValue#2', 'resource_open main/getValue#2/queue:the-queue']);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).includes('the-queue'));
    await second.act('the-queue', null, 'put', 2);
    assert.equal(await result, 3);
  });

  test('outside events on resources that outlive a step are kept when the step ends', async () => {
    const hold = gate();
    let ran = 0;
    const work = step('work', async () => {
      ran++;
      const part = step('part', async (n: number) => n);
      const sum = (await part(1)) + (await part(2));
      await hold.promise;
      return sum;
    });
    const workflow = async () => {
      await using config = await state('config', null, 'default');
      await using inbox = await queue<string>('inbox', null);
      const sum = await work();
      await using go = await event('go', null);
      await go.wait();
      return { sum, config: config.get(), message: await inbox.get() };
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => ran === 1 && (await visible(first, null)).length === 2);
    await first.act('config', null, 'set', 'custom');
    await first.act('inbox', null, 'put', 'hello');
    hold.open();
    await untilSettled(async () => (await visible(first, null)).includes('go'));
    await suspend(first, running);
    assert.deepEqual(summary(history), [
      'resource_open main/state:config',
      'resource_open main/queue:inbox',
      'external main/state:config',
      'external main/queue:inbox',
      'step_end main/work',
      'resource_open main/event:go',
    ]);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await replayed(second);
    await second.act('go', null, 'set');
    assert.deepEqual(await result, { sum: 3, config: 'custom', message: 'hello' });
    assert.equal(ran, 1);
  });

  /** N outer steps, each doing `width` sub-steps with their own resources, then a wait on a top-level queue. */
  async function sizeAfter(n: number, width: number): Promise<{ size: number; records: string[] }> {
    const leaf = step('leaf', async (i: number) => i);
    const middle = step('middle', async (i: number) => {
      await using scratch = await state('scratch', null, 0);
      let total = 0;
      for (let j = 0; j < width; j++) total += await leaf(i + j);
      await scratch.set(total);
      return scratch.get();
    });
    const outer = step('outer', async (i: number) => (await middle(i)) + (await middle(i + 1)));
    const workflow = async () => {
      const results: number[] = [];
      for (let i = 0; i < n; i++) results.push(await outer(i));
      await using go = await queue<null>('go', null);
      await go.get();
      return results;
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    await suspend(historian, running);
    return { size: history.size, records: summary(history) };
  }

  test('the history after N completed steps holds N records, however much nested work each did', async () => {
    const small = await sizeAfter(3, 1);
    assert.equal(small.size, 3 + 1);
    assert.deepEqual(small.records, ['step_end main/outer', 'step_end main/outer#2', 'step_end main/outer#3', 'resource_open main/queue:go']);
    assert.equal((await sizeAfter(3, 6)).size, 3 + 1, 'wider nested work adds nothing');
    assert.equal((await sizeAfter(12, 6)).size, 12 + 1, 'each completed step adds one record');
  });

  test('a step named "do" ending does not prune a concurrent task named "do_more"', async () => {
    const counts = { inner: 0, doBody: 0 };
    const doHold = gate();
    const inner = step('inner', async () => ++counts.inner);
    const doMore = task('do_more', async () => {
      const value = await inner();
      await using more = await queue<string>('more', null);
      return `${value}:${await more.get()}`;
    });
    const doStep = step('do', async () => {
      counts.doBody++;
      const own = step('inner', async () => 'own');
      const value = await own();
      await doHold.promise;
      return value;
    });
    const workflow = async () => {
      const other = doMore();
      const mine = await doStep();
      await using finish = await event('finish', null);
      await finish.wait();
      return [mine, await other];
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => counts.inner === 1 && counts.doBody === 1 && (await visible(first, null)).includes('more'));
    doHold.open();
    await untilSettled(async () => (await visible(first, null)).includes('finish'));
    await suspend(first, running);
    const records = summary(history);
    assert.ok(records.includes('step_end main/do_more/inner'), `do_more's step survived the end of "do": ${records.join(', ')}`);
    assert.ok(records.includes('step_end main/do'));
    assert.ok(!records.includes('step_end main/do/inner'), 'the sub-step of "do" was pruned');

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await replayed(second);
    await second.act('more', null, 'put', 'x');
    await second.act('finish', null, 'set');
    assert.deepEqual(await result, ['own', '1:x']);
    assert.deepEqual(counts, { inner: 1, doBody: 1 }, 'nothing ran twice');
  });

  test('a task started inside a step is pruned with the step', async () => {
    const helper = task('helper', async (n: number) => step('double', async () => n * 2)());
    const outer = step('outer', async () => (await helper(1)) + (await helper(2)));
    const workflow = async () => {
      const value = await outer();
      await using go = await queue<null>('go', null);
      await go.get();
      return value;
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    await suspend(historian, running);
    assert.deepEqual(summary(history), ['step_end main/outer', 'resource_open main/queue:go']);
  });
  test('a step that closes a resource opened outside it: the close replays at its place, and the name can be opened again', async () => {
    let closes = 0;
    const workflow = async () => {
      const inbox = await queue<string>('inbox', null);
      const first = await inbox.get();
      const finish = step('finish', async () => {
        closes++;
        await inbox.close();
        return first.toUpperCase();
      });
      const upper = await finish();
      await using again = await queue<string>('inbox', null);
      return `${upper} ${await again.get()}`;
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('inbox'));
    await historian.act('inbox', null, 'put', 'hello');
    await untilSettled(async () => summary(history).includes('step_end main/finish') && (await visible(historian, null)).includes('inbox'));
    await suspend(historian, running);
    // The step's own records are gone; the close it made stays with the queue, which was opened outside it.
    assert.deepEqual(summary(history), [
      'resource_open main/queue:inbox',
      'external main/queue:inbox',
      'internal main/inbox.get',
      'resource_close main/queue:inbox',
      'step_end main/finish',
      'resource_open main/queue:inbox#2',
    ]);

    const resumed = new Historian('w', workflow, history);
    const result = resumed.run();
    await untilSettled(async () => (await visible(resumed, null)).includes('inbox'));
    await resumed.act('inbox', null, 'put', 'world');
    assert.equal(await result, 'HELLO world');
    assert.equal(closes, 1);
  });
  test('outside sets of a state replace each other in the history: only the newest stays', async () => {
    const workflow = async () => {
      await using config = await state('config', null, 'default');
      await using go = await event('go', null);
      await go.wait();
      return config.get();
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    for (let n = 1; n <= 100; n++) await historian.act('config', null, 'set', `value ${n}`);
    await suspend(historian, running);
    assert.deepEqual(summary(history), ['resource_open main/state:config', 'resource_open main/event:go', 'external main/state:config']);

    const resumed = new Historian('w', workflow, history);
    const result = resumed.run();
    await untilSettled(async () => (await visible(resumed, null)).includes('go'));
    assert.equal(await resumed.act('config', null, 'get'), 'value 100');
    await resumed.act('go', null, 'set');
    assert.equal(await result, 'value 100');
  });

  test('an older state set stays while a record some code claims lies between it and the newer one', async () => {
    const workflow = async () => {
      await using progress = await state('progress', null, 0);
      await using pings = await queue<string>('pings', null);
      await using work = await queue<number>('work', null);
      const watch = task('watch', async () => {
        await pings.get();
        // What the task sees here decides which step it calls: a replay that showed it another value diverges.
        const seen = progress.get();
        return step(`saw-${seen}`, async () => seen)();
      });
      const watcher = watch();
      const total = await loop('sum', 0, async (sum: number) => {
        const n = await work.get();
        if (n < 0) return done(sum);
        await progress.set(sum + n);
        return sum + n;
      });
      return [total, await watcher];
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('work'));
    const sets = (): unknown[] => history.snapshot().filter((record) => record.type === 'internal' && record.action === 'set').map((record) => ('args' in record ? record.args[0] : undefined));
    await historian.act('work', null, 'put', 1);
    await untilSettled(() => sets().includes(1) && summary(history).includes('checkpoint main/sum'));
    await historian.act('pings', null, 'put', 'ping');
    await untilSettled(() => summary(history).includes('step_end main/watch/saw-1'));
    await historian.act('work', null, 'put', 2);
    await historian.act('work', null, 'put', 3);
    await untilSettled(() => sets().includes(6));
    await suspend(historian, running);
    // 1 was set before the task's get, which is claimed on replay: it stays. 3 was replaced by 6.
    assert.deepEqual(sets(), [1, 6]);

    const resumed = new Historian('w', workflow, history);
    const result = resumed.run();
    await untilSettled(async () => (await visible(resumed, null)).includes('work'));
    await resumed.act('work', null, 'put', -1);
    assert.deepEqual(await result, [6, 1]);
  });
  test('a history that kept every outside set (written before sets replaced each other) sheds the older ones at its next replay', async () => {
    const workflow = async () => {
      await using config = await state('config', null, 'default');
      await using go = await event('go', null);
      await go.wait();
      return config.get();
    };
    const written = new MemoryHistory();
    const first = new Historian('w', workflow, written);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).includes('go'));
    await first.act('config', null, 'set', 'newest');
    await suspend(first, running);
    // Rebuild the history as an older Quest left it: two earlier outside sets still in place.
    const [openConfig, openGo, newest] = written.snapshot();
    assert.ok(openConfig !== undefined && openGo !== undefined && newest?.type === 'external');
    const set = (seq: number, value: string) => ({ ...newest, seq, args: [value] });
    const history = new MemoryHistory();
    history.commit({ append: [openConfig, openGo, set(10, 'oldest'), set(11, 'older'), set(12, 'newest')], remove: [] });

    const resumed = new Historian('w', workflow, history);
    const result = resumed.run();
    await replayed(resumed);
    assert.deepEqual(history.snapshot().map((record) => ('args' in record ? record.args : undefined)), [undefined, undefined, ['newest']]);
    await resumed.act('go', null, 'set');
    assert.equal(await result, 'newest');
  });
  test('a close made in a nested step, replayed while the enclosing step runs again, is pruned with that step', async () => {
    let hold = gate();
    const outer = step('outer', async () => {
      const inbox = await queue<string>('inbox', null);
      await step('inner', async () => {
        await inbox.close();
      })();
      await hold.promise;
      return 'ok';
    });
    const workflow = async () => {
      const result = await outer();
      await using go = await event('go', null);
      await go.wait();
      return result;
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const firstRun = outcome(first.run());
    await untilSettled(() => summary(history).includes('step_end main/outer/inner'));
    await suspend(first, firstRun);

    // The outer step runs again: its inner step replays, the close is applied from the history.
    hold = gate();
    hold.open();
    const second = new Historian('w', workflow, history);
    const secondRun = outcome(second.run());
    await untilSettled(async () => (await visible(second, null)).includes('go'));
    await suspend(second, secondRun);
    assert.deepEqual(summary(history), ['step_end main/outer', 'resource_open main/event:go']);

    const third = new Historian('w', workflow, history);
    const result = third.run();
    await untilSettled(async () => (await visible(third, null)).includes('go'));
    await third.act('go', null, 'set');
    assert.equal(await result, 'ok');
  });
});
