/**
 * A SqliteStore's reads of the workflow list as a whole (pages, counts, counts over time, the scan of the running
 * histories) in a worker thread (`listReads`): the same answers as on the store's connection (the list
 * conformance checks), the event loop free meanwhile, every write issued before a read seen by it, a close that
 * waits for the reads under way and still folds the WAL into the file, and the store's own connection when the
 * worker cannot run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, openSqliteStore } from '../../src/storage/sqlite.js';
import { ListReads } from '../../src/storage/sqlite-list-reads.js';
import { entry, exemptFromDamage, runListConformance } from './conformance.js';
import { withStore } from './sqlite-support.js';

runListConformance('sqlite, list read in a worker', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-list-'));
  const path = join(directory, 'quest.sqlite');
  return {
    store: await openSqliteStore(path, { listReads: 'worker' }),
    reopen: () => openSqliteStore(path, { listReads: 'worker' }),
    cleanup: () => rm(directory, { recursive: true, force: true }),
    damage: exemptFromDamage('only the list reads are checked here (the damage checks run in sqlite.test.ts)'),
  };
});

/** Whether the event loop ran a turn while `read` was under way (a setImmediate callback ran before it settled). */
async function loopRanDuring(read: () => Promise<unknown>): Promise<boolean> {
  let ran = false;
  setImmediate(() => (ran = true));
  await read();
  return ran;
}

test('with its list read in a worker, a count and a scan of the running histories leave the event loop free; on its connection, they hold it', async () => {
  for (const [listReads, free] of [['worker', true], ['inline', false], ['auto', false]] as const) {
    await withStore(async (store) => {
      await store.putWorkflow(entry('w1', 1));
      assert.equal(await loopRanDuring(() => store.countWorkflows()), free, `listReads: '${listReads}'`);
      assert.equal(await loopRanDuring(() => store.scanRunningHistories({ limit: 10 })), free, `listReads: '${listReads}', the scan`);
      assert.deepEqual(await store.countWorkflows(), [{ state: 'running', type: 'order', count: 1 }]);
    }, { listReads });
  }
});

test('a read in the worker sees every write issued before it, acknowledged or not', async () => {
  await withStore(async (store) => {
    const writes = Array.from({ length: 20 }, (_, n) => store.putWorkflow(entry(`w${n}`, n)));
    const [page, counts] = await Promise.all([store.pageWorkflows({ limit: 100 }), store.countWorkflows()]);
    assert.equal(page.entries.length, 20);
    assert.deepEqual(counts, [{ state: 'running', type: 'order', count: 20 }]);
    await Promise.all(writes);
  }, { listReads: 'worker' });
});

test('close waits for the reads under way in the worker, closes its connection first, and folds the WAL into the file', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-list-'));
  const path = join(directory, 'quest.sqlite');
  try {
    const store = await SqliteStore.open(path, { listReads: 'worker' });
    await Promise.all(Array.from({ length: 50 }, (_, n) => store.putWorkflow(entry(`w${n}`, n))));
    const reads = [store.countWorkflows(), store.pageWorkflows({ limit: 10, search: 'w1' }), store.earliestStart()];
    await store.close();
    const [counts, page, earliest] = await Promise.all(reads);
    assert.deepEqual(counts, [{ state: 'running', type: 'order', count: 50 }]);
    assert.deepEqual((page as { entries: { id: string }[] }).entries.map((e) => e.id), ['w19', 'w18', 'w17', 'w16', 'w15', 'w14', 'w13', 'w12', 'w11', 'w10']);
    assert.equal(earliest, 0);
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close removed the WAL');
    await assert.rejects(store.countWorkflows(), /closed/);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('when the worker cannot read the database, the reads under way and later ones run on the store’s own connection', async () => {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)');
    // The worker's connection fails: there is no such file for it to open.
    const reads = new ListReads(db, join(tmpdir(), 'quest-no-such-dir', 'none.sqlite'), 'worker');
    assert.deepEqual(await reads.all('SELECT count(*) AS n FROM t', {}), [{ n: 3 }]);
    assert.match(String(reads.failure), /unable to open|directory does not exist|no such/i);
    assert.equal(reads.inWorker, false);
    assert.deepEqual(await reads.all('SELECT sum(n) AS s FROM t', {}), [{ s: 6 }]);
    await reads.stop();
  } finally {
    db.close();
  }
});
