/**
 * `quest list` a page at a time: newest first by the store's cursor, the totals and the next page's command,
 * --type, --state and --search filters, the damage check on the shown page only, the errors of a bad --limit or --after,
 * and the same pages from a store without WorkflowPages (FileStore, in process: the CLI opens SQLite and
 * PostgreSQL only). Real SQLite files and a real FileStore directory, each test its own.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { listingAll, listingPage, type ListingQuery } from '../../src/cli/workflow-listing.js';
import { FileStore } from '../../src/storage/files.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store, WorkflowState } from '../../src/storage/store.js';
import { record } from '../storage/conformance.js';
import { inTempDir, quest, type QuestRun } from './support.js';

const T0 = 1_700_000_000_000;

/** The id of the `i`th workflow seeded (w000 the oldest). */
const idOf = (i: number): string => `w${String(i).padStart(3, '0')}`;

/**
 * `n` workflows w000... started a millisecond apart (w000 the oldest): every fifth (i % 5 === 4) completed, the
 * others running with one record of history; even ones of type order, odd ones of type refund.
 */
async function seed(store: Store, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const state: WorkflowState = i % 5 === 4 ? 'completed' : 'running';
      const finished = state === 'completed' ? { finishedAt: T0 + i + 1, result: null } : {};
      await store.putWorkflow({ id: idOf(i), type: i % 2 === 0 ? 'order' : 'refund', args: [], state, startedAt: T0 + i, deleteOnFinish: false, ...finished });
      if (state === 'running') await store.history(idOf(i)).commit({ append: [record(1)], remove: [] });
    }),
  );
}

/** A SQLite database of `n` seeded workflows in a fresh directory, the histories of `damaged` changed under their checksums. */
function withSeeded(n: number, damaged: readonly string[], body: (db: string, directory: string) => Promise<void>): Promise<void> {
  return inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    const store = await SqliteStore.open(db);
    await seed(store, n);
    await store.close();
    const sqlite = new Database(db);
    // Still JSON, but no longer the bytes that were committed (as the damage test of cli.test.ts).
    for (const id of damaged) sqlite.prepare("UPDATE records SET body = body || ' ' WHERE workflow_id = ?").run(id);
    sqlite.close();
    await body(db, directory);
  });
}

/** The table's rows of a page as [id, type, state]: the lines after the header, up to the first blank one. */
function rowsOf(run: QuestRun): string[][] {
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split('\n');
  const end = lines.indexOf('');
  return lines.slice(1, end).map((line) => line.split(/\s+/).slice(0, 3));
}

/** The arguments of the "Next page: quest list ..." line (after `quest`), or undefined when there is none. */
function nextPageOf(run: QuestRun): string[] | undefined {
  const line = run.stdout.split('\n').find((text) => text.startsWith('Next page: '));
  return line?.slice('Next page: quest '.length).split(' ');
}

/** Every page of `quest ...first`, following the printed next-page commands: the ids of each page. */
async function walk(...first: string[]): Promise<{ pages: string[][]; runs: QuestRun[] }> {
  const pages: string[][] = [];
  const runs: QuestRun[] = [];
  let args: string[] | undefined = first;
  while (args !== undefined && pages.length < 50) {
    const run = await quest(...args);
    runs.push(run);
    pages.push(rowsOf(run).map(([id]) => id ?? ''));
    args = nextPageOf(run);
  }
  return { pages, runs };
}

/** w(from) down to w(to), skipping `except`. */
function newestFirst(from: number, to: number, keep: (i: number) => boolean = () => true): string[] {
  const ids: string[] = [];
  for (let i = from; i >= to; i--) if (keep(i)) ids.push(idOf(i));
  return ids;
}

