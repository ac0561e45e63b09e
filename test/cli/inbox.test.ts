/**
 * The EventInbox of MemoryStore and SqliteStore beyond the conformance suite (test/storage/inbox-conformance.ts):
 * the capability guard, copies, and databases of older schemas.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryStore } from '../../src/storage/memory.js';
import { SCHEMA_VERSION, SqliteStore } from '../../src/storage/sqlite.js';
import { eventBody } from '../../src/storage/sqlite-inbox.js';
import { hasInbox, type InboxEvent, type Store } from '../../src/storage/store.js';
import { onDatabase, sqliteAtVersion } from '../storage/sqlite-support.js';
import { inTempDir } from './support.js';

const event = (n: number, workflowId = 'w'): InboxEvent => ({ workflowId, resource: 'q', identity: n % 2 === 0 ? null : 'ann', action: 'put', args: [n, { nested: [n] }] });

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

  test('MemoryStore keeps copies, not the posted objects', async () => {
    const store = new MemoryStore();
    const posted = event(1);
    const id = await store.postEvent(posted);
    (posted.args[1] as { nested: number[] }).nested.push(99);
    const [first] = await store.takeEvents(1, id - 1);
    assert.deepEqual(first?.args, [1, { nested: [1] }]);
  });

  test('SqliteStore: another connection (another process) sees a post and an outcome once they resolved', () => inTempDir(async (directory) => {
    const path = join(directory, 'inbox.sqlite');
    const store = await SqliteStore.open(path);
    const other = await SqliteStore.open(path);
    try {
      const id = await other.postEvent(event(7, 'other'));
      assert.deepEqual((await store.takeEvents(1, id - 1)).map((posted) => [posted.id, posted.workflowId]), [[id, 'other']]);
      await store.settleEvent(id, { status: 'applied' });
      assert.equal((await other.eventOutcome(id))?.status, 'applied');
    } finally {
      await other.close();
      await store.close();
    }
  }));

  for (const version of [1, 2]) {
    test(`SqliteStore: a database of schema ${version} opens, keeps its events and gets the inbox outcomes`, () => inTempDir(async (directory) => {
      const path = join(directory, 'old.sqlite');
      sqliteAtVersion(path, version);
      // Schema 2 has the inbox (schema 1 none): an event posted then, as that version wrote it.
      const insert = 'INSERT INTO inbox (workflow_id, posted_at, body) VALUES (?, ?, ?)';
      const pending = version === 1 ? [] : [Number(onDatabase(path, (db) => db.prepare(insert).run('w', Date.now(), eventBody(event(1))).lastInsertRowid))];
      const store = await SqliteStore.open(path);
      try {
        const events = await store.takeEvents(10);
        assert.deepEqual(events.map((posted) => posted.id), pending);
        const id = await store.postEvent(event(2));
        await store.settleEvent(id, { status: 'rejected', code: 'EVENT_EXPIRED', message: 'late' });
        assert.equal((await store.eventOutcome(id))?.status, 'rejected');
      } finally {
        await store.close();
      }
      const check = new Database(path, { readonly: true });
      try {
        assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      } finally {
        check.close();
      }
    }));
  }
});
