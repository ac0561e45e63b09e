import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Historian,
  InvalidNameError,
  MemoryHistory,
  VersionConflictError,
  getVersion,
  queue,
  upgradeRecord,
  step,
  task,
  versioned,
  type HistoryRecord,
  type WorkflowFunction,
} from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { failure, outcome, replayed, suspend, visible, type Outcome } from './support.js';

type Edit = (word: string) => Promise<string>;

/** Words the workflows below have finished with (in replay too), so that a test waits for them. */
let edited: string[] = [];

/**
 * Each word from the public queue `words` becomes `shout(word)|exclaim(word)`, until three words came; with a
 * `header`, a first line made of the word 'title' (the functions are called before anything is recorded).
 */
function editor(shout: Edit, exclaim: Edit, header = false): WorkflowFunction<[], string[]> {
  return async () => {
    const lines: string[] = header ? [`${await shout('title')}|${await exclaim('title')}`] : [];
    await using words = await queue<string>('words', null);
    while (lines.length < (header ? 4 : 3)) {
      const word = await words.get();
      lines.push(`${await shout(word)}|${await exclaim(word)}`);
      edited.push(word);
    }
    return lines;
  };
}

/** Runs `workflow` over `history` (resuming it) and puts `words`, each once the workflow is done with the previous one. */
async function feed(workflow: WorkflowFunction<[], string[]>, history: MemoryHistory, words: string[]): Promise<{ historian: Historian<[], string[]>; running: Promise<Outcome<string[]>> }> {
  const historian = new Historian('w', workflow, history);
  const running = outcome(historian.run());
  await replayed(historian);
  await untilSettled(async () => (await visible(historian, null)).includes('words'));
  for (const word of words) {
    edited = [];
    await historian.act('words', null, 'put', word);
    await untilSettled(() => edited.includes(word));
  }
  return { historian, running };
}

function versionRecords(history: MemoryHistory): string[] {
  return history
    .snapshot()
    .filter((record): record is Extract<HistoryRecord, { type: 'version' }> => record.type === 'version')
    .map((record) => `${record.fn ?? '*'}:${record.name}=${record.version}`);
}

/** How each case declares a version and reads it back: the global version, or a named one. */
const forms = [
  { form: 'the global version', declare: (version: string) => version, read: () => getVersion(), name: '' },
  { form: 'the same named version', declare: (version: string) => ({ rule: version }), read: () => getVersion('rule'), name: 'rule' },
];

