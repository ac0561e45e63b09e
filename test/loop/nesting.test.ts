/**
 * loop() in context: a loop inside a step, a step (and a loop) inside an iteration, an iteration that throws,
 * a finished loop on replay, and a loop state that needs the serializer (a Map, a registered class).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { done, loop, queue, registerError, registerType, step, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { Runner, gate, summary, suspend } from './support.js';

describe('loop(): nesting', () => {
  test('a loop inside a step: its checkpoints go with the step; a restart mid-loop re-enters the step at the checkpoint', async () => {
    let stepRuns = 0;
    let bodyCalls = 0;
    const batch = step('batch', async (size: number, inbox: { get(): Promise<number> }) => {
      stepRuns++;
      return loop('collect', [] as number[], async (items: number[]) => {
        bodyCalls++;
        const n = await inbox.get();
        const next = [...items, n];
        return next.length === size ? done(next) : next;
      });
    });
    const workflow = async () => {
      await using inbox = await queue<number>('inbox', null);
      const first = await batch(3, inbox);
      const second = await batch(4, inbox);
      return [first, second];
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('inbox', null);
    for (const n of [1, 2, 3]) await run.act('inbox', null, 'put', n);
    await untilSettled(() => summary(run.history).includes('step_end main/batch'));
    for (const n of [4, 5]) await run.act('inbox', null, 'put', n);
    await run.history.checkpointed(2, 'main/batch#2/collect');
    // The first step's loop left nothing: its checkpoint and iterations went with the step's end. The second
    // step's loop holds one checkpoint (2 items) and its next iteration.
    await suspend(run.historian, run.running);
    assert.deepEqual(summary(run.history), [
      'resource_open main/queue:inbox',
      'step_end main/batch',
      'step_start main/batch#2',
      'checkpoint main/batch#2/collect',
      'step_start main/batch#2/collect/#3',
    ]);
    const before = { stepRuns, bodyCalls };
    run.history.resetMax();
    const resumed = new Runner(workflow, run.history);
    await resumed.act('inbox', null, 'put', 6);
    await resumed.act('inbox', null, 'put', 7);
    assert.deepEqual(await resumed.result(), [[1, 2, 3], [4, 5, 6, 7]]);
    // The first step replayed from its end; the second ran again, its loop resuming at iteration 3.
    assert.equal(stepRuns - before.stepRuns, 1);
    assert.equal(bodyCalls - before.bodyCalls, 2);
  });

  test('a loop inside a step stays bounded: 2,000 events, at most 5 records', async () => {
    const drain = step('drain', async (inbox: { get(): Promise<number> }) =>
      loop('sum', 0, async (sum: number) => {
        const n = await inbox.get();
        return n < 0 ? done(sum) : sum + n;
      }),
    );
    const workflow = async () => {
      await using inbox = await queue<number>('inbox', null);
      return await drain(inbox);
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('inbox', null);
    for (let n = 1; n <= 2_000; n++) {
      await run.act('inbox', null, 'put', n);
      await run.history.checkpointed(n);
    }
    // open + the step's start + checkpoint + iteration start + the pending event.
    assert.equal(run.history.maxSize, 5);
    await run.act('inbox', null, 'put', -1);
    assert.equal(await run.result(), (2_000 * 2_001) / 2);
  });

  test('steps nested two deep and a loop inside an iteration: restarts inside each level lose and repeat nothing', async () => {
    const effects: string[] = [];
    const holds = new Map<string, ReturnType<typeof gate>>();
    const attempts = new Map<string, number>();
    const inner = step('inner', async (label: string) => {
      attempts.set(label, (attempts.get(label) ?? 0) + 1);
      const hold = holds.get(label);
      if (hold !== undefined) {
        holds.delete(label);
        await hold.promise;
        return null; // a cut-off attempt: its result is dropped and it runs again
      }
      effects.push(label);
      return label;
    });
    const outer = step('outer', async (label: string) => `${await inner(label)}!`);
    const workflow = async () => {
      await using inbox = await queue<number>('inbox', null);
      // Each round reads events until a 0, in an inner loop, and handles each in nested steps.
      return await loop('rounds', [] as string[][], async (rounds: string[][], round) => {
        if (round > 3) return done(rounds);
        const handled = await loop('events', [] as string[], async (items: string[]) => {
          const n = await inbox.get();
          if (n === 0) return done(items);
          return [...items, await outer(`${round}.${n}`)];
        });
        return [...rounds, handled];
      });
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('inbox', null);
    await run.act('inbox', null, 'put', 1);
    await run.act('inbox', null, 'put', 2);
    const cut = gate();
    holds.set('1.3', cut);
    await run.act('inbox', null, 'put', 3);
    await untilSettled(() => attempts.get('1.3') === 1);
    await run.restart(); // inside the inner step, inside the outer step, inside both loops
    cut.open();
    await run.act('inbox', null, 'put', 0);
    await run.act('inbox', null, 'put', 1);
    await untilSettled(() => effects.includes('2.1'));
    await run.restart(); // round 2's inner loop between events
    await run.act('inbox', null, 'put', 2);
    await run.act('inbox', null, 'put', 0);
    await run.act('inbox', null, 'put', 0); // round 3: empty
    const rounds = await run.result();
    assert.deepEqual(rounds, [['1.1!', '1.2!', '1.3!'], ['2.1!', '2.2!'], []]);
    assert.deepEqual(effects, ['1.1', '1.2', '1.3', '2.1', '2.2']);
    assert.equal(attempts.get('1.3'), 2);
  });
});

describe('loop(): in tasks', () => {
  test('two loops in concurrent tasks, each with a task inside its iterations: at most 12 records, exact across restarts', async () => {
    const doubled: string[] = [];
    const double = task('double', async (label: string, n: number) => {
      const result = await step('effect', async () => {
        doubled.push(`${label}:${n}`);
        return 2 * n;
      })();
      return result;
    });
    const summer = task('summer', async (name: string) => {
      await using numbers = await queue<number>(name, null);
      return await loop('sum', 0, async (sum: number) => {
        const n = await numbers.get();
        if (n < 0) return done(sum);
        return sum + (await double(name, n));
      });
    });
    const workflow = async () => {
      const a = summer('a');
      const b = summer('b');
      return [await a, await b];
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('a', null);
    await run.historian.waitForResource('b', null);
    for (let n = 1; n <= 200; n++) {
      await run.act(n % 2 === 0 ? 'a' : 'b', null, 'put', n);
      await run.history.checkpointed(Math.ceil(n / 2), `main/summer${n % 2 === 0 ? '' : '#2'}/sum`);
      if (n % 50 === 25) await run.restart();
    }
    // Per loop task: its start, its queue's open, a checkpoint, the iteration in progress (8 for both); plus the
    // event being handled, its get, the inner task's start and its step's end: at most 12 at any commit.
    assert.ok(run.history.maxSize <= 12, `${run.history.maxSize} records`);
    await run.act('a', null, 'put', -1);
    await run.act('b', null, 'put', -1);
    const evens = Array.from({ length: 100 }, (_, i) => 2 * (i + 1));
    const odds = evens.map((n) => n - 1);
    assert.deepEqual(await run.result(), [2 * evens.reduce((x, y) => x + y), 2 * odds.reduce((x, y) => x + y)]);
    assert.equal(doubled.length, 200);
    assert.equal(new Set(doubled).size, 200);
  });
});

class Overdraft extends Error {
  override name = 'Overdraft';
  constructor(readonly balance: number) {
    super(`balance would be ${balance}`);
  }
}
registerError(Overdraft);

describe('loop(): how it ends', () => {
  test('an iteration that throws ends the loop with that error, and the error is rethrown on replay', async () => {
    let bodyCalls = 0;
    const caught: unknown[] = [];
    const workflow = async () => {
      await using payments = await queue<number>('payments', null);
      await using resume = await queue<string>('resume', null);
      try {
        await loop('balance', 0, async (balance: number) => {
          bodyCalls++;
          const n = await payments.get();
          if (balance + n < 0) throw new Overdraft(balance + n);
          return balance + n;
        });
      } catch (error) {
        caught.push(error);
      }
      await resume.get();
      return payments.size;
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('payments', null);
    for (const n of [10, 5, -20]) await run.act('payments', null, 'put', n);
    await untilSettled(() => caught.length === 1);
    await run.act('payments', null, 'put', 99); // the loop has ended: nobody takes it
    await run.historian.waitForResource('resume', null);
    await suspend(run.historian, run.running);
    // The loop's end is one checkpoint that holds the error; its iterations are gone.
    const checkpoint = run.history.snapshot().find((record) => record.type === 'checkpoint');
    assert.ok(checkpoint?.type === 'checkpoint' && checkpoint.done && checkpoint.error?.name === 'Overdraft');
    assert.deepEqual(summary(run.history), [
      'resource_open main/queue:payments',
      'resource_open main/queue:resume',
      'checkpoint main/balance',
      'external main/queue:payments',
    ]);
    const calls = bodyCalls;
    const resumed = new Runner(workflow, run.history);
    await resumed.act('resume', null, 'put', 'go');
    assert.equal(await resumed.result(), 1, 'the payment sent after the error is still queued');
    assert.equal(bodyCalls, calls, 'replay does not run the body again');
    assert.equal(caught.length, 2);
    for (const error of caught) {
      assert.ok(error instanceof Overdraft);
      assert.equal(error.balance, -5);
      assert.equal(error.message, 'balance would be -5');
    }
  });

  test('an uncaught error from an iteration fails the workflow', async () => {
    const workflow = async () => {
      await using payments = await queue<number>('payments', null);
      return await loop('balance', 0, async (balance: number) => {
        const n = await payments.get();
        if (balance + n < 0) throw new Overdraft(balance + n);
        return balance + n;
      });
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('payments', null);
    await run.act('payments', null, 'put', 1);
    await run.act('payments', null, 'put', -2);
    const ended = await run.running;
    assert.ok(!ended.ok && ended.error instanceof Overdraft && ended.error.balance === -1);
    assert.equal(run.historian.status, 'failed');
  });

  test('a loop that returned done(value) returns the recorded value on replay without running its body', async () => {
    let bodyCalls = 0;
    const workflow = async () => {
      await using words = await queue<string>('words', null);
      const sentence = await loop('sentence', '', async (text: string) => {
        bodyCalls++;
        const word = await words.get();
        return word === '.' ? done(`${text}.`) : `${text} ${word}`.trim();
      });
      const more = await words.get();
      return `${sentence} ${more}`;
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('words', null);
    for (const word of ['to', 'be', '.']) await run.act('words', null, 'put', word);
    await run.history.checkpointed(3);
    await run.restart();
    await run.historian.waitForResource('words', null);
    assert.equal(bodyCalls, 3);
    await run.act('words', null, 'put', 'ok');
    assert.equal(await run.result(), 'to be. ok');
  });
});

class Tally {
  constructor(
    readonly words: Map<string, number>,
    readonly since: Date,
  ) {}
  get total(): number {
    let total = 0;
    for (const count of this.words.values()) total += count;
    return total;
  }
}
registerType<Tally>({
  name: 'test.loop.Tally',
  type: Tally,
  encode: (tally) => ({ words: tally.words, since: tally.since }),
  decode: (data) => {
    const { words, since } = data as { words: Map<string, number>; since: Date };
    return new Tally(words, since);
  },
});

describe('loop(): state through the serializer', () => {
  test('a Map state, mutated in place, survives restarts, including one in the middle of a mutating iteration', async () => {
    const hold = gate();
    let held = false;
    const pause = step('pause', async (word: string) => {
      if (word === 'hold' && !held) {
        held = true;
        await hold.promise;
      }
      return word;
    });
    const workflow = async () => {
      await using words = await queue<string>('words', null);
      return await loop('count', new Map<string, number>(), async (counts: Map<string, number>) => {
        const word = await words.get();
        if (word === '.') return done(counts);
        // Mutate in place before a step that may be cut off: the restarted iteration starts again from the
        // checkpoint, so the word is counted once.
        counts.set(word, (counts.get(word) ?? 0) + 1);
        await pause(word);
        return counts;
      });
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('words', null);
    const sent = ['a', 'b', 'a', 'c', 'hold', 'a', 'b'];
    for (const [i, word] of sent.slice(0, 4).entries()) {
      await run.act('words', null, 'put', word);
      await run.history.checkpointed(i + 1);
    }
    await run.restart(); // waiting for the next word
    await run.act('words', null, 'put', 'hold');
    await untilSettled(() => held);
    await run.restart(); // inside the iteration, after it mutated the state
    hold.open();
    for (const word of sent.slice(5)) await run.act('words', null, 'put', word);
    await run.act('words', null, 'put', '.');
    const counts = await run.result();
    assert.ok(counts instanceof Map);
    assert.deepEqual([...counts], [['a', 3], ['b', 2], ['c', 1], ['hold', 1]]);
  });

  test('a registered class as the state is rebuilt as that class on replay', async () => {
    const states: Tally[] = [];
    const start = new Date('2024-01-02T03:04:05.678Z');
    const workflow = async () => {
      await using words = await queue<string>('words', null);
      return await loop('tally', new Tally(new Map(), start), async (tally: Tally) => {
        states.push(tally);
        const word = await words.get();
        if (word === '.') return done(tally);
        return new Tally(new Map([...tally.words, [word, (tally.words.get(word) ?? 0) + 1]]), tally.since);
      });
    };
    const run = new Runner(workflow);
    await run.historian.waitForResource('words', null);
    await run.act('words', null, 'put', 'x');
    await run.act('words', null, 'put', 'y');
    await run.history.checkpointed(2);
    await run.restart();
    await run.act('words', null, 'put', 'x');
    await run.act('words', null, 'put', '.');
    const tally = await run.result();
    const replayedState = states[3] as Tally; // the state the resumed run started from (from the checkpoint)
    assert.ok(replayedState instanceof Tally);
    assert.deepEqual([...replayedState.words], [['x', 1], ['y', 1]]);
    assert.ok(replayedState.since instanceof Date && replayedState.since.getTime() === start.getTime());
    assert.ok(tally instanceof Tally);
    assert.equal(tally.total, 3);
    assert.deepEqual([...tally.words], [['x', 2], ['y', 1]]);
  });
});
