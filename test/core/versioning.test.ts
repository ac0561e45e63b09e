import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, getVersion, queue, task, versioned, type WorkflowFunction } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { everyIdentity, outcome, replayed, suspend, summary, visible, type Outcome } from './support.js';

const V2 = '2026-01-10 append "2" to words';
const CASING_V2 = '2026-01-11 title case';

/** Collects three words from a public queue; `transform` says what a word becomes. */
function phraseWorkflow(transform: (word: string) => Promise<string> | string): WorkflowFunction<[], string[]> {
  return async () => {
    const phrase: string[] = [];
    await using words = await queue<string>('words', null);
    while (phrase.length < 3) phrase.push(await transform(await words.get()));
    return phrase;
  };
}

/** Runs `workflow` over `history` (resuming it), puts `words`, waits until each was taken. */
async function deliver(workflow: WorkflowFunction<[], string[]>, history: MemoryHistory, words: string[]): Promise<{ historian: Historian<[], string[]>; running: Promise<Outcome<string[]>> }> {
  const historian = new Historian('w', workflow, history);
  const running = outcome(historian.run());
  await replayed(historian);
  await untilSettled(async () => (await visible(historian, null)).includes('words'));
  for (const word of words) {
    await historian.act('words', null, 'put', word);
    await untilSettled(async () => ((await historian.resources(null))[0]?.view as { size: number }).size === 0);
  }
  return { historian, running };
}

