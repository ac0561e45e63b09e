import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, isSuspension, queue, versioned } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { versionsInUse } from '../../src/inspect/versions.js';

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
    { name: '', version: '', workflows: ['old'] },
    { name: '', version: '2', workflows: ['old', 'new'] },
    { name: 'parser', version: '3', workflows: ['named'] },
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
