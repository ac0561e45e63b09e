/**
 * A SqliteStore acknowledges a write once the WAL has been synced to disk after its transaction
 * (src/storage/sqlite-wal-sync.ts): a small group's sync runs before its commit returns; a large group's runs off
 * the event loop, a group committed while a sync is under way waits for the next one, and one sync covers every
 * group committed meanwhile; a failed sync rejects what it covered and every later write. The sync's outcome is
 * what the test decides (the disk cannot be made to fail here); the database, its transactions and the store's
 * group commit are real.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { GroupCommit } from '../../src/storage/sqlite-writes.js';
import { INLINE_SYNC_MAX_WRITES, PROBE_EVERY, SLOW_SYNC_MS, WalSync, type SyncFile } from '../../src/storage/sqlite-wal-sync.js';
import type { SqliteStoreStats } from '../../src/storage/sqlite-options.js';
import { inTempDir, untilSettled } from '../helpers.js';
import { record } from './conformance.js';

/**
 * A sync the test completes: `pending` holds the callbacks of the syncs under way off the event loop; `now`
 * counts the syncs on it, which throw `failNow` when set.
 */
interface HeldSync {
  pending: Array<(error: Error | null) => void>;
  syncedNow: number;
  failNow?: Error;
  /** How long each sync on the event loop takes (busy: nothing else runs meanwhile), in ms. */
  slowNowMs?: number;
  sync: SyncFile;
}

function heldSync(): HeldSync {
  const held: HeldSync = {
    pending: [],
    syncedNow: 0,
    sync: {
      now: () => {
        held.syncedNow++;
        const until = performance.now() + (held.slowNowMs ?? 0);
        while (performance.now() < until);
        if (held.failNow !== undefined) throw held.failNow;
      },
      later: (done) => void held.pending.push(done),
    },
  };
  return held;
}

/** A group larger than those synced on the event loop. */
const LARGE = INLINE_SYNC_MAX_WRITES + 1;

/** What a test gets: a group commit on a real database whose commits wait for `walSync`, and its table `t`. */
interface Writes {
  writes: GroupCommit;
  walSync: WalSync;
  /** Queue `count` writes in this turn, each inserting a row into `t`; resolves when they all are acknowledged. */
  group: (count: number) => Promise<void>;
  /** The rows of `t`, as committed. */
  rows: () => number;
}

/**
 * A table `t` in a real database, written through a GroupCommit whose commits wait for a WalSync of `sync`; by
 * default every sync counts as slow (large groups are synced off the event loop).
 */
function withWrites(sync: HeldSync, body: (writes: Writes) => Promise<void>, slowSyncMs = -1): Promise<void> {
  return inTempDir(async (directory) => {
    const db = new Database(join(directory, 'db.sqlite'));
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (n INTEGER)');
      const insertRow = db.prepare('INSERT INTO t (n) VALUES (1)');
      const countRows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM t');
      const stats: SqliteStoreStats = { transactions: 0, walSyncs: 0, failedTransactions: 0, writes: 0, readTransactions: 0 };
      const walSync = new WalSync(sync.sync, stats, 'db.sqlite', undefined, slowSyncMs);
      const writes = new GroupCommit(db, stats, 1000, { afterCommit: (settle, count) => walSync.afterCommit(settle, count), refusal: () => walSync.refusal() });
      const group = (count: number): Promise<void> =>
        Promise.all(Array.from({ length: count }, (_, i) => writes.push(`insert row ${i + 1} of ${count}`, () => void insertRow.run()))).then(() => undefined);
      await body({ writes, walSync, group, rows: () => countRows.get()?.n ?? 0 });
    } finally {
      db.close();
    }
  });
}

/** Whether `promise` has settled by the end of a few turns of the event loop. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

/** Complete the oldest sync under way (with `error`, a failure). */
function complete(sync: HeldSync, error: Error | null = null): void {
  const done = sync.pending.shift();
  assert.ok(done !== undefined, 'no sync under way');
  done(error);
}

