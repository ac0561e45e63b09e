import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, queue, registerError, step, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { gate, outcome, summary, suspend, visible } from './support.js';

describe('steps', () => {
  test('a completed workflow returns what its steps returned and clears its history', async () => {
    const greet = step('greet', async (name: string) => `hello ${name}`);
    const history = new MemoryHistory();
    const result = await new Historian('w', async (name: string) => [await greet(name), await greet('bob')], history).run('ann');
    assert.deepEqual(result, ['hello ann', 'hello bob']);
    assert.equal(history.size, 0);
  });

  test('resume replays completed nested steps without running any of them again', async () => {
    const runs = { outer: 0, inner: 0 };
    const inner = step('inner', async (text: string) => {
      runs.inner++;
      return `<${text}>`;
    });
    const outer = step('outer', async (text: string) => {
      runs.outer++;
      return (await inner(text)) + (await inner(text.toUpperCase()));
    });
    const workflow = async (a: string, b: string) => {
      const first = await outer(a);
      const second = await outer(b);
      await using words = await queue<string>('go', null);
      return [first, second, await words.get()];
    };
    const history = new MemoryHistory();
    const before = new Historian('w', workflow, history);
    const running = outcome(before.run('ab', 'cd'));
    await untilSettled(async () => (await visible(before, null)).includes('go'));
    await suspend(before, running);
    assert.deepEqual(runs, { outer: 2, inner: 4 });
    // Only the two outer steps' results (and the open queue) are left: the inner steps were pruned.
    assert.deepEqual(summary(history), ['step_end main/outer', 'step_end main/outer#2', 'resource_open main/queue:go']);

    const after = new Historian('w', workflow, history);
    const result = after.run('ab', 'cd');
    await untilSettled(async () => (await visible(after, null)).includes('go'));
    await after.act('go', null, 'put', 'end');
    assert.deepEqual(await result, ['<ab><AB>', '<cd><CD>', 'end']);
    assert.deepEqual(runs, { outer: 2, inner: 4 });
  });

  test('steps inside concurrent tasks replay without running again', async () => {
    const runs: Record<string, number> = { ann: 0, bob: 0 };
    const plusFoo = step('plusFoo', async (who: string, text: string) => {
      runs[who] = (runs[who] ?? 0) + 1;
      return `${text}foo`;
    });
    const worker = task('worker', async (who: string) => {
      let text = await plusFoo(who, who);
      text = await plusFoo(who, text);
      await using go = await queue<string>('go', who);
      return await plusFoo(who, `${text}${await go.get()}`);
    });
    const workflow = async () => {
      const ann = worker('ann');
      const bob = worker('bob');
      return [await ann, await bob];
    };
    const history = new MemoryHistory();
    const before = new Historian('w', workflow, history);
    const running = outcome(before.run());
    await untilSettled(async () => (await visible(before, 'ann')).includes('go@ann') && (await visible(before, 'bob')).includes('go@bob'));
    await suspend(before, running);
    assert.deepEqual(runs, { ann: 2, bob: 2 });

    const after = new Historian('w', workflow, history);
    const result = after.run();
    await untilSettled(async () => (await visible(after, 'bob')).includes('go@bob') && (await visible(after, 'ann')).includes('go@ann'));
    await after.act('go', 'bob', 'put', '!');
    await after.act('go', 'ann', 'put', '?');
    assert.deepEqual(await result, ['annfoofoo?foo', 'bobfoofoo!foo']);
    assert.deepEqual(runs, { ann: 3, bob: 3 });
  });

  test('a step suspended midway runs again on resume, and the abandoned body records nothing', async () => {
    const gates = [gate<number>(), gate<number>()];
    let started = 0;
    const slow = step('slow', async (start: number) => {
      const attempt = started++;
      return start + (await (gates[attempt] as (typeof gates)[number]).promise);
    });
    const after = step('after', async (n: number) => n * 10);
    const workflow = async (start: number) => after(await slow(start));
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run(1));
    await untilSettled(() => started === 1);
    await suspend(first, running);
    assert.deepEqual(summary(history), ['step_start main/slow']);

    // The first body finishes after the suspension: its result is dropped, nothing is recorded.
    (gates[0] as (typeof gates)[number]).open(100);
    await untilSettled(() => true);
    assert.deepEqual(summary(history), ['step_start main/slow']);

    const second = new Historian('w', workflow, history);
    const result = second.run(1);
    await untilSettled(() => started === 2);
    (gates[1] as (typeof gates)[number]).open(2);
    assert.equal(await result, 30);
    assert.equal(started, 2);
  });

  test('a step suspended midway inside an enclosing step reruns only the unfinished sub-step', async () => {
    const runs = { done: 0, pending: 0 };
    const hold = [gate(), gate()];
    const done = step('done', async () => ++runs.done);
    const pending = step('pending', async () => {
      const attempt = runs.pending++;
      await (hold[attempt] as (typeof hold)[number]).promise;
      return 'p';
    });
    const outer = step('outer', async () => `${await done()}${await pending()}`);
    const history = new MemoryHistory();
    const first = new Historian('w', () => outer(), history);
    const running = outcome(first.run());
    await untilSettled(() => runs.pending === 1);
    await suspend(first, running);
    // The finished sub-step keeps only its end; the unfinished one keeps its start, so it runs again.
    assert.deepEqual(summary(history), ['step_start main/outer', 'step_end main/outer/done', 'step_start main/outer/pending']);

    const second = new Historian('w', () => outer(), history);
    const result = second.run();
    await untilSettled(() => runs.pending === 2);
    (hold[1] as (typeof hold)[number]).open();
    assert.equal(await result, '1p');
    assert.deepEqual(runs, { done: 1, pending: 2 });
  });

  test('a step suspended midway runs again over the outside events it had already seen', async () => {
    let attempts = 0;
    const holds = [gate(), gate()];
    const ask = step('ask', async () => {
      const attempt = attempts++;
      await using answers = await queue<string>('answers', null);
      const first = await answers.get();
      await (holds[attempt] as (typeof holds)[number]).promise;
      return `${first}+${await answers.get()}`;
    });
    const history = new MemoryHistory();
    const before = new Historian('w', () => ask(), history);
    const running = outcome(before.run());
    await untilSettled(async () => (await visible(before, null)).includes('answers'));
    await before.act('answers', null, 'put', 'a');
    await untilSettled(() => attempts === 1);
    await suspend(before, running);
    assert.deepEqual(summary(history), ['step_start main/ask', 'resource_open main/ask/queue:answers', 'external main/ask/queue:answers', 'internal main/ask/answers.get']);

    const after = new Historian('w', () => ask(), history);
    const result = after.run();
    await untilSettled(() => attempts === 2);
    (holds[1] as (typeof holds)[number]).open();
    await untilSettled(async () => (await visible(after, null)).includes('answers'));
    await after.act('answers', null, 'put', 'b');
    assert.equal(await result, 'a+b');
  });

  test('repeated step names get counted ids, and a repeat replays its own result', async () => {
    let counter = 0;
    const next = step('next', async () => ++counter);
    const workflow = async () => {
      const values = [await next(), await next(), await next()];
      await using go = await queue<null>('go', null);
      await go.get();
      return values;
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    assert.deepEqual(summary(history).slice(0, 3), ['step_end main/next', 'step_end main/next#2', 'step_end main/next#3']);

    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).length === 1);
    await second.act('go', null, 'put', null);
    assert.deepEqual(await result, [1, 2, 3]);
    assert.equal(counter, 3);
  });

  test('a step can be named by its function, and explicit names must be valid', async () => {
    const history = new MemoryHistory();
    async function shout(text: string) {
      return text.toUpperCase();
    }
    const named = step(shout);
    const workflow = async () => {
      const value = await named('hi');
      await using go = await queue<null>('go', null);
      await go.get();
      return value;
    };
    const historian = new Historian('w', workflow, history);
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    await suspend(historian, running);
    assert.deepEqual(summary(history), ['step_end main/shout', 'resource_open main/queue:go']);
    assert.throws(() => step('a/b', async () => 1), { name: 'InvalidNameError' });
    assert.throws(() => step('a#2', async () => 1), { name: 'InvalidNameError' });
    assert.throws(() => step(async () => 1), { name: 'InvalidNameError' });
  });
});

