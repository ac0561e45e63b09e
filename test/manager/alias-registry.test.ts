import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DuplicateAliasError } from '../../src/index.js';
import { ManagerAliases } from '../../src/manager/alias-registry.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { rejection } from './support.js';

const open = (alias: string) => ({ type: 'alias', alias, open: true });
const close = (alias: string) => ({ type: 'alias', alias, open: false });

function registry(live: readonly string[] = ['a', 'b', 'c']): { aliases: ManagerAliases; store: MemoryStore } {
  const store = new MemoryStore();
  const aliases = new ManagerAliases(store, { isLive: (id) => live.includes(id), releasesDurably: () => true });
  return { aliases, store };
}

describe('ManagerAliases', () => {
  test('a live open of a held alias is a duplicate, also for the holder itself', async () => {
    const { aliases, store } = registry();
    await aliases.add('lobby', 'a');
    assert.equal(await store.getAlias('lobby'), 'a');
    assert.ok((await rejection(aliases.add('lobby', 'b'))) instanceof DuplicateAliasError);
    assert.ok((await rejection(aliases.add('lobby', 'a'))) instanceof DuplicateAliasError);
    assert.equal(await aliases.resolve('lobby'), 'a');
  });

  test('concurrent live opens of one alias: exactly one wins', async () => {
    const { aliases } = registry();
    const results = await Promise.allSettled([aliases.add('lobby', 'a'), aliases.add('lobby', 'b')]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
  });

  test('an alias stored for a live workflow that has not replayed it yet is held', async () => {
    const { aliases, store } = registry();
    await store.putAlias('lobby', 'a');
    assert.equal(await aliases.resolve('lobby'), 'a');
    assert.ok((await rejection(aliases.add('lobby', 'b'))) instanceof DuplicateAliasError);
    await store.putAlias('stale', 'gone'); // its workflow is not live: the alias is free
    await aliases.add('stale', 'b');
    assert.equal(await store.getAlias('stale'), 'b');
  });

  test('replayed opens never fail, and the stored holder is kept', async () => {
    const { aliases, store } = registry();
    await store.putAlias('lobby', 'b'); // b took the alias over from a before the crash
    aliases.expectReplays('a', [open('lobby'), close('lobby')]);
    aliases.expectReplays('b', [open('lobby')]);
    await aliases.add('lobby', 'b');
    await aliases.add('lobby', 'a');
    assert.equal(await aliases.resolve('lobby'), 'b');
    await aliases.remove('lobby', 'a');
    assert.deepEqual(aliases.aliasesOf('b'), ['lobby']);
    assert.equal(await store.getAlias('lobby'), 'b');
  });

  test('when the first replayed holder closes, the stored alias passes to the remaining claimant', async () => {
    const { aliases, store } = registry();
    aliases.expectReplays('a', [open('lobby'), close('lobby')]);
    aliases.expectReplays('b', [open('lobby')]);
    await aliases.add('lobby', 'a');
    await aliases.add('lobby', 'b');
    assert.equal(await store.getAlias('lobby'), 'a');
    await aliases.remove('lobby', 'a');
    assert.equal(await store.getAlias('lobby'), 'b');
    assert.equal(await aliases.resolve('lobby'), 'b');
  });

  test('a live open waits while the holder will still replay its close, then takes the alias', async () => {
    const { aliases, store } = registry();
    aliases.expectReplays('a', [open('lobby'), close('lobby')]);
    await aliases.add('lobby', 'a');
    let opened = false;
    const opening = aliases.add('lobby', 'b').then(() => {
      opened = true;
    });
    await nextTurn();
    assert.equal(opened, false, 'a has not replayed its close yet');
    await aliases.remove('lobby', 'a');
    await opening;
    assert.equal(await store.getAlias('lobby'), 'b');
  });

  test('a live open fails once a replaying holder turns out to keep the alias', async () => {
    const { aliases } = registry();
    aliases.expectReplays('a', [open('lobby'), close('lobby')]);
    await aliases.add('lobby', 'a');
    const opening = rejection(aliases.add('lobby', 'b'));
    aliases.runEnded('a'); // suspended before replaying its close: it still holds the alias
    assert.ok((await opening) instanceof DuplicateAliasError);
  });

  test('a removal while suspending keeps the stored alias for the next run', async () => {
    const store = new MemoryStore();
    const aliases = new ManagerAliases(store, { isLive: () => true, releasesDurably: () => false });
    await aliases.add('lobby', 'a');
    await aliases.remove('lobby', 'a');
    assert.deepEqual(aliases.aliasesOf('a'), []);
    assert.equal(await store.getAlias('lobby'), 'a');
  });
});