describe('sqlite store: a write is acknowledged once the WAL is synced after its transaction', () => {
  test('a small group is synced on the event loop before its commit returns, none off it', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ writes, group, rows }) => {
      const small = group(INLINE_SYNC_MAX_WRITES);
      writes.flush();
      assert.equal(rows(), INLINE_SYNC_MAX_WRITES);
      assert.equal(sync.syncedNow, 1);
      await small;
      assert.equal(sync.pending.length, 0);
    });
  });

  test('a large group is synced on the event loop while syncs are quick, off it once they are slow', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ writes, group }) => {
      const quick = group(LARGE);
      writes.flush();
      assert.equal(sync.syncedNow, 1);
      await quick;
      // Slow enough that one sync takes the moving average past the mark.
      sync.slowNowMs = 20 * SLOW_SYNC_MS;
      await group(LARGE);
      assert.equal(sync.syncedNow, 2);
      const afterSlow = group(LARGE);
      await untilSettled(() => sync.pending.length === 1);
      assert.equal(sync.syncedNow, 2);
      complete(sync);
      await afterSlow;
    }, SLOW_SYNC_MS);
  });

  test('large groups go back on the event loop when nothing is committed during their pool syncs, but for a probe every PROBE_EVERY', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ writes, group }) => {
      /** A large group synced on the pool, nothing committed during its sync. */
      const onThePool = async (): Promise<void> => {
        const written = group(LARGE);
        await untilSettled(() => sync.pending.length === 1);
        complete(sync);
        await written;
      };
      /** A large group synced on the event loop. */
      const onTheLoop = async (): Promise<void> => {
        const before = sync.syncedNow;
        const written = group(LARGE);
        writes.flush();
        assert.equal(sync.syncedNow, before + 1, 'synced off the event loop');
        await written;
      };
      // Workflows in lockstep: each group waits alone for its sync.
      for (let i = 0; i < 3; i++) await onThePool();
      for (let i = 1; i < PROBE_EVERY; i++) await onTheLoop();
      // The probe; it finds nothing committed during its sync either.
      await onThePool();
      await onTheLoop();
      assert.equal(sync.pending.length, 0);
    });
  });

  test('a large group waits for its sync off the event loop; one committed while that sync is under way waits for the next one', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ group, rows }) => {
      const first = group(LARGE);
      await untilSettled(() => sync.pending.length === 1);
      assert.equal(rows(), LARGE, 'the transaction commits before its sync');
      assert.equal(await settledSoon(first), false, 'acknowledged before its sync completed');
      // A small group too: a sync is under way, so the next one covers it.
      const second = group(1);
      await untilSettled(() => rows() === LARGE + 1);
      assert.equal(sync.pending.length, 1, 'a second sync began while the first was under way');
      complete(sync);
      await first;
      assert.equal(await settledSoon(second), false, 'acknowledged by a sync that began before its transaction');
      assert.equal(sync.pending.length, 1);
      complete(sync);
      await second;
      assert.equal(sync.syncedNow, 0);
    });
  });

  test('one sync covers every transaction committed while the one before was under way', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ walSync, group, rows }) => {
      const first = group(LARGE);
      await untilSettled(() => sync.pending.length === 1);
      const later: Promise<void>[] = [];
      for (let turn = 1; turn <= 5; turn++) {
        later.push(group(LARGE));
        await untilSettled(() => rows() === (turn + 1) * LARGE);
      }
      complete(sync);
      await first;
      assert.equal(sync.pending.length, 1);
      complete(sync);
      await Promise.all(later);
      assert.equal(walSync.refusal(), undefined);
      assert.equal(sync.pending.length, 0);
    });
  });

  test('a failed sync off the event loop rejects the writes it covered, and every later write is refused without being written', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ walSync, group, rows }) => {
      const covered = group(LARGE);
      await untilSettled(() => sync.pending.length === 1);
      const alsoCovered = group(1);
      await untilSettled(() => rows() === LARGE + 1);
      complete(sync, Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(covered, failedSync(`insert row 1 of ${LARGE}`));
      await assert.rejects(alsoCovered, failedSync('insert row 1 of 1'));
      assert.equal(sync.pending.length, 0, 'a sync was begun after one failed');
      await assert.rejects(group(1), /accepts no more writes/);
      await assert.rejects(group(LARGE), /accepts no more writes/);
      assert.equal(rows(), LARGE + 1, 'a write was applied after the sync failed');
      assert.ok(walSync.refusal() !== undefined);
    });
  });

  test('a failed sync on the event loop rejects its group, and every later write is refused without being written', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ group, rows }) => {
      sync.failNow = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      await assert.rejects(group(1), failedSync('insert row 1 of 1'));
      await assert.rejects(group(1), /accepts no more writes/);
      assert.equal(rows(), 1);
      assert.equal(sync.syncedNow, 1);
    });
  });

  test('closing waits for the sync under way, and the writes it covers are acknowledged', async () => {
    const sync = heldSync();
    await withWrites(sync, async ({ walSync, group }) => {
      const written = group(LARGE);
      await untilSettled(() => sync.pending.length === 1);
      const closed = walSync.close();
      assert.equal(await settledSoon(closed), false, 'closed with a sync under way');
      complete(sync);
      await closed;
      await written;
    });
  });
});

