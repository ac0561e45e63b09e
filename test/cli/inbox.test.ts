/** The EventInbox of MemoryStore and SqliteStore. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { hasInbox, type EventInbox, type InboxEvent, type Store } from '../../src/storage/store.js';
import { inTempDir } from './support.js';

const event = (n: number, workflowId = 'w'): InboxEvent => ({ workflowId, resource: 'q', identity: n % 2 === 0 ? null : 'ann', action: 'put', args: [n, { nested: [n] }] });

/** The inbox behaviour every store with one shares. */
async function checkInbox(store: Store & EventInbox): Promise<void> {
  assert.deepEqual(await store.takeEvents(10), []);
  const ids: number[] = [];
  for (let n = 1; n <= 5; n++) ids.push(await store.postEvent(event(n)));
  assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ids increase in posting order');
  assert.equal(new Set(ids).size, 5);

  const all = await store.takeEvents(10);
  assert.deepEqual(all.map(({ id, postedAt: _, ...rest }) => [id, rest]), ids.map((id, n) => [id, event(n + 1)]));
  assert.ok(all.every((posted) => typeof posted.postedAt === 'number' && posted.postedAt > 0));
  // Taking does not remove; limit and paging.
  assert.deepEqual((await store.takeEvents(2)).map((posted) => posted.id), ids.slice(0, 2));
  assert.deepEqual((await store.takeEvents(2, ids[1])).map((posted) => posted.id), ids.slice(2, 4));
  assert.deepEqual((await store.takeEvents(0)).length, 0);

  await store.removeEvent(ids[1] as number);
  await store.removeEvent(ids[1] as number); // gone already: nothing happens
  assert.deepEqual((await store.takeEvents(10)).map((posted) => posted.id), [ids[0], ids[2], ids[3], ids[4]]);

  // An id is never reused, even when the newest event was removed.
  await store.removeEvent(ids[4] as number);
  const next = await store.postEvent(event(6));
  assert.ok(next > (ids[4] as number));
}

describe('inbox', () => {
  test('hasInbox tells stores with an inbox', () => {
    assert.equal(hasInbox(new MemoryStore()), true);
    const plain: Store = {
      history: () => { throw new Error('unused'); },
      putWorkflow: async () => undefined,
      getWorkflow: async () => undefined,
      listWorkflows: async () => [],
      deleteWorkflow: async () => undefined,
      putAlias: async () => undefined,
      deleteAlias: async () => undefined,
      getAlias: async () => undefined,
      close: async () => undefined,
    };
    assert.equal(hasInbox(plain), false);
  });

  test('MemoryStore: post, take (oldest first, paged), remove; copies, not shared objects', async () => {
    const store = new MemoryStore();
    await checkInbox(store);
    const posted = event(1);
    const id = await store.postEvent(posted);
    (posted.args[1] as { nested: number[] }).nested.push(99);
    const [first] = await store.takeEvents(1, id - 1);
    assert.deepEqual(first?.args, [1, { nested: [1] }]);
  });

  test('SqliteStore: the same, and posted events survive closing and reopening', () => inTempDir(async (directory) => {
    const path = join(directory, 'inbox.sqlite');
    const store = await SqliteStore.open(path);
    await checkInbox(store);
    const before = await store.takeEvents(100);
    await store.close();

    const reopened = await SqliteStore.open(path);
    try {
      assert.deepEqual(await reopened.takeEvents(100), before);
      // Another connection (another process) sees a post once postEvent resolved.
      const other = await SqliteStore.open(path);
      const id = await other.postEvent(event(7, 'other'));
      await other.close();
      assert.deepEqual((await reopened.takeEvents(1, id - 1)).map((posted) => [posted.id, posted.workflowId]), [[id, 'other']]);
    } finally {
      await reopened.close();
    }
  }));

  test('SqliteStore: a database of the first schema gets the inbox when opened', () => inTempDir(async (directory) => {
    const path = join(directory, 'old.sqlite');
    await (await SqliteStore.open(path)).close();
    const db = new Database(path);
    // Back to what the first schema was: no inbox, no checksum or count columns (migration 3).
    db.exec('DROP TABLE inbox; ALTER TABLE records DROP COLUMN crc; ALTER TABLE workflows DROP COLUMN history_rows');
    db.pragma('user_version = 1');
    db.close();
    const store = await SqliteStore.open(path);
    try {
      const id = await store.postEvent(event(1));
      assert.deepEqual((await store.takeEvents(10)).map((posted) => posted.id), [id]);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma('user_version', { simple: true }), 3);
    } finally {
      check.close();
    }
  }));
});
