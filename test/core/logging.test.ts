import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, createLogger, queue, step, task, workflowLogFields } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { outcome, replayed, suspend, visible } from './support.js';

interface Line {
  msg: string;
  workflow?: string;
  task?: string;
  replaying?: boolean;
  level: number;
  user?: string;
}

/** A logger whose JSON lines land in `lines`. */
function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: Line[] = [];
  const log = createLogger(options, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  return { lines, log };
}

describe('logging', () => {
  test('lines written inside a workflow carry the workflow and the task, without wiring', async () => {
    const { lines, log } = capture();
    const work = step('work', async (label: string) => log.info(`step in ${label}`));
    const worker = task('worker', async () => {
      log.info('in worker');
      await work('worker');
    });
    const historian = new Historian('order-7', async () => {
      log.info('in main');
      await worker();
      await work('main');
    }, new MemoryHistory());
    log.info('outside');
    await historian.run();
    assert.deepEqual(
      lines.map(({ msg, workflow, task: taskId }) => ({ msg, workflow, task: taskId })),
      [
        { msg: 'outside', workflow: undefined, task: undefined },
        { msg: 'in main', workflow: 'order-7', task: 'main' },
        { msg: 'in worker', workflow: 'order-7', task: 'main/worker' },
        { msg: 'step in worker', workflow: 'order-7', task: 'main/worker' },
        { msg: 'step in main', workflow: 'order-7', task: 'main' },
      ],
    );
    assert.ok(lines.every((line) => line.replaying === undefined), 'a fresh run is not replaying');
  });

  test('lines written while the history replays say so; live lines after it do not', async () => {
    const { lines, log } = capture();
    const workflow = async () => {
      log.info('started');
      await using go = await queue<null>('go', null);
      await go.get();
      log.info('continued');
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    const second = new Historian('w', workflow, history);
    const result = second.run();
    await replayed(second);
    await second.act('go', null, 'put', null);
    await result;
    assert.deepEqual(lines.map((line) => `${line.msg}${line.replaying === true ? ' (replaying)' : ''}`), [
      'started',
      'started (replaying)',
      'continued',
    ]);
  });

  test('a user mixin and level options are kept', async () => {
    const { lines, log } = capture({ level: 'warn', mixin: () => ({ user: 'ann' }) });
    await new Historian('w', async () => {
      log.info('dropped');
      log.warn('kept');
    }, new MemoryHistory()).run();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.msg, 'kept');
    assert.equal(lines[0]?.user, 'ann');
    assert.equal(lines[0]?.task, 'main');
    assert.deepEqual(workflowLogFields(), {}, 'outside a workflow there are no workflow fields');
  });
});
