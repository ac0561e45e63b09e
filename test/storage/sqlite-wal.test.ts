/**
 * A SqliteStore writes its WAL over in place from its first commit (src/storage/sqlite-wal.ts): the WAL is
 * filled with zeros when the store opens, and nothing of that is ever read as a transaction — after a clean
 * close, after kill -9 with commits in the WAL or with none, nor under another connection's frames.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { inTempDir } from '../helpers.js';
import { record } from './conformance.js';

const CHILD = new URL('./sqlite-wal-child.ts', import.meta.url).pathname;
/** SQLite's automatic checkpoint mark (1000 frames) of 4 KiB pages, each with its 24-byte header. */
const CHECKPOINT_MARK_BYTES = 1000 * (4096 + 24);

const walBytes = (path: string): number => statSync(`${path}-wal`).size;

/** Open a SqliteStore at `path` for `body`, and close it afterwards. */
async function withStore<T>(path: string, body: (store: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore(path);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** The sequence numbers of history 'w' of the store at `path`. */
const storedSeqs = (path: string): Promise<number[]> => withStore(path, async (store) => (await store.history('w').load()).map((r) => r.seq));
const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Run the child: it commits `count` records to history 'w' of the store at `path`, then kills itself. */
async function commitThenKill(path: string, count: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, how) => resolve(how)));
  assert.equal(signal, 'SIGKILL', stderr);
  assert.equal(stdout, `committed ${count}\n`, stderr);
}

describe('sqlite store: the WAL written in place', () => {
  test('a store opened for writing has its WAL past the checkpoint mark already, and its commits do not lengthen it', () =>
    inTempDir(async (directory) => {
      const path = join(directory, 'quest.sqlite');
      await withStore(path, async (store) => {
        const opened = walBytes(path);
        assert.ok(opened > CHECKPOINT_MARK_BYTES, `a WAL of ${opened} bytes at opening`);
        for (let seq = 1; seq <= 300; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
        assert.equal(walBytes(path), opened, 'the commits wrote over the zeros');
      });
      assert.equal(existsSync(`${path}-wal`), false, 'the last connection to close removed the WAL, zeros and all');
      assert.deepEqual(await storedSeqs(path), upTo(300));
    }));

  test('after kill -9, the next opening reads every commit of the WAL and nothing of its zeros', () =>
    inTempDir(async (directory) => {
      const path = join(directory, 'quest.sqlite');
      await commitThenKill(path, 120);
      assert.ok(walBytes(path) > CHECKPOINT_MARK_BYTES, 'the killed store left its WAL behind');
      await withStore(path, async (reopened) => {
        assert.deepEqual((await reopened.history('w').load()).map((r) => r.seq), upTo(120));
        await reopened.history('w').commit({ append: [record(121)], remove: [] });
      });
      const again = await SqliteStore.openReadOnly(path);
      try {
        assert.equal((await again.history('w').load()).length, 121);
      } finally {
        await again.close();
      }
    }));

  test('a store killed before its first commit leaves a WAL of zeros, which both kinds of opening read as empty', () =>
    inTempDir(async (directory) => {
      const path = join(directory, 'quest.sqlite');
      await commitThenKill(path, 0);
      assert.ok(walBytes(path) > CHECKPOINT_MARK_BYTES);
      const inspected = await SqliteStore.openReadOnly(path);
      try {
        assert.deepEqual(await inspected.history('w').load(), []);
      } finally {
        await inspected.close();
      }
      await withStore(path, async (reopened) => {
        assert.deepEqual(await reopened.history('w').load(), []);
        await reopened.history('w').commit({ append: [record(1)], remove: [] });
      });
      assert.deepEqual(await storedSeqs(path), [1]);
    }));

  test('a database of 64 KiB pages (not one Quest creates) keeps SQLite\'s own WAL: no 70 MB of zeros at opening', () =>
    inTempDir(async (directory) => {
      const path = join(directory, 'quest.sqlite');
      const large = new Database(path);
      large.pragma('page_size = 65536');
      large.exec('CREATE TABLE other_rows (n INTEGER)');
      large.close();
      await withStore(path, async (store) => {
        assert.ok(walBytes(path) < CHECKPOINT_MARK_BYTES, `a WAL of ${walBytes(path)} bytes at opening`);
        await store.history('w').commit({ append: [record(1)], remove: [] });
      });
      assert.deepEqual(await storedSeqs(path), [1]);
    }));

  test('a store opened while another connection writes the database adds its zeros after that connection\'s frames only', () =>
    inTempDir(async (directory) => {
      const path = join(directory, 'quest.sqlite');
      await new SqliteStore(path).close();
      // Another connection (say, a Quest that does not fill its WAL) with transactions in a short WAL.
      const other = new Database(path);
      try {
        other.pragma('journal_mode = WAL');
        other.exec('CREATE TABLE other_rows (n INTEGER)');
        const insert = other.prepare('INSERT INTO other_rows (n) VALUES (?)');
        for (let n = 1; n <= 20; n++) insert.run(n);
        const before = walBytes(path);
        assert.ok(before > 0 && before < CHECKPOINT_MARK_BYTES, `the other connection's WAL: ${before} bytes`);
        await withStore(path, async (store) => {
          assert.ok(walBytes(path) > CHECKPOINT_MARK_BYTES, 'the store filled the WAL past the mark');
          await store.history('w').commit({ append: [record(1)], remove: [] });
          for (let n = 21; n <= 40; n++) insert.run(n);
        });
      } finally {
        other.close();
      }
      const check = new Database(path, { readonly: true });
      try {
        assert.deepEqual(check.prepare('SELECT n FROM other_rows ORDER BY n').pluck().all(), Array.from({ length: 40 }, (_, i) => i + 1));
      } finally {
        check.close();
      }
      assert.deepEqual(await storedSeqs(path), [1]);
    }));
});
