import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, getVersion, isSuspension, queue, upgradeRecord, versioned, type HistoryRecord } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { versionsInUse, versionsOfHistory } from '../../src/inspect/versions.js';

async function words(): Promise<string> {
  await using input = await queue<string>('words', null);
  return await input.get();
}

async function startAndSuspend(store: MemoryStore, id: string, workflow: () => Promise<string>): Promise<void> {
  await store.putWorkflow({ id, type: 'words', args: [], state: 'running', startedAt: Date.now(), deleteOnFinish: false });
  const historian = new Historian(id, workflow, store.history(id));
  const running = historian.run().catch((error: unknown) => {
    if (!isSuspension(error)) throw error;
  });
  await historian.waitForResource('words', null);
  await historian.suspend();
  await running;
}

test('reports which versions live histories still replay, so old code paths can be deleted', async () => {
  const store = new MemoryStore();
  // 'old' started before the code was versioned, then resumed under version 2: it replays both paths.
  await startAndSuspend(store, 'old', words);
  await startAndSuspend(store, 'old', versioned('2', words));
  // 'new' started under version 2 only.
  await startAndSuspend(store, 'new', versioned('2', words));
  // 'named' uses a named version.
  await startAndSuspend(store, 'named', versioned({ parser: '3' }, words));

  assert.deepEqual(await versionsInUse(store), [
    { fn: 'words', name: '', version: '', workflows: ['old'] },
    { fn: 'words', name: '', version: '2', workflows: ['old', 'new'] },
    { fn: 'words', name: 'parser', version: '3', workflows: ['named'] },
  ]);
});

test('finished workflows no longer count', async () => {
  const store = new MemoryStore();
  await startAndSuspend(store, 'w', versioned('2', words));
  const historian = new Historian('w', versioned('2', words), store.history('w'));
  const result = historian.run();
  await historian.waitForResource('words', null);
  await historian.act('words', null, 'put', 'done');
  assert.equal(await result, 'done');
  await store.putWorkflow({ id: 'w', type: 'words', args: [], state: 'completed', startedAt: 0, deleteOnFinish: false });
  assert.deepEqual(await versionsInUse(store), []);
});

test('reports versions per declaring function, and format 1 versions as applying to every function', async () => {
  const store = new MemoryStore();
  // Two functions each declare the global version and `parser`, with values that sort the other way round.
  const read = versioned({ '': '9', parser: '1' }, async function read() {
    return `${getVersion()}/${getVersion('parser')}`;
  });
  const parse = versioned({ '': '10', parser: '2' }, async function parse() {
    return `${getVersion()}/${getVersion('parser')}`;
  });
  const both = async () => `${await read()} ${await parse()} ${await words()}`;
  await startAndSuspend(store, 'both', both);

  // A history written by format 1: its version records name no function (then replaying code from before it).
  await store.putWorkflow({ id: 'old', type: 'words', args: [], state: 'running', startedAt: 0, deleteOnFinish: false });
  const format1 = [
    { v: 1, seq: 1, t: 0, task: 'main', id: 'main/step', type: 'step_end', result: 1 },
    { v: 1, seq: 2, t: 0, task: '', id: '', type: 'version', name: 'parser', version: '3' },
  ];
  await store.history('old').commit({ append: format1.map((record) => upgradeRecord(record) as HistoryRecord), remove: [] });

  assert.deepEqual(await versionsInUse(store), [
    { fn: null, name: 'parser', version: '', workflows: ['old'] },
    { fn: null, name: 'parser', version: '3', workflows: ['old'] },
    { fn: 'parse', name: '', version: '10', workflows: ['both'] },
    { fn: 'parse', name: 'parser', version: '2', workflows: ['both'] },
    { fn: 'read', name: '', version: '9', workflows: ['both'] },
    { fn: 'read', name: 'parser', version: '1', workflows: ['both'] },
  ]);
});

test('a function whose first own version follows a format 1 version of the name replayed that version before it', () => {
  const records = [
    { v: 1, seq: 1, t: 0, task: '', id: '', type: 'version', name: 'parser', version: '3' },
    { v: 1, seq: 2, t: 0, task: 'main', id: 'main/step', type: 'step_end', result: 1 },
    { v: 2, seq: 3, t: 0, task: '', id: '', type: 'version', fn: 'parse', name: 'parser', version: '4' },
  ].map((record) => upgradeRecord(record));
  assert.deepEqual(versionsOfHistory(records), [
    { fn: null, name: 'parser', versions: new Set(['3']) },
    { fn: 'parse', name: 'parser', versions: new Set(['3', '4']) },
  ]);
});

test('a history that cannot be read (damaged, or of a newer format) is left out and named, not a failure of the whole report', async () => {
  const store = new MemoryStore();
  await startAndSuspend(store, 'fine', versioned('2', words));
  for (const [id, record] of [['hurt', { v: 1, seq: 1, type: 'step_start' }], ['newer', { v: 99, seq: 1, task: 'main', id: 'x', type: 'step_start' }]] as const) {
    await store.putWorkflow({ id, type: 'words', args: [], state: 'running', startedAt: Date.now(), deleteOnFinish: false });
    await store.history(id).commit({ append: [record as unknown as HistoryRecord], remove: [] });
  }
  const unread: Array<[string, string]> = [];
  const usages = await versionsInUse(store, { onUnread: (id, error) => unread.push([id, error.code]) });
  assert.deepEqual(usages, [{ fn: 'words', name: '', version: '2', workflows: ['fine'] }]);
  assert.deepEqual(unread, [['hurt', 'CORRUPT_HISTORY'], ['newer', 'UNSUPPORTED_FORMAT']]);
  // Without the callback, the same report.
  assert.deepEqual(await versionsInUse(store), usages);
});