describe('versioning', () => {
  test('getVersion() is "" before any version, which sorts before every version', async () => {
    const history = new MemoryHistory();
    const seen: string[] = [];
    const workflow = async () => {
      seen.push(getVersion(), getVersion('named'));
      return '' < 'a';
    };
    assert.equal(await new Historian('w', workflow, history).run(), true);
    assert.deepEqual(seen, ['', '']);
  });

  test('a new version applies to new events only; events recorded under the old code replay the old path', async () => {
    const history = new MemoryHistory();
    const v1 = phraseWorkflow((word) => word);
    const first = await deliver(v1, history, ['foo', 'bar']);
    await suspend(first.historian, first.running);

    const v2 = versioned(V2, phraseWorkflow((word) => (getVersion() < V2 ? word : `${word}2`)), { name: 'phrase' });
    const second = await deliver(v2, history, ['baz']);
    assert.deepEqual(await second.running, { ok: true, value: ['foo', 'bar', 'baz2'] });
  });

  test('a workflow versioned twice while suspended: old events take the old paths, new events the new ones', async () => {
    const history = new MemoryHistory();
    const first = await deliver(phraseWorkflow((word) => word), history, ['foo']);
    await suspend(first.historian, first.running);

    // Version 2: new words are upper-cased and get a "2".
    const upper = async (word: string) => word.toUpperCase();
    const application = (fixCase: (word: string) => Promise<string>) =>
      versioned(V2, phraseWorkflow(async (word) => (getVersion() < V2 ? word : `${await fixCase(word)}2`)), { name: 'phrase' });
    const second = await deliver(application(upper), history, ['bar']);
    await suspend(second.historian, second.running);
    const versions = history.snapshot().filter((record) => record.type === 'version');
    assert.equal(versions.length, 1, 'the new version was recorded once');

    // Version 3: the case fix itself is versioned; "bar" was fixed under version 2 and stays upper-case.
    const titleCase = versioned(CASING_V2, async function fixCase(word: string) {
      return getVersion() < CASING_V2 ? word.toUpperCase() : `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
    });
    const third = await deliver(application(titleCase), history, ['baz']);
    assert.deepEqual(await third.running, { ok: true, value: ['foo', 'BAR2', 'Baz2'] });
  });

  test('named versions evolve separately, and a task waiting when the code changed resumes on its old path', async () => {
    const history = new MemoryHistory();
    const NAMES = ['ann', 'bob', 'cid'] as const;

    /** Each identity's task reads three numbers from its own queue; `read` is the code version. */
    const application = (read: (numbers: { get(): Promise<number> }) => Promise<number[]>) => {
      const getNumbers = task('getNumbers', async (name: string) => {
        await using numbers = await queue<number>('numbers', name);
        return await read(numbers);
      });
      return async () => {
        const tasks = NAMES.map((name) => getNumbers(name));
        const all: number[] = [];
        for (const each of tasks) all.push(...(await each));
        return all;
      };
    };
    const v1 = application(async (numbers) => [await numbers.get(), await numbers.get(), await numbers.get()]);
    const v2 = application(
      versioned({ firstNum: '2' }, async (numbers) => {
        const values: number[] = [];
        if (getVersion('firstNum') < '2') values.push(await numbers.get());
        else values.push((await numbers.get()) + 2);
        values.push(await numbers.get());
        values.push(await numbers.get());
        return values;
      }, { name: 'read' }),
    );
    const v3 = application(
      versioned({ firstNum: '2', thirdNum: '2' }, async (numbers) => {
        const values: number[] = [];
        if (getVersion('firstNum') < '2') values.push(await numbers.get());
        else values.push((await numbers.get()) + 2);
        values.push(await numbers.get());
        if (getVersion('thirdNum') < '2') values.push(await numbers.get());
        else values.push((await numbers.get()) + 3);
        return values;
      }, { name: 'read' }),
    );
    const v4 = application(
      versioned({ firstNum: '2', thirdNum: '3' }, async (numbers) => {
        const values: number[] = [];
        if (getVersion('firstNum') < '2') values.push(await numbers.get());
        else values.push((await numbers.get()) + 2);
        values.push(await numbers.get());
        if (getVersion('thirdNum') < '2') values.push(await numbers.get());
        else if (getVersion('thirdNum') < '3') values.push((await numbers.get()) + 3);
        else values.push((await numbers.get()) + 4);
        return values;
      }, { name: 'read' }),
    );

    const start = async (workflow: WorkflowFunction<[], number[]>, puts: Array<(typeof NAMES)[number]>) => {
      const historian = new Historian('w', workflow, history);
      const running = outcome(historian.run());
      await replayed(historian);
      await untilSettled(() => everyIdentity(historian, puts, (name) => `numbers@${name}`));
      for (const name of puts) {
        await historian.act('numbers', name, 'put', 1);
        await untilSettled(async () => ((await historian.resources(name))[0]?.view as { size: number } | undefined)?.size !== 1);
      }
      return { historian, running };
    };

    const run1 = await start(v1, ['ann']);
    await suspend(run1.historian, run1.running);
    const run2 = await start(v2, ['ann', 'bob']);
    await suspend(run2.historian, run2.running);
    const run3 = await start(v3, ['ann', 'bob', 'cid']);
    await suspend(run3.historian, run3.running);
    assert.deepEqual(
      history.snapshot().filter((record) => record.type === 'version').map((record) => `${record.name}=${record.version}`),
      ['firstNum=2', 'thirdNum=2'],
    );
    const run4 = await start(v4, ['bob', 'cid', 'cid']);
    assert.deepEqual(await run4.running, {
      ok: true,
      value: [
        1, 1, 1, // ann: every number arrived before its line was versioned
        1, 1, 4, // bob: waited for its first number on the old line; third number under thirdNum 3
        1, 1, 5, // cid: same first line; its third number came under thirdNum 3
      ],
    });
  });

  test('a version is recorded where replay caught up, so code waiting before it keeps the old value', async () => {
    const history = new MemoryHistory();
    const seen: string[] = [];
    const make = (version: string | undefined) => {
      const body = async () => {
        await using words = await queue<string>('words', null);
        for (let i = 0; i < 2; i++) {
          const word = await words.get();
          seen.push(`${word}@${getVersion()}`);
        }
        return seen.length;
      };
      return version === undefined ? body : versioned(version, body);
    };
    const first = new Historian('w', make(undefined), history);
    const running = outcome(first.run());
    await untilSettled(async () => (await visible(first, null)).includes('words'));
    await first.act('words', null, 'put', 'old');
    await suspend(first, running);

    const second = new Historian('w', make('2'), history);
    const result = second.run();
    await replayed(second);
    assert.deepEqual(summary(history).at(-1), 'version ', 'the version follows the replayed history');
    await second.act('words', null, 'put', 'new');
    assert.equal(await result, 3);
    assert.deepEqual(seen, ['old@', 'old@', 'new@2']);
  });
});
