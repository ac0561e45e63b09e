/**
 * Outside events sent to a loop while its workflow is not running. Documented behaviour of Historian.act
 * (src/core/historian.ts): when no run exists (suspended, or this Historian has not been started) act() rejects
 * with WorkflowSuspendedError and changes nothing; right after run() and while the history is replayed it
 * waits, and delivers once replay has caught up. So a producer retries a rejected event after the resume, and
 * an event is either recorded (act resolved) or not at all (act rejected): retrying never duplicates it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, WorkflowSuspendedError, done, isSuspension, loop, queue, step } from '../../src/index.js';
import { TrackedHistory, outcome, suspend, summary, value, type Outcome } from './support.js';

/** The loop under test: collects outside events in order, applying each in a step (the effect log). */
function collector() {
  const effects: number[] = [];
  const apply = step('apply', async (n: number) => {
    effects.push(n);
    return n;
  });
  const workflow = async (): Promise<number[]> => {
    await using events = await queue<number>('events', null);
    return await loop('collect', [] as number[], async (seen: number[]) => {
      const n = await events.get();
      if (n < 0) return done(seen);
      await apply(n);
      return [...seen, n];
    });
  };
  return { workflow, effects };
}

type Collector = ReturnType<typeof collector>;

function start(scenario: Collector, history: TrackedHistory): { historian: Historian<never[], number[]>; running: Promise<Outcome<number[]>> } {
  const historian = new Historian<never[], number[]>('collector', scenario.workflow, history);
  return { historian, running: outcome(historian.run()) };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('loop(): events sent while the workflow is suspended', () => {
  test('act() on a suspended workflow rejects with WorkflowSuspendedError and records nothing; the retry after resume is delivered once', async () => {
    const scenario = collector();
    const history = new TrackedHistory();
    let { historian, running } = start(scenario, history);
    await historian.waitForResource('events', null);
    for (const n of range(1, 3)) {
      await historian.act('events', null, 'put', n);
      await history.checkpointed(n);
    }
    await suspend(historian, running);
    const atSuspension = summary(history);

    // Suspended: refused, nothing recorded. Waiting for a resource is refused too.
    await assert.rejects(historian.act('events', null, 'put', 4), WorkflowSuspendedError);
    await assert.rejects(historian.waitForResource('events', null), WorkflowSuspendedError);
    // A new Historian that has not been started yet refuses as well.
    const notStarted = new Historian('collector', scenario.workflow, history);
    await assert.rejects(notStarted.act('events', null, 'put', 4), WorkflowSuspendedError);
    assert.deepEqual(summary(history), atSuspension);

    // The producer retries after the resume: right after run(), without waiting for anything.
    ({ historian, running } = start(scenario, history));
    await historian.act('events', null, 'put', 4);
    await history.checkpointed(4);
    await historian.act('events', null, 'put', -1);
    assert.deepEqual(await value(running), range(1, 4));
    assert.deepEqual(scenario.effects, range(1, 4));
  });

  test('puts sent right after run(), during replay, wait until it has caught up and arrive in the order sent', async () => {
    const scenario = collector();
    const history = new TrackedHistory();
    let { historian, running } = start(scenario, history);
    await historian.waitForResource('events', null);
    await historian.act('events', null, 'put', 1);
    await history.checkpointed(1);
    await suspend(historian, running);

    ({ historian, running } = start(scenario, history));
    // All sent at once, before the run even exists (the history is still loading).
    const puts = range(2, 20).map((n) => historian.act('events', null, 'put', n));
    await Promise.all(puts);
    await historian.act('events', null, 'put', -1);
    assert.deepEqual(await value(running), range(1, 20));
    assert.deepEqual(scenario.effects, range(1, 20));
  });

  test('a put racing a suspension is either recorded (act resolves) or not at all (act rejects): retrying the rejected ones never duplicates', async () => {
    const scenario = collector();
    const history = new TrackedHistory();
    let { historian, running } = start(scenario, history);
    await historian.waitForResource('events', null);
    const delivered: number[] = [];
    const retry: number[] = [];
    const send = (n: number) =>
      historian.act('events', null, 'put', n).then(
        () => delivered.push(n),
        (error: unknown) => {
          assert.ok(isSuspension(error), String(error));
          retry.push(n);
        },
      );
    const restart = async () => {
      await suspend(historian, running);
      ({ historian, running } = start(scenario, history));
    };

    // 1. Sent in the same turn as the suspension, before it: recorded.
    const first = send(1);
    await restart();
    await first;
    // 2. Sent right after suspend() was called: refused.
    const suspending = historian.suspend();
    const second = send(2);
    await suspending;
    await second;
    ({ historian, running } = start(scenario, history));
    // 3. Sent during replay, suspended before replay caught up: waits, then refused.
    const third = send(3);
    await restart();
    await third;
    // 4. Many in flight on a live run, the suspension called in the middle of them (same turn).
    await historian.waitForResource('events', null);
    const before = range(4, 6).map(send);
    const stopping = restart();
    const after = range(7, 9).map(send);
    await stopping;
    await Promise.all([...before, ...after]);
    // 5. Many sent right after run(), during replay: all wait and are delivered.
    await Promise.all(range(10, 12).map(send));

    assert.deepEqual(delivered.slice(0, 1), [1]);
    assert.ok(retry.includes(2) && retry.includes(3), `refused: ${JSON.stringify(retry)}`);
    assert.deepEqual(delivered.slice(-3), [10, 11, 12]);
    // The retries, in the order they were refused, after the last resume.
    for (const n of [...retry]) await historian.act('events', null, 'put', n);
    await historian.act('events', null, 'put', -1);
    const seen = await value(running);
    assert.deepEqual([...seen].sort((a, b) => a - b), range(1, 12), 'each event exactly once');
    assert.deepEqual(seen, [...delivered, ...retry].filter((n) => n > 0), 'in the order they were recorded');
    assert.deepEqual(scenario.effects, seen);
  });
});