/** The rejection of write `what` by a failed sync: a StorageError that says what happened and what to do. */
function failedSync(what: string): (error: Error) => boolean {
  return (error) => {
    assert.ok(isQuestError(error, 'STORAGE_FAILURE'));
    assert.ok(error.message.startsWith(`Could not ${what} durably: Syncing the WAL of the SQLite database db.sqlite to disk failed (EIO: i/o error, fdatasync)`), error.message);
    assert.match(error.message, /close the\s+store and open it again/);
    return true;
  };
}

describe('sqlite store: syncing the WAL', () => {
  test('with synchronous full (the default), a group of commits resolves after one sync of the WAL, on the event loop or off it', () => inTempDir(async (directory) => {
    const path = join(directory, 'quest.sqlite');
    const store = new SqliteStore(path);
    try {
      await store.history('w').commit({ append: [record(1)], remove: [] });
      assert.equal(store.stats.transactions, 1);
      assert.equal(store.stats.walSyncs, 1);
      await Promise.all([1, 2, 3].map((i) => store.history(`v${i}`).commit({ append: [record(1)], remove: [] })));
      assert.equal(store.stats.walSyncs, 2);
      // A large group: one sync, on the event loop or off it as this disk's speed decides.
      await Promise.all(Array.from({ length: LARGE }, (_, i) => store.history(`u${i}`).commit({ append: [record(1)], remove: [] })));
      assert.equal(store.stats.transactions, 3);
      assert.equal(store.stats.walSyncs, 3);
    } finally {
      await store.close();
    }
    const reopened = new SqliteStore(path);
    try {
      assert.deepEqual((await reopened.history('w').load()).map((r) => r.seq), [1]);
      assert.deepEqual((await reopened.history(`u${LARGE - 1}`).load()).map((r) => r.seq), [1]);
    } finally {
      await reopened.close();
    }
  }));

  test('with synchronous normal, commits resolve without any sync of the WAL', () => inTempDir(async (directory) => {
    const store = new SqliteStore(join(directory, 'quest.sqlite'), { synchronous: 'normal' });
    try {
      await store.history('w').commit({ append: [record(1)], remove: [] });
      assert.equal(store.stats.transactions, 1);
      assert.equal(store.stats.walSyncs, 0);
    } finally {
      await store.close();
    }
  }));

  test('taking and giving up ownership are synced before they resolve', () => inTempDir(async (directory) => {
    const store = new SqliteStore(join(directory, 'quest.sqlite'));
    try {
      await store.acquireOwnership({ id: 'me', pid: process.pid, host: hostname(), acquiredAt: Date.now() });
      assert.equal(store.stats.walSyncs, 1);
      await store.releaseOwnership();
      assert.equal(store.stats.walSyncs, 2);
    } finally {
      await store.close();
    }
  }));
});
