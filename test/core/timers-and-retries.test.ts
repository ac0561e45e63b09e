import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, sleep, step, wrapSteps, type StepEndRecord } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { outcome, suspend } from './support.js';

function sleepDeadline(history: MemoryHistory): { seq: number; deadline: number } | undefined {
  const record = history.snapshot().find((r) => r.type === 'step_end' && r.id === 'main/sleep.until') as StepEndRecord | undefined;
  return record === undefined ? undefined : { seq: record.seq, deadline: record.result as number };
}

test('a durable sleep resumes with the deadline recorded before the suspension and never wakes early', async () => {
  const history = new MemoryHistory();
  const workflow = async () => {
    await sleep(150);
    return Date.now();
  };
  const first = new Historian('sleeper', workflow, history);
  const firstRun = outcome(first.run());
  // The deadline is durable once its step ended; the wait starts right after.
  await untilSettled(() => sleepDeadline(history) !== undefined);
  await suspend(first, firstRun);
  const recorded = sleepDeadline(history);
  assert.ok(recorded !== undefined, 'the deadline is recorded before the wait');

  const second = new Historian('sleeper', workflow, history);
  const secondRun = second.run();
  const woke = await secondRun;
  assert.ok(woke >= recorded.deadline, 'the sleep ended at or after the recorded deadline');
});

test('a sleep whose deadline passed while the workflow was stopped ends at once on resume', async () => {
  const history = new MemoryHistory();
  let resumedAt = 0;
  const workflow = async () => {
    await sleep(new Date(Date.now() + 5));
    return Date.now() - resumedAt;
  };
  const first = new Historian('late', workflow, history);
  const firstRun = outcome(first.run());
  await untilSettled(() => sleepDeadline(history) !== undefined);
  await suspend(first, firstRun);
  const { deadline } = sleepDeadline(history) ?? assert.fail('deadline recorded');
  await untilSettled(() => Date.now() > deadline, 1e7);
  resumedAt = Date.now();
  const second = new Historian('late', workflow, history);
  // The recorded deadline is in the past: the step restarts with nothing left to wait.
  assert.ok((await second.run()) >= 0);
  assert.equal(history.size, 0);
});

test('sleep rejects a negative duration or an invalid date', async () => {
  const history = new MemoryHistory();
  const negative = new Historian('neg', async () => sleep(-1), history);
  await assert.rejects(negative.run(), { code: 'INVALID_ARGUMENT' });
  const invalid = new Historian('bad', async () => sleep(new Date('nonsense')), new MemoryHistory());
  await assert.rejects(invalid.run(), { code: 'INVALID_ARGUMENT' });
});

test('a step with a retry policy runs again until it succeeds', async () => {
  let executions = 0;
  const flaky = step('flaky', async () => {
    executions++;
    if (executions < 3) throw new Error(`attempt ${executions} failed`);
    return 'ok';
  }, { retry: { attempts: 5, delayMs: 1 } });
  const history = new MemoryHistory();
  const result = await new Historian('retry', async () => flaky(), history).run();
  assert.equal(result, 'ok');
  assert.equal(executions, 3);
});

test('a retried step gives up after its attempts and rethrows the last error', async () => {
  let executions = 0;
  const broken = step('broken', async () => {
    executions++;
    throw new RangeError(`attempt ${executions}`);
  }, { retry: { attempts: 2, delayMs: 1 } });
  const history = new MemoryHistory();
  const workflow = async () => {
    try {
      await broken();
    } catch (error) {
      return (error as Error).message;
    }
    return 'unreachable';
  };
  assert.equal(await new Historian('gives-up', workflow, history).run(), 'attempt 2');
  assert.equal(executions, 2);
});

test('errors the policy does not retry fail at once', async () => {
  let executions = 0;
  const fatal = step('fatal', async () => {
    executions++;
    throw new TypeError('bad input');
  }, { retry: { attempts: 5, delayMs: 1, retryIf: (error) => !(error instanceof TypeError) } });
  await assert.rejects(new Historian('fatal', async () => fatal(), new MemoryHistory()).run(), TypeError);
  assert.equal(executions, 1);
});

test('a restart in the middle of a retry backoff keeps the attempt count', async () => {
  let executions = 0;
  const flaky = step('flaky', async () => {
    executions++;
    if (executions < 3) throw new Error(`attempt ${executions} failed`);
    return executions;
  }, { retry: { attempts: 3, delayMs: 30, backoff: 1 } });
  const history = new MemoryHistory();
  const first = new Historian('backoff', async () => flaky(), history);
  const firstRun = outcome(first.run());
  // Suspend while it sleeps after the second failed attempt.
  await untilSettled(() => executions === 2 && history.snapshot().some((r) => r.type === 'step_end' && r.id === 'main/flaky/sleep.until#2'));
  await suspend(first, firstRun);
  const second = new Historian('backoff', async () => flaky(), history);
  assert.equal(await second.run(), 3, 'the third attempt is the last one allowed: attempts 1 and 2 were not forgotten');
  assert.equal(executions, 3);
});

test('invalid retry policies are refused when the step is declared', () => {
  assert.throws(() => step('x', async () => 1, { retry: { attempts: 0 } }), { code: 'INVALID_ARGUMENT' });
});

test('wrapSteps turns every method into a named step bound to its object', async () => {
  class Mailer {
    sent: string[] = [];
    async send(to: string): Promise<string> {
      this.sent.push(to);
      return `sent to ${to}`;
    }
    _internal(): void {}
  }
  const mailer = new Mailer();
  const steps = wrapSteps(mailer, 'mail');
  const history = new MemoryHistory();
  const workflow = async () => [await steps.send('ann'), await steps.send('bob')];
  assert.deepEqual(await new Historian('mail', workflow, history).run(), ['sent to ann', 'sent to bob']);
  assert.deepEqual(mailer.sent, ['ann', 'bob']);
  assert.equal('_internal' in steps, false, 'names starting with _ are left out');
});
