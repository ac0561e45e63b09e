import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { newStoreOwner } from '../../src/storage/owner.js';
import { SCHEMA_VERSION, SqliteStore, openSqliteStore } from '../../src/storage/sqlite.js';
import { hasPages } from '../../src/storage/workflow-pages.js';
import { COUNT_SQL, SEARCH_COUNT_SQL, SEARCH_WINDOW, TIME_COUNTS_SQL, pageSql } from '../../src/storage/sqlite-pages.js';
import { entry, record, runStoreConformance, type DamageHooks } from './conformance.js';
import { pages } from './pages-conformance.js';
import { runGroupCommitConformance } from './group-commit-conformance.js';
import { withStore } from './sqlite-support.js';

runStoreConformance('sqlite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-'));
  const path = join(directory, 'quest.sqlite');
  return {
    store: await openSqliteStore(path),
    reopen: () => openSqliteStore(path),
    cleanup: () => rm(directory, { recursive: true, force: true }),
    damage: sqliteDamage(path),
  };
});

test('a SqliteStore reads the workflow list by pages (WorkflowPages); its counts and pages by type read one index, not the entries', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-sqlite-'));
  const path = join(directory, 'quest.sqlite');
  const store = await openSqliteStore(path);
  try {
    assert.ok(hasPages(store));
    const db = new Database(path, { readonly: true });
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${COUNT_SQL}`).all() as { detail: string }[];
      assert.deepEqual(plan.map((step) => step.detail), ['SCAN workflows USING COVERING INDEX workflows_by_type']);
      // A page of one state and type (after a cursor or not) is a range of workflows_by_type, read in its order: no sort.
      const params = { state: 'running', type: 'order', startedAt: 1, position: 1, limit: 10 };
      for (const [after, range] of [[false, 'state=? AND type=?'], [true, 'state=? AND type=? AND started_at<?']] as const) {
        const steps = (db.prepare(`EXPLAIN QUERY PLAN ${pageSql(true, true, after)}`).all(params) as { detail: string }[]).map((step) => step.detail);
        assert.deepEqual(steps, [`SEARCH workflows USING INDEX workflows_by_type (${range})`]);
      }
      // A search: the newest entries first (a range of an index, then each entry by its rowid); then what it finds
      // in all from the indexes of ids and aliases alone (covering: no entry read to look for a match).
      const searched = { ...params, search: 'x' };
      const windowed = (db.prepare(`EXPLAIN QUERY PLAN ${pageSql(true, false, true, 'window')}`).all(searched) as { detail: string }[]).map((step) => step.detail);
      assert.deepEqual(windowed.slice(0, 4), ['CO-ROUTINE recent', 'SEARCH workflows USING COVERING INDEX workflows_by_state (state=? AND started_at<?)', 'SCAN recent', 'SEARCH w USING INTEGER PRIMARY KEY (rowid=?)']);
      for (const sql of [pageSql(false, false, false, 'found'), SEARCH_COUNT_SQL.few]) {
        const steps = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(searched) as { detail: string }[]).map((step) => step.detail);
        assert.ok(steps.includes('SCAN w USING COVERING INDEX sqlite_autoindex_workflows_1'), steps.join(' | '));
        assert.ok(steps.includes('SCAN aliases USING COVERING INDEX aliases_by_workflow'), steps.join(' | '));
        assert.ok(!steps.some((step) => /^SCAN (workflows|w)$/.test(step)), steps.join(' | '));
      }
    } finally {
      db.close();
    }
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('a search beyond the newest entries a SqliteStore looks through first finds the older ones, pages and counts them', async () => {
  await withStore(async (store) => {
    // Older than the search's first window: three that a search finds (one by its alias) among them.
    const old = ['hit-1', 'other-1', 'hit-2', 'other-2', 'aliased'];
    await Promise.all(old.map((id, n) => store.putWorkflow(entry(id, n, n === 0 ? 'completed' : 'running'))));
    await store.putAlias('hit-3', 'aliased');
    await Promise.all(Array.from({ length: SEARCH_WINDOW + 10 }, (_, n) => store.putWorkflow(entry(`new-${n}`, 1000 + n, 'completed'))));
    assert.deepEqual(await pages(store, { search: 'hit', limit: 2 }), [['aliased', 'hit-2'], ['hit-1']]);
    assert.deepEqual(await pages(store, { search: 'hit', state: 'running', limit: 5 }), [['aliased', 'hit-2']]);
    assert.deepEqual(await store.countWorkflows({ search: 'hit' }), [{ state: 'completed', type: 'order', count: 1 }, { state: 'running', type: 'order', count: 2 }]);
    // One that finds most: its first pages come from the newest entries, its counts from every entry.
    const most = await store.pageWorkflows({ search: 'e', limit: 3 });
    assert.deepEqual(most.entries.map((e) => e.id), [`new-${SEARCH_WINDOW + 9}`, `new-${SEARCH_WINDOW + 8}`, `new-${SEARCH_WINDOW + 7}`]);
    assert.deepEqual(await store.countWorkflows({ search: 'e' }), [{ state: 'completed', type: 'order', count: SEARCH_WINDOW + 10 }, { state: 'running', type: 'order', count: 3 }]);
    assert.deepEqual(await pages(store, { search: '-1', state: 'running', limit: 50 }), [['other-1']]);
  });
});

/** The steps of the plan SQLite makes for `sql` on the database at `path`. */
function planOf(path: string, sql: string, params: Record<string, unknown> = {}): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((step) => step.detail);
  } finally {
    db.close();
  }
}

test('a SqliteStore counts over time from the indexes of start and finish times, not from the entries', () => withStore(async (store, path) => {
  const plan = planOf(path, TIME_COUNTS_SQL, { origin: 0, bucketMs: 1000, buckets: 3 });
  assert.ok(plan.some((step) => step.startsWith('SEARCH workflows USING COVERING INDEX workflows_by_start (started_at>? AND started_at<?)')), plan.join('\n'));
  assert.ok(plan.some((step) => step.startsWith('SEARCH workflows USING COVERING INDEX workflows_by_finish (finished_at>? AND finished_at<?)')), plan.join('\n'));
  assert.ok(!plan.some((step) => step.startsWith('SCAN workflows')), plan.join('\n'));
}));

/** Run `sql` on the database at `path` (closed by the store), with the workflow id as its parameter `@id`. */
function onDatabase(path: string, sql: string): (workflowId: string) => Promise<void> {
  return (workflowId) => {
    const db = new Database(path);
    try {
      assert.ok(db.prepare(sql).run({ id: workflowId }).changes > 0, `no row changed by ${sql}`);
    } finally {
      db.close();
    }
    return Promise.resolve();
  };
}

function sqliteDamage(path: string): DamageHooks {
  return {
    truncateRecord: onDatabase(
      path,
      `UPDATE records SET body = substr(body, 1, length(body) / 2)
       WHERE workflow_id = @id AND seq = (SELECT max(seq) FROM records WHERE workflow_id = @id)`,
    ),
    flipByte: onDatabase(path, `UPDATE records SET body = replace(body, '"result":{"seq":3,', '"result":{"seq":7,') WHERE workflow_id = @id AND seq = 3`),
    deleteHistory: onDatabase(path, 'DELETE FROM records WHERE workflow_id = @id'),
    emptyHistory: { exempt: 'a SQLite history is its rows, with no container of its own to empty: emptying it is deleting them (deleteHistory)' },
    tearTail: { exempt: 'SQLite commits a transaction whole or not at all (its WAL): no torn commit is ever visible' },
  };
}

const isStorageError = (error: unknown): boolean => isQuestError(error, 'STORAGE_FAILURE');

runGroupCommitConformance('sqlite', (body, options) => withStore((store, path) => body(store, () => SqliteStore.open(path)), options));

describe('sqlite store: group commit, what only SQLite shows', () => {
  test('reading an entry does not cut the group commit short: 100 starts (read the id, then save it, one after the other within a turn) share one transaction', () => withStore(async (store) => {
    const before = store.stats.transactions;
    const ids = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const saves: Promise<void>[] = [];
    for (const [i, id] of ids.entries()) {
      // Each read comes after the saves queued before it, as the starts of a manager do.
      assert.equal(await store.getWorkflow(id), undefined);
      saves.push(store.putWorkflow(entry(id, i)));
    }
    await Promise.all(saves);
    assert.equal(store.stats.transactions - before, 1);
    for (const [i, id] of ids.entries()) assert.deepEqual(await store.getWorkflow(id), entry(id, i));
  }));

  test('a full queue is written at once, without waiting for the end of the turn', () => withStore(async (store) => {
    const commits = Array.from({ length: 10 }, (_, i) => store.history(`w${i}`).commit({ append: [record(1)], remove: [] }));
    assert.equal(store.stats.transactions, 2);
    await Promise.all(commits);
  }, { maxBatch: 5 }));

  test('when the transaction fails, every commit in it is rejected and none is written', () => withStore(async (store, path) => {
    await store.history('w').commit({ append: [record(1)], remove: [] });
    // Another connection holds the write lock; with no busy timeout, BEGIN IMMEDIATE fails at once.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const results = await Promise.allSettled([
        store.history('w').commit({ append: [record(2)], remove: [] }),
        store.history('v').commit({ append: [record(1)], remove: [] }),
        store.putWorkflow(entry('v', 1)),
      ]);
      assert.ok(results.every((r) => r.status === 'rejected' && isStorageError(r.reason)));
      assert.equal(store.stats.failedTransactions, 1);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.deepEqual(await store.history('w').load(), [record(1)]);
    assert.deepEqual(await store.history('v').load(), []);
    assert.equal(await store.getWorkflow('v'), undefined);
    await store.history('w').commit({ append: [record(2)], remove: [] });
    assert.deepEqual(await store.history('w').load(), [record(1), record(2)]);
  }, { busyTimeoutMs: 0 }));
});

describe('sqlite store: schema and settings', () => {
  test('the schema is migrated once and recorded in user_version', () => withStore(async (store, path) => {
    await store.close();
    const reopened = new SqliteStore(path);
    await reopened.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  }));

  test('a database of a newer schema is refused', () => withStore(async (store, path) => {
    await store.close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    await assert.rejects(openSqliteStore(path), (error: unknown) => isStorageError(error) && /newer Quest/.test(String(error)));
  }));

  test('synchronous normal works the same', () => withStore(async (store) => {
    await store.history('w').commit({ append: [record(1)], remove: [] });
    assert.deepEqual(await store.history('w').load(), [record(1)]);
  }, { synchronous: 'normal' }));

  test('a record that is not JSON is a CorruptHistoryError', () => withStore(async (store, path) => {
    await store.history('w').commit({ append: [record(1)], remove: [] });
    const db = new Database(path);
    db.prepare("UPDATE records SET body = '{broken' WHERE workflow_id = 'w'").run();
    db.close();
    await assert.rejects(store.history('w').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
  }));

  test('records deleted from the history of a running workflow are a CorruptHistoryError, not a shorter history', () => withStore(async (store, path) => {
    await store.putWorkflow(entry('w', 1));
    await store.history('w').commit({ append: [record(1), record(2), record(3)], remove: [] });
    await store.history('w').commit({ append: [record(4)], remove: [2, 9] });
    assert.deepEqual((await store.history('w').load()).map((r) => r.seq), [1, 3, 4]);
    const db = new Database(path);
    db.prepare("DELETE FROM records WHERE workflow_id = 'w' AND seq = 4").run();
    db.close();
    // The reads of a turn share one snapshot (src/storage/sqlite-reads.ts): another connection's change is read from the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(store.history('w').load(), /holds 2 record\(s\) where its commits left 3/);
  }));

  test('a file that is not a database cannot be opened', async () => {
    await assert.rejects(openSqliteStore(join(tmpdir(), 'no-such-dir-quest', 'x', 'q.sqlite')), isStorageError);
  });
});

describe('sqlite store: ownership', () => {
  test('a store that released its ownership refuses writes (the next owner writes now), until it acquires again', () => withStore(async (store) => {
    const owner = newStoreOwner();
    await store.acquireOwnership(owner);
    await store.putWorkflow(entry('w', 1));
    await store.releaseOwnership();
    await assert.rejects(store.putWorkflow(entry('late', 2)), (error: unknown) => isStorageError(error) && /released its ownership/.test(String(error)));
    await assert.rejects(store.history('w').commit({ append: [record(1)], remove: [] }), isStorageError);
    assert.deepEqual((await store.listWorkflows()).map((found) => found.id), ['w']);
    await store.acquireOwnership(owner);
    await store.putWorkflow(entry('again', 3));
  }));

  test('two connections of this process: the second is refused while the first owns the database', () => withStore(async (store, path) => {
    await store.acquireOwnership(newStoreOwner());
    const other = await openSqliteStore(path);
    try {
      await assert.rejects(other.acquireOwnership(newStoreOwner()), (error: unknown) => isQuestError(error, 'STORE_OWNED'));
    } finally {
      await other.close();
    }
  }));
});
