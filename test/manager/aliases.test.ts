import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate } from 'node:timers/promises';
import { DuplicateAliasError, WorkflowManager, WorkflowNotFoundError, alias, event, queue, step } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { StoreView, rejection } from './support.js';

/** Holds alias 'lobby' and returns the first message of its inbox. */
async function holder(name: string): Promise<string> {
  await using _lobby = await alias('lobby');
  await using inbox = await queue<string>('inbox', null);
  return `${name} got ${await inbox.get()}`;
}

/**
 * A step whose end is written durably, flushing the records before it. The engine buffers alias records
 * (see the report on src/core/alias.ts); the crash test needs the hand-over to be durable.
 */
const checkpoint = step('checkpoint', async () => undefined);

/** Holds 'lobby' for one message, hands it over (closes it), then waits for 'done'. */
async function first(): Promise<string[]> {
  const lobby = await alias('lobby');
  const got: string[] = [];
  await queue<string, void>('inbox', null, async (inbox) => {
    got.push(await inbox.get());
  });
  await lobby.close();
  await checkpoint();
  await using done = await event('done', null);
  await done.wait();
  return got;
}

/** Waits for 'go', then takes 'lobby' over and returns the first message of its inbox. */
async function second(): Promise<string> {
  await event('go', null, (go) => go.wait());
  await using _lobby = await alias('lobby');
  await checkpoint();
  await using inbox = await queue<string>('inbox', null);
  return await inbox.get(); // not a bare return: `await using` would close the inbox before get() resolves
}

const workflows = { holder, first, second };

describe('WorkflowManager aliases', () => {
  test('an alias routes outside events to the workflow that opened it', async () => {
    const store = new MemoryStore();
    const manager = await WorkflowManager.open({ store, workflows });
    await manager.start('holder', 'h1', 'ann');
    await manager.waitForResource('h1', 'inbox', null);
    assert.equal(await manager.has('lobby'), true);
    assert.equal(await store.getAlias('lobby'), 'h1', 'the alias is written when it is opened');
    assert.deepEqual((await manager.list())[0]?.aliases, ['lobby']);
    await manager.queue<string>('lobby', 'inbox', null).put('hello');
    assert.equal(await manager.getResult('lobby'), 'ann got hello');
    assert.equal(await manager.has('lobby'), false, 'a finished workflow releases its aliases');
    assert.equal(await store.getAlias('lobby'), undefined);
    await assert.rejects(manager.act('lobby', 'inbox', null, 'put', 'late'), WorkflowNotFoundError);
    await manager.close();
  });

  test('a second live open of a held alias is a DuplicateAliasError', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
    await manager.start('holder', 'h1', 'ann');
    await manager.waitForResource('h1', 'inbox', null);
    await manager.start('holder', 'h2', 'bob');
    assert.ok((await rejection(manager.getResult('h2'))) instanceof DuplicateAliasError);
    await manager.queue<string>('lobby', 'inbox', null).put('still mine');
    assert.equal(await manager.getResult('h1'), 'ann got still mine');
    await manager.close();
  });

  test('an alias is handed from one workflow to another', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
    await manager.start('first', 'a');
    await manager.start('second', 'b');
    await manager.waitForResource('a', 'inbox', null);
    const lobby = manager.queue<string>('lobby', 'inbox', null); // follows the alias, whoever holds it
    await lobby.put('one');
    await manager.waitForResource('a', 'done', null); // 'a' has closed the alias
    assert.equal(await manager.has('lobby'), false);
    await manager.event('b', 'go', null).set();
    await manager.waitForResource('b', 'inbox', null);
    await lobby.put('two');
    assert.equal(await manager.getResult('lobby'), 'two');
    await manager.event('a', 'done', null).set();
    assert.deepEqual(await manager.getResult('a'), ['one']);
    await manager.close();
  });

  test('after a restart the alias still routes, before and after the workflow replays it', async () => {
    const shared = new MemoryStore();
    const before = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await before.start('holder', 'h1', 'ann');
    await before.waitForResource('h1', 'inbox', null);
    await before.close();
    assert.equal(await shared.getAlias('lobby'), 'h1', 'suspending keeps the stored alias');

    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    assert.equal(await after.has('lobby'), true);
    await after.waitForResource('lobby', 'inbox', null);
    assert.deepEqual((await after.list())[0]?.aliases, ['lobby'], 'the workflow replayed its alias record');
    await after.queue<string>('lobby', 'inbox', null).put('again');
    assert.equal(await after.getResult('h1'), 'ann got again');
    await after.close();
  });

  test('after a crash, a handed-over alias routes to its latest holder while both workflows replay', async () => {
    const shared = new MemoryStore();
    const crashing = new StoreView(shared);
    const before = await WorkflowManager.open({ store: crashing, workflows });
    await before.start('first', 'a');
    await before.start('second', 'b');
    await before.waitForResource('a', 'inbox', null);
    await before.queue<string>('lobby', 'inbox', null).put('one');
    await before.waitForResource('a', 'done', null);
    await before.event('b', 'go', null).set();
    await before.waitForResource('b', 'inbox', null);
    crashing.crash();

    // 'a' replays "open lobby" although 'b' holds it now: a replayed open is never a duplicate.
    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await after.waitForResource('a', 'done', null);
    await after.waitForResource('b', 'inbox', null);
    await after.queue<string>('lobby', 'inbox', null).put('two');
    assert.equal(await after.getResult('b'), 'two');
    await after.event('a', 'done', null).set();
    assert.deepEqual(await after.getResult('a'), ['one']);
    await after.close();
    // The crashed "process" still holds its workflows in memory (a manager keeps its process alive while
    // one runs): stop them, so that this test process can exit. Nothing of it reaches the store.
    await before.close().catch(() => undefined);
  });

  test('deleting the holder removes its alias', async () => {
    const store = new MemoryStore();
    const manager = await WorkflowManager.open({ store, workflows });
    await manager.start('holder', 'h1', 'ann');
    await manager.waitForResource('h1', 'inbox', null);
    await manager.delete('lobby');
    assert.equal(await manager.has('lobby'), false);
    assert.equal(await manager.has('h1'), false);
    assert.equal(await store.getAlias('lobby'), undefined);
    await manager.start('holder', 'h2', 'bob'); // the alias is free again
    await manager.waitForResource('h2', 'inbox', null);
    await manager.queue<string>('lobby', 'inbox', null).put('hi');
    assert.equal(await manager.getResult('h2'), 'bob got hi');
    await manager.close();
  });
});

test("a start() handle's result() is its own workflow's, never that of another workflow holding an alias of its id", async () => {
  const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows: { holder, quick: async (n: number) => n } });
  // Workflow 'lobby' finishes and is deleted; another workflow then holds the alias 'lobby' (and waits).
  const handle = await manager.start('quick', 'lobby', 7);
  assert.equal(await handle.result(), 7);
  await manager.delete('lobby');
  await manager.start('holder', 'h1', 'ann');
  await manager.waitForResource('h1', 'inbox', null);
  try {
    // The answer comes from the store at once; it is not the holder's result (which would wait for its inbox).
    const answer = await Promise.race([handle.result().then(() => 'a result', (error: unknown) => error), setImmediate('no answer')]);
    assert.ok(answer instanceof WorkflowNotFoundError, `expected WorkflowNotFoundError, got ${String(answer)}`);
  } finally {
    await manager.close();
  }
});
