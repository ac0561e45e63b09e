import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { BackgroundCheckpoints, WORKER_AFTER_TRANSACTIONS } from '../../src/storage/sqlite-checkpoints.js';
import { record } from './conformance.js';

/**
 * The WAL's frames and how many of them a checkpoint copied into the database file, read from the WAL index
 * (the `-shm` file; SQLite's file format, https://www.sqlite.org/walformat.html: the header's mxFrame at byte
 * 16, the checkpoint information's nBackfill at byte 96, native byte order).
 */
function walIndex(path: string): { frames: number; copied: number } {
  const buffer = Buffer.alloc(100);
  const fd = openSync(`${path}-shm`, 'r');
  try {
    readSync(fd, buffer, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  return { frames: buffer.readUInt32LE(16), copied: buffer.readUInt32LE(96) };
}

/** Commit one record of about 2 KB to each of `count` histories, one transaction after the other. */
async function writeSequentially(store: SqliteStore, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await store.history(`w${i % 500}`).commit({ append: [record(Math.floor(i / 500) + 1, 'x'.repeat(2000))], remove: [] });
  }
}

/** Await `condition`, checking at every turn of the event loop for up to `limitMs` (false when it never held). */
async function eventually(condition: () => boolean, limitMs = 20_000): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

async function withDirectory(body: (path: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-checkpoints-'));
  try {
    await body(join(directory, 'quest.sqlite'));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

describe('sqlite store: WAL checkpoints off the event loop', () => {
  test('a busy store copies its WAL into the database file by itself once the writes pause, below SQLite\'s automatic mark', () =>
    withDirectory(async (path) => {
      const store = new SqliteStore(path);
      try {
        // Past the transaction with which the background checkpoints start, then more, the last writes below
        // the 1000 frames at which SQLite's own checkpoint (in a commit) would copy them.
        assert.ok(700 > WORKER_AFTER_TRANSACTIONS);
        await writeSequentially(store, 700);
        const copiedAll = await eventually(() => {
          const { frames, copied } = walIndex(path);
          return frames > 0 && copied === frames;
        });
        assert.ok(copiedAll, `every frame of the WAL is copied while the store is idle (${JSON.stringify(walIndex(path))})`);
      } finally {
        await store.close();
      }
    }));

  test('the WAL stays bounded under writes without a pause, and every write survives reopening', () =>
    withDirectory(async (path) => {
      const store = new SqliteStore(path);
      try {
        await writeSequentially(store, 4000);
        // About 13 MB written: the WAL is restarted over and over, not grown (SQLite's mark is ~4 MB of pages).
        assert.ok(statSync(`${path}-wal`).size < 12 * 1024 * 1024, `WAL of ${statSync(`${path}-wal`).size} bytes`);
      } finally {
        await store.close();
      }
      assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close folded the WAL into the file');
      const reopened = new SqliteStore(path);
      try {
        const records = await reopened.history('w7').load();
        assert.equal(records.length, 8);
        assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 8 }, (_, i) => i + 1));
      } finally {
        await reopened.close();
      }
    }));

  test('close() waits for the background checkpoints to stop; a store closed at once after its writes leaves no WAL', () =>
    withDirectory(async (path) => {
      const store = new SqliteStore(path);
      await writeSequentially(store, 800);
      await store.close();
      assert.equal(existsSync(`${path}-wal`), false);
      await assert.rejects(store.listWorkflows(), /closed/);
    }));

  test('the checkpointer stops whenever it is told to, even as it starts', () =>
    withDirectory(async (path) => {
      const store = new SqliteStore(path);
      try {
        await writeSequentially(store, 10);
        for (let i = 0; i < 20; i++) {
          // From the first transaction: the first commit starts the worker.
          const checkpoints = new BackgroundCheckpoints(path, 'full', 0);
          checkpoints.committed();
          assert.equal(checkpoints.running, true);
          if (i % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
          await checkpoints.stop();
          assert.equal(checkpoints.running, false);
          assert.equal(checkpoints.failure, undefined);
        }
      } finally {
        await store.close();
      }
    }));

  test('the checkpointer starts with the store\'s n-th write transaction, not before', () =>
    withDirectory(async (path) => {
      const store = new SqliteStore(path);
      try {
        await writeSequentially(store, 1);
        const checkpoints = new BackgroundCheckpoints(path, 'full', 3);
        checkpoints.committed();
        checkpoints.committed();
        assert.equal(checkpoints.running, false, 'not after two transactions');
        checkpoints.committed();
        assert.equal(checkpoints.running, true, 'with the third');
        await checkpoints.stop();
      } finally {
        await store.close();
      }
    }));

  test('a checkpointer that cannot open the database stops, with the reason kept; the store checkpoints as SQLite does', () =>
    withDirectory(async (path) => {
      const checkpoints = new BackgroundCheckpoints(join(path, 'missing.sqlite'), 'full', 0);
      checkpoints.committed();
      await checkpoints.stop();
      assert.ok(checkpoints.failure instanceof Error, String(checkpoints.failure));
      checkpoints.committed();
      assert.equal(checkpoints.running, false);
    }));
});
