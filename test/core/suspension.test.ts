import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Historian, MemoryHistory, abortSignal, queue, step, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { gate, outcome, suspend, visible } from './support.js';

// A regression here shows up as a hang: fail it instead.
describe('suspension', { timeout: 5000 }, () => {
  test('suspend() right after run() suspends (it does not wait for the workflow to finish)', async () => {
    let runs = 0;
    const work = step('work', async () => ++runs);
    const workflow = async () => {
      await work();
      await using go = await queue<null>('go', null);
      await go.get();
      return runs;
    };
    const history = new MemoryHistory();
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await suspend(historian, running);
    assert.equal(historian.status, 'suspended');
    assert.equal(history.size, 0, 'nothing was recorded');

    const again = new Historian('w', workflow, history);
    const result = again.run();
    await untilSettled(async () => (await visible(again, null)).length === 1);
    await again.act('go', null, 'put', null);
    assert.equal(await result, 1);
  });

  test('suspending at any point of a replay leaves the history as it was', async () => {
    let runs = 0;
    const work = step('work', async (n: number) => {
      runs++;
      return n;
    });
    const worker = task('worker', async (base: number) => {
      let total = 0;
      for (let i = 0; i < 4; i++) total += await work(base + i);
      await using input = await queue<number>(`in${base}`, null);
      return total + (await input.get());
    });
    const workflow = async () => {
      const a = worker(10);
      const b = worker(20);
      return [await a, await b];
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 2);
    await first.act('in10', null, 'put', 1000);
    await suspend(first, running);
    const recorded = JSON.stringify(history.snapshot());
    assert.equal(runs, 8);

    for (let turns = 0; turns < 12; turns++) {
      const historian = new Historian('w', workflow, history);
      const interrupted = outcome(historian.run());
      for (let i = 0; i < turns; i++) await nextTurn();
      await suspend(historian, interrupted);
      assert.equal(JSON.stringify(history.snapshot()), recorded, `suspended after ${turns} turns`);
    }

    const last = new Historian('w', workflow, history);
    const result = last.run();
    await untilSettled(async () => (await visible(last, null)).join() === 'in20');
    await last.act('in20', null, 'put', 2000);
    assert.deepEqual(await result, [1046, 2086]);
    assert.equal(runs, 8, 'no step ran again');
  });

  test('a step running when the workflow is suspended sees its abort signal', async () => {
    const aborted = gate<string>();
    let watching = false;
    const watch = step('watch', async () => {
      const signal = abortSignal();
      watching = true;
      signal.addEventListener('abort', () => aborted.open(String((signal.reason as Error).name)));
      await new Promise(() => undefined);
    });
    const historian = new Historian('w', () => watch(), new MemoryHistory());
    const running = outcome(historian.run());
    await untilSettled(() => watching);
    await suspend(historian, running);
    assert.equal(await aborted.promise, 'WorkflowSuspendedError');
  });

  test('status follows the workflow: idle, running, suspended, completed, failed', async () => {
    const historian = new Historian('w', async () => {
      await using go = await queue<string>('go', null);
      const word = await go.get();
      if (word === 'fail') throw new Error('asked to fail');
      return word;
    }, new MemoryHistory());
    assert.equal(historian.status, 'idle');
    await historian.suspend();
    const running = outcome(historian.run());
    assert.equal(historian.status, 'running');
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    await suspend(historian, running);
    assert.equal(historian.status, 'suspended');

    const result = historian.run();
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    await historian.act('go', null, 'put', 'ok');
    assert.equal(await result, 'ok');
    assert.equal(historian.status, 'completed');

    const failing = historian.run();
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    await historian.act('go', null, 'put', 'fail');
    await assert.rejects(failing, /asked to fail/);
    assert.equal(historian.status, 'failed');
  });
});
