import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentIds, RecentMap } from '../../src/manager/recent-ids.js';

describe('RecentMap', () => {
  test('keeps at least the last `capacity` keys set, and forgets older ones once twice as many came after them', () => {
    const recent = new RecentMap<number>(100);
    for (let i = 0; i < 1_000; i++) recent.set(`w${i}`, i);
    for (let i = 900; i < 1_000; i++) assert.equal(recent.get(`w${i}`), i);
    for (let i = 0; i < 800; i++) assert.equal(recent.has(`w${i}`), false, `w${i} is still kept`);
  });

  test('a key set again counts as new, and a deleted key is gone from every generation', () => {
    const recent = new RecentMap<string>(3);
    recent.set('a', 'first');
    for (const id of ['b', 'c', 'd']) recent.set(id, id);
    recent.set('a', 'again'); // 'a' was in the previous generation: it moves to the current one
    for (const id of ['e', 'f']) recent.set(id, id);
    assert.equal(recent.get('a'), 'again');
    recent.delete('a');
    recent.delete('e');
    assert.equal(recent.get('a'), undefined);
    assert.equal(recent.has('e'), false);
    assert.equal(recent.get('f'), 'f');
  });

  test('RecentIds remembers ids the same way', () => {
    const ids = new RecentIds(2);
    ids.add('x');
    ids.add('y');
    assert.ok(ids.has('x') && ids.has('y'));
    for (const id of ['p', 'q', 'r', 's']) ids.add(id);
    assert.equal(ids.has('x'), false);
  });
});