describe('quest list by pages', { concurrency: true }, () => {
  test('25 workflows with --limit 10 make three pages, newest first, every id once; each page says the totals and the next page\'s command', () =>
    withSeeded(25, [], async (db) => {
      const { pages, runs } = await walk('list', '--limit', '10', '--db', db);
      assert.deepEqual(pages, [newestFirst(24, 15), newestFirst(14, 5), newestFirst(4, 0)]);
      assert.match(runs[0]!.stdout, /\n\n10 of 25 workflows shown, newest first \(running 20, completed 5\)\.\nNext page: quest list --after q1\.\S+ --limit 10 --db \S+quest\.sqlite\n$/);
      assert.match(runs[2]!.stdout, /\n\n5 of 25 workflows shown, newest first \(running 20, completed 5\)\.\n$/);
      assert.deepEqual(rowsOf(runs[0]!)[0], ['w024', 'order', 'completed']);

      // Without --limit: the newest hundred, all of them here, and no next page.
      const plain = await quest('list', '--db', db);
      assert.deepEqual(rowsOf(plain).map(([id]) => id), newestFirst(24, 0));
      assert.equal(nextPageOf(plain), undefined);
    }));

  test('--json pages as an object whose next goes back as --after; without --limit or --after it stays the array of every workflow, oldest first', () =>
    withSeeded(25, [], async (db) => {
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const run = await quest('list', '--json', '--limit', '10', '--db', db, ...(after === null ? [] : ['--after', after]));
        assert.equal(run.code, 0, run.stderr);
        const page = JSON.parse(run.stdout) as { workflows: Array<{ id: string; state: string }>; next: string | null; counts: Array<{ state: string; type: string; count: number }> };
        assert.equal(page.counts.reduce((sum, { count }) => sum + count, 0), 25);
        seen.push(...page.workflows.map(({ id }) => id));
        after = page.next;
      } while (after !== null);
      assert.deepEqual(seen, newestFirst(24, 0));

      const whole = await quest('list', '--json', '--db', db);
      assert.deepEqual((JSON.parse(whole.stdout) as Array<{ id: string }>).map(({ id }) => id), newestFirst(24, 0).reverse());
      const all = await quest('list', '--all', '--db', db);
      assert.deepEqual(rowsOf(all).map(([id]) => id), newestFirst(24, 0).reverse());
      assert.doesNotMatch(all.stdout, /shown|Next page/);
    }));

  test('--type filters the pages, the totals and the next page\'s command', () =>
    withSeeded(25, [], async (db) => {
      const { pages, runs } = await walk('list', '--type', 'refund', '--limit', '5', '--db', db);
      const refunds = newestFirst(24, 0, (i) => i % 2 === 1);
      assert.deepEqual(pages, [refunds.slice(0, 5), refunds.slice(5, 10), refunds.slice(10)]);
      assert.match(runs[0]!.stdout, /\n5 of 12 workflows of type refund shown, newest first \(running 10, completed 2\)\.\nNext page: quest list --after \S+ --limit 5 --type refund --db /);

      const completed = await quest('list', '--type', 'order', '--state', 'completed', '--db', db);
      assert.deepEqual(rowsOf(completed), [['w024', 'order', 'completed'], ['w014', 'order', 'completed'], ['w004', 'order', 'completed']]);
      assert.match(completed.stdout, /\n3 of 3 completed workflows of type order shown, newest first\.\n$/);
    }));

  test('--state damaged reads the running workflows page by page and finds the damaged ones past the first page; --state running leaves them out', () =>
    withSeeded(25, ['w001', 'w003'], async (db) => {
      const damaged = await quest('list', '--state', 'damaged', '--limit', '10', '--db', db);
      assert.deepEqual(rowsOf(damaged), [['w003', 'refund', 'damaged'], ['w001', 'refund', 'damaged']]);
      assert.match(damaged.stdout, /\nw003: CorruptHistoryError: Corrupt history of workflow "w003"/);
      assert.match(damaged.stdout, /\n2 damaged workflows shown, newest first \(20 of the 20 running workflows' histories read\)\.\n$/);

      // One a page: the cursor is right after the one shown, so none is skipped or shown twice.
      const one = await walk('list', '--state', 'damaged', '--limit', '1', '--db', db);
      assert.deepEqual(one.pages.flat(), ['w003', 'w001']);
      assert.match(one.runs.at(-1)!.stdout, /^No more damaged workflows\.\n$/);

      const running = await walk('list', '--state', 'running', '--limit', '10', '--db', db);
      assert.deepEqual(running.pages.flat(), newestFirst(24, 0, (i) => i % 5 !== 4 && i !== 1 && i !== 3));
      assert.equal(running.pages[0]?.length, 10);
      assert.match(running.runs[0]!.stdout, /\n10 of 20 running workflows shown, newest first \(10 histories read; the damaged ones are left out\)\./);
    }));

  test('a plain quest list reads the histories of the page it shows only: a damaged workflow past the page does not show, the page with it does', () =>
    withSeeded(120, ['w000'], async (db) => {
      const first = await quest('list', '--db', db);
      assert.deepEqual(rowsOf(first).map(([id]) => id), newestFirst(119, 20));
      assert.doesNotMatch(first.stdout, /damaged|CorruptHistoryError/);
      assert.match(first.stdout, /\n100 of 120 workflows shown, newest first \(running 96, completed 24\)\.\nNext page: quest list --after \S+ --db /);

      const second = await quest(...nextPageOf(first)!);
      assert.deepEqual(rowsOf(second).at(-1), ['w000', 'order', 'damaged']);
      assert.match(second.stdout, /\nw000: CorruptHistoryError: /);
    }));

  test('a page loads the histories of its own running workflows, no other', () =>
    inTempDir(async (directory) => {
      /** A real SqliteStore that counts the histories asked for. */
      class CountingStore extends SqliteStore {
        histories: string[] = [];
        override history(workflowId: string): ReturnType<SqliteStore['history']> {
          this.histories.push(workflowId);
          return super.history(workflowId);
        }
      }
      const store = new CountingStore(join(directory, 'quest.sqlite'));
      try {
        await seed(store, 250);
        store.histories = [];
        const page = await listingPage(store, { limit: 10 });
        assert.deepEqual(page.listed.map(({ entry }) => entry.id), newestFirst(249, 240));
        // w249 and w244 are completed: no history to read.
        assert.deepEqual(store.histories, newestFirst(249, 240, (i) => i % 5 !== 4));
        assert.equal(page.historiesRead, 8);
      } finally {
        await store.close();
      }
    }));

  test('--search pages the workflows whose id or alias contains the text, with their own totals, the other filters and the next page\'s command', () =>
    withSeeded(25, [], async (db) => {
      const store = await SqliteStore.open(db);
      await store.putAlias('cart-w003', 'w003');
      await store.close();
      // w010..w019 contain "w01"; w003 holds an alias that does.
      const { pages, runs } = await walk('list', '--search', 'w01', '--limit', '4', '--db', db);
      assert.deepEqual(pages, [newestFirst(19, 16), newestFirst(15, 12), newestFirst(11, 10)]);
      assert.match(runs[0]!.stdout, /\n4 of 10 workflows matching "w01" shown, newest first \(running 8, completed 2\)\.\nNext page: quest list --after \S+ --limit 4 --search w01 --db /);
      assert.deepEqual(rowsOf(await quest('list', '--search', 'cart', '--db', db)), [['w003', 'refund', 'running']]);

      const completed = await quest('list', '--search', 'w01', '--state', 'completed', '--type', 'order', '--db', db);
      assert.deepEqual(rowsOf(completed), [['w014', 'order', 'completed']]);
      assert.match(completed.stdout, /\n1 of 1 completed workflow of type order matching "w01" shown, newest first\.\n$/);

      const none = await quest('list', '--search', 'nowhere', '--db', db);
      assert.equal(none.stdout, 'No workflows matching "nowhere".\n');

      // The whole list (--all, --json) is searched too, oldest first; an empty search filters nothing, as on the server.
      assert.deepEqual(rowsOf(await quest('list', '--all', '--search', 'w01', '--db', db)).map(([id]) => id), newestFirst(19, 10).reverse());
      const json = await quest('list', '--json', '--search', 'cart', '--db', db);
      assert.deepEqual((JSON.parse(json.stdout) as Array<{ id: string }>).map(({ id }) => id), ['w003']);
      assert.deepEqual(rowsOf(await quest('list', '--search', '', '--db', db)).map(([id]) => id), newestFirst(24, 0));
    }));

  test('a bad --limit or --after, or --all with either, exits 2 saying what to pass', () =>
    withSeeded(3, [], async (db) => {
      for (const limit of ['0', '10001', '1.5', '1e3', 'ten']) {
        const run = await quest('list', '--limit', limit, '--db', db);
        assert.equal(run.code, 2, limit);
        assert.match(run.stderr, /^quest: --limit must be a whole number from 1 to 10000 \(the most workflows a page shows\), got ".*": pass --limit 100, say, or --all for every workflow\n$/);
        assert.equal(run.stdout, '');
      }
      for (const after of ['bogus', 'q1.zzzzzzzzzzzz.1', 'ql.e30']) {
        const run = await quest('list', '--after', after, '--db', db);
        assert.equal(run.code, 2, after);
        assert.match(run.stderr, /is not a cursor of this database's list: pass the one the page before printed \(after "--after", as it was printed, with the same --db\), or leave --after out/);
      }
      const both = await quest('list', '--all', '--limit', '5', '--db', db);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /--all lists every workflow, --limit and --after a page of them: leave out one or the other/);
    }));

  test('a store without pages (FileStore) lists the same pages as SQLite, with cursors of its own', () =>
    inTempDir(async (directory) => {
      const files = await FileStore.open(join(directory, 'files'));
      const sqlite = await SqliteStore.open(join(directory, 'quest.sqlite'));
      try {
        await seed(files, 25);
        await seed(sqlite, 25);
        const pagesOf = async (store: Store, query: Omit<ListingQuery, 'after'>): Promise<{ ids: string[][]; cursors: string[] }> => {
          const ids: string[][] = [];
          const cursors: string[] = [];
          let after: string | undefined;
          do {
            const page = await listingPage(store, { ...query, after });
            ids.push(page.listed.map(({ entry, state }) => `${entry.id}:${state}`));
            after = page.next;
            if (after !== undefined) cursors.push(after);
          } while (after !== undefined);
          return { ids, cursors };
        };
        for (const query of [{ limit: 10 }, { limit: 4, type: 'refund' }, { limit: 3, state: 'completed' as const }, { limit: 7, state: 'running' as const }]) {
          const fromFiles = await pagesOf(files, query);
          const fromSqlite = await pagesOf(sqlite, query);
          assert.deepEqual(fromFiles.ids, fromSqlite.ids, JSON.stringify(query));
          assert.ok(fromFiles.cursors.every((cursor) => cursor.startsWith('ql.')) && fromSqlite.cursors.every((cursor) => cursor.startsWith('q1.')));
        }
        assert.deepEqual((await pagesOf(files, { limit: 10 })).ids.flat().map((shown) => shown.split(':')[0]), newestFirst(24, 0));
        assert.deepEqual((await listingAll(files)).map(({ entry }) => entry.id), newestFirst(24, 0).reverse());
        await assert.rejects(listingPage(files, { limit: 10, after: 'q1.1.1' }), (error) => isQuestError(error, 'INVALID_ARGUMENT'));
      } finally {
        await files.close();
        await sqlite.close();
      }
    }));
});
