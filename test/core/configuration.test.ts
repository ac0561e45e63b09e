import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, queue, step } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { failure, outcome, replayed, suspend, visible } from './support.js';

interface Config {
  foos: string[];
}

/**
 * One process's worth of the application: its own configurable state (a restart starts from scratch), a
 * configuration function, and a workflow that labels each item by the configuration in effect.
 */
function application(displayed: string[]) {
  const known = { foos: [] as string[], bars: [] as string[] };
  function configureState(config: Config): void {
    // Foos no longer configured become bars; new foos are added.
    for (const foo of [...known.foos]) {
      if (!config.foos.includes(foo)) {
        known.bars.push(foo);
        known.foos.splice(known.foos.indexOf(foo), 1);
      }
    }
    for (const foo of config.foos) if (!known.foos.includes(foo)) known.foos.push(foo);
  }
  const display = step('display', async (message: string) => {
    displayed.push(message);
  });
  const workflow = async () => {
    const labels: string[] = [];
    await using inputs = await queue<string>('foobar', null);
    for (;;) {
      const item = await inputs.get();
      if (item === 'end') return labels;
      const label = known.foos.includes(item) ? `${item} is foo` : known.bars.includes(item) ? `${item} is bar` : `${item}?`;
      labels.push(label);
      await display(label);
    }
  };
  return { configureState, workflow };
}

async function putAll(historian: Historian<never[], string[]>, items: string[]): Promise<void> {
  await untilSettled(async () => (await visible(historian, null)).includes('foobar'));
  for (const item of items) {
    await historian.act('foobar', null, 'put', item);
    await untilSettled(async () => ((await historian.resources(null))[0]?.view as { size: number } | undefined)?.size !== 1);
  }
}

describe('configuration', () => {
  test('a configuration appended at a restart changes how later events are handled, not earlier ones', async () => {
    const displayed: string[] = [];
    const history = new MemoryHistory();

    const first = application(displayed);
    const before = new Historian('w', first.workflow, history).configure(first.configureState, { foos: ['a', 'b'] });
    const running = outcome(before.run());
    await putAll(before, ['a', 'b', 'c']);
    await suspend(before, running);
    assert.deepEqual(history.snapshot().filter((r) => r.type === 'config').length, 1);

    // A new process: fresh state; the earlier configuration registered again, then the new one appended.
    const second = application(displayed);
    const after = new Historian('w', second.workflow, history)
      .configure(second.configureState, { foos: ['a', 'b'] })
      .configure(second.configureState, { foos: ['a'] });
    const result = after.run();
    await replayed(after);
    await putAll(after, ['a', 'b', 'c', 'end']);
    // The labels of the first three items were computed again during replay, under the first configuration.
    assert.deepEqual(await result, ['a is foo', 'b is foo', 'c?', 'a is foo', 'b is bar', 'c?']);
    assert.deepEqual(displayed, ['a is foo', 'b is foo', 'c?', 'a is foo', 'b is bar', 'c?']);
  });

  test('configurations replay with their recorded arguments, not the ones registered at the restart', async () => {
    const displayed: string[] = [];
    const history = new MemoryHistory();
    const first = application(displayed);
    const before = new Historian('w', first.workflow, history).configure(first.configureState, { foos: ['x'] });
    const running = outcome(before.run());
    await putAll(before, ['x']);
    await suspend(before, running);

    const second = application(displayed);
    const after = new Historian('w', second.workflow, history).configure(second.configureState, { foos: [] });
    const result = after.run();
    await replayed(after);
    await putAll(after, ['x', 'end']);
    assert.deepEqual(await result, ['x is foo', 'x is foo']);
  });

  test('a restart that registers a different configuration than the history recorded fails clearly', async () => {
    const history = new MemoryHistory();
    const first = application([]);
    const before = new Historian('w', first.workflow, history).configure(first.configureState, { foos: [] });
    const running = outcome(before.run());
    await putAll(before, ['a']);
    await suspend(before, running);

    function otherSetup(): void {}
    const error = await failure(new Historian('w', application([]).workflow, history).configure(otherSetup).run());
    assert.equal(error.name, 'ConfigurationMismatchError');
    assert.match(error.message, /configureState/);
    assert.match(error.message, /otherSetup/);

    const none = await failure(new Historian('w', application([]).workflow, history).run());
    assert.equal(none.name, 'ConfigurationMismatchError');
  });

  test('configure() needs a named function and must come before run()', async () => {
    const historian = new Historian('w', async () => 1, new MemoryHistory());
    assert.throws(() => historian.configure(() => undefined), { name: 'InvalidArgumentError' });
    const running = historian.run();
    assert.throws(() => historian.configure(function late() {}), { name: 'InvalidArgumentError' });
    assert.equal(await running, 1);
  });
});