describe('step errors', () => {
  class PaymentDeclined extends Error {
    constructor(readonly cents: number, message: string) {
      super(message);
      this.name = 'PaymentDeclined';
    }
  }
  registerError(PaymentDeclined);

  class UnregisteredFailure extends Error {
    readonly code = 'E_UPSTREAM';
    constructor(message: string) {
      super(message);
      this.name = 'UnregisteredFailure';
    }
  }

  /** Runs a workflow whose step throws, suspends after the throw was caught, resumes; returns both catches. */
  async function caughtTwice(thrower: () => never): Promise<{ caught: unknown[]; runs: number }> {
    let runs = 0;
    const failing = step('failing', async () => {
      runs++;
      thrower();
    });
    const caught: unknown[] = [];
    const workflow = async () => {
      try {
        await failing();
      } catch (error) {
        caught.push(error);
      }
      await using go = await queue<null>('go', null);
      await go.get();
      return 'done';
    };
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).length === 1);
    await suspend(first, running);
    const second = new Historian('w', workflow, history);
    const result = second.run();
    await untilSettled(async () => (await visible(second, null)).length === 1);
    await second.act('go', null, 'put', null);
    assert.equal(await result, 'done');
    return { caught, runs };
  }

  test('a step that threw a registered error class rethrows that class, message and fields on replay', async () => {
    const { caught, runs } = await caughtTwice(() => {
      throw new PaymentDeclined(500, 'card declined');
    });
    assert.equal(runs, 1);
    assert.equal(caught.length, 2);
    const replayed = caught[1];
    assert.ok(replayed instanceof PaymentDeclined, 'rebuilt as the registered class');
    assert.equal(replayed.message, 'card declined');
    assert.equal(replayed.name, 'PaymentDeclined');
    assert.equal(replayed.cents, 500);
  });

  test('a registered error class that leaves `name` as "Error" is still rebuilt as its class on replay', async () => {
    class OutOfStock extends Error {}
    registerError(OutOfStock);
    const { caught } = await caughtTwice(() => {
      throw new OutOfStock('no more apples');
    });
    assert.ok(caught[1] instanceof OutOfStock, 'rebuilt as the registered class');
    assert.equal((caught[1] as Error).name, 'Error');
    assert.equal((caught[1] as Error).message, 'no more apples');
  });

  test('a step that threw an unregistered error keeps its name, message and code on replay', async () => {
    const { caught, runs } = await caughtTwice(() => {
      throw new UnregisteredFailure('upstream is down');
    });
    assert.equal(runs, 1);
    const replayed = caught[1] as Error & { code?: string };
    assert.ok(replayed instanceof Error);
    assert.ok(!(replayed instanceof UnregisteredFailure));
    assert.equal(replayed.name, 'UnregisteredFailure');
    assert.equal(replayed.message, 'upstream is down');
    assert.equal(replayed.code, 'E_UPSTREAM');
  });

  test('a built-in error class thrown by a step is rebuilt as that class on replay', async () => {
    const { caught } = await caughtTwice(() => {
      throw new RangeError('too far');
    });
    assert.ok(caught[1] instanceof RangeError);
    assert.equal((caught[1] as RangeError).message, 'too far');
  });

  test('a step that threw fails the workflow with the error when not caught', async () => {
    const failing = step('failing', async () => {
      throw new PaymentDeclined(1, 'nope');
    });
    const history = new MemoryHistory();
    await assert.rejects(new Historian('w', () => failing(), history).run(), (error: unknown) => error instanceof PaymentDeclined && error.message === 'nope');
    assert.equal(history.size, 0);
  });
});
