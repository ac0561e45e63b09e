import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, isSuspension, queue, step } from '../../src/index.js';
import { untilSettled } from '../helpers.js';

test('replays completed steps without running them again after a suspend', async () => {
  let executions = 0;
  const double = step('double', async (n: number) => {
    executions++;
    return n * 2;
  });
  const workflow = async () => {
    const doubled = [await double(1), await double(2)];
    await using words = await queue<string>('words', null);
    return { doubled, word: await words.get() };
  };
  const history = new MemoryHistory();
  const first = new Historian('w', workflow, history);
  const suspended = first.run().catch((error: unknown) => error);
  await untilSettled(async () => (await first.resources(null)).length === 1);
  await first.suspend();
  assert.ok(isSuspension(await suspended));
  assert.equal(executions, 2);

  const second = new Historian('w', workflow, history);
  const result = second.run();
  await untilSettled(async () => (await second.resources(null)).length === 1);
  await second.act('words', null, 'put', 'hi');
  assert.deepEqual(await result, { doubled: [2, 4], word: 'hi' });
  assert.equal(executions, 2);
  assert.equal(history.size, 0, 'a finished workflow leaves no history');
});