describe('versions belong to the function that declares them', () => {
  for (const { form, declare, read, name } of forms) {
    // The shouting function was versioned first, under a running workflow; the exclaiming one later. Before
    // versions were scoped, the second one saw the first one's version (the larger string won), so whether its
    // old events replayed its old path depended on how the two version strings sort.
    for (const [shoutVersion, exclaimVersion] of [['2', '1'], ['1', '2'], ['3', '2026-01-10 ask twice']] as const) {
      test(`two functions declaring ${form} evolve independently (${shoutVersion} then ${exclaimVersion})`, async () => {
        const history = new MemoryHistory();
        const shout = versioned(declare(shoutVersion), async function shout(word: string) {
          return read() < shoutVersion ? word : word.toUpperCase();
        });
        const first = await feed(editor(shout, async (word) => word, true), history, ['foo']);
        await suspend(first.historian, first.running);

        const exclaim = versioned(declare(exclaimVersion), async function exclaim(word: string) {
          return read() < exclaimVersion ? word : `${word}!`;
        });
        const second = await feed(editor(shout, exclaim, true), history, ['bar']);
        assert.deepEqual(versionRecords(history), [`shout:${name}=${shoutVersion}`, `exclaim:${name}=${exclaimVersion}`]);
        await second.historian.act('words', null, 'put', 'baz');
        assert.deepEqual(await second.running, { ok: true, value: ['TITLE|title', 'FOO|foo', 'BAR|bar!', 'BAZ|baz!'] });
      });
    }
  }

  test('a versioned function first called in the middle of a history sees on replay the version its call recorded', async () => {
    const history = new MemoryHistory();
    const shout = versioned('2', async function shout(word: string) {
      return getVersion() < '2' ? word : word.toUpperCase();
    });
    const workflow = editor(shout, async (word) => word);
    const first = await feed(workflow, history, ['foo']);
    await suspend(first.historian, first.running);
    assert.deepEqual(versionRecords(history), ['shout:=2']);

    const second = await feed(workflow, history, ['bar', 'baz']);
    assert.deepEqual(await second.running, { ok: true, value: ['FOO|foo', 'BAR|bar', 'BAZ|baz'] });
  });

  test('calls replayed before the version their function recorded at catch-up keep the old one, at every replay', async () => {
    const history = new MemoryHistory();
    const first = await feed(editor(async (word) => word, async (word) => word), history, ['foo']);
    await suspend(first.historian, first.running);
    const shout = versioned('2', async function shout(word: string) {
      return getVersion() < '2' ? word : word.toUpperCase();
    });
    const second = await feed(editor(shout, async (word) => word), history, ['bar']);
    await suspend(second.historian, second.running);
    const third = await feed(editor(shout, async (word) => word), history, ['baz']);
    assert.deepEqual(await third.running, { ok: true, value: ['foo|foo', 'BAR|bar', 'BAZ|baz'] });
  });

  test('a version applies inside the versioned function and the steps and tasks it starts, not beside it', async () => {
    const seen: Record<string, string> = {};
    const note = (where: string) => {
      seen[where] = `${getVersion()}/${getVersion('rules')}`;
    };
    const score = versioned('5', async function score() {
      note('score'); // its own global version; 'rules' from the function that called it
      return 1;
    });
    const round = versioned({ rules: '2' }, async function round() {
      note('round'); // declares no global version
      await task('helper', async () => note('task in round'))();
      await step('count', async () => note('step in round'))();
      const points = await task('scorer', async () => score())();
      return points;
    });
    const workflow = async () => {
      const points = await round();
      await task('beside', async () => note('task beside'))();
      return points;
    };
    assert.equal(await new Historian('w', workflow, new MemoryHistory()).run(), 1);
    assert.deepEqual(seen, {
      round: '/2',
      'task in round': '/2',
      'step in round': '/2',
      score: '5/2',
      'task beside': '/',
    });
  });

  test('an explicit name tells apart two functions that share one; the same name declared twice differently is refused', async () => {
    const make = (version: string, name?: string) =>
      versioned(version, async function handle() {
        return getVersion();
      }, name === undefined ? {} : { name });
    const named = async () => [await make('1', 'handleOrders')(), await make('2', 'handleRefunds')()];
    assert.deepEqual(await new Historian('w', named, new MemoryHistory()).run(), ['1', '2']);

    const clash = async () => [await make('1')(), await make('2')()];
    const error = await failure(new Historian('w', clash, new MemoryHistory()).run());
    assert.ok(error instanceof VersionConflictError, String(error));
    assert.match(error.message, /Two functions named "handle" declare the global version differently \("1" and "2"\)/);
    assert.match(error.message, /\{ name: /);
  });

  test('an anonymous function needs an explicit name', () => {
    assert.throws(() => versioned('2', async () => 1), InvalidNameError);
    assert.throws(() => versioned('2', async () => 1), /versioned\('2', fn, \{ name: 'play' \}\)/);
    assert.equal(typeof versioned('2', async () => 1, { name: 'one' }), 'function');
  });

  // Format 1 recorded versions workflow-wide (and always as task ''): every function saw the latest version of
  // the name, so a function versioned '1' after another one had recorded '2' never recorded its own and saw '2'.
  // Migrated histories replay as they did: a format 1 version applies to every function declaring its name
  // until that function records a version of its own. ('foo' came before shout's version was applied.)
  const format1Cases = [
    { exclaimVersion: '1', lines: ['foo|foo', 'BAR|bar!'], records: ['*:=2'] },
    { exclaimVersion: '3', lines: ['foo|foo', 'BAR|bar!'], records: ['*:=2', 'exclaim:=3'] },
  ];
  for (const { exclaimVersion, lines, records } of format1Cases) {
    test(`a format 1 version applies to every function declaring its name until it records its own (${exclaimVersion})`, async () => {
      const shout = versioned('2', async function shout(word: string) {
        return getVersion() < '2' ? word : word.toUpperCase();
      });
      const written = new MemoryHistory();
      const first = await feed(editor(shout, async (word) => word), written, ['foo']);
      await suspend(first.historian, first.running);
      // The same history as format 1 wrote it: its version record names no function.
      const format1 = written.snapshot().map((record) => {
        if (record.type !== 'version') return record;
        const { fn: _declaredBy, ...shape } = record;
        return { ...shape, v: 1, task: '' };
      });
      const history = new MemoryHistory();
      history.commit({ append: format1.map(upgradeRecord), remove: [] });

      const exclaim = versioned(exclaimVersion, async function exclaim(word: string) {
        return getVersion() < exclaimVersion ? word : `${word}!`;
      });
      const second = await feed(editor(shout, exclaim), history, ['bar']);
      assert.deepEqual(versionRecords(history), records);
      await second.historian.act('words', null, 'put', 'baz');
      assert.deepEqual(await second.running, { ok: true, value: [...lines, 'BAZ|baz!'] });
    });
  }
});
