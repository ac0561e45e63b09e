/**
 * The CLI and the network server against PostgreSQL (`--db postgres://...?schema=...`), as against SQLite:
 * `quest run` runs and finishes a workflow; `quest list` and `quest result` read without writing; two
 * `quest serve` processes share the store, and a client of one acts on a workflow the other runs (through
 * the inbox and NOTIFY) and gets its result.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuestClient } from '../../src/client/client.js';
import { PG_URL, describePostgres, dropSchema, freshSchema } from '../storage/postgres-support.js';
import { FIXTURE_MODULE, quest, serveFixture } from './support.js';

/** The `--db` of `schema`. */
function dbOf(schema: string): string {
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

describePostgres('quest on PostgreSQL', () => {
  test('quest run, list (whole and by pages) and result work on a postgres:// database; an absent schema is reported, not created, by list', async () => {
    const schema = freshSchema('cli');
    try {
      const missing = await quest('list', '--db', dbOf(schema));
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr, /no Quest tables/);
      const run = await quest('run', FIXTURE_MODULE, '--start', 'quick', 'q9', '{"x":1}', '--until-done', '--db', dbOf(schema));
      assert.equal(run.code, 0, run.stderr);
      const list = await quest('list', '--json', '--db', dbOf(schema));
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual((JSON.parse(list.stdout) as { id: string; state: string }[]).map(({ id, state }) => [id, state]), [['q9', 'completed']]);
      // A page (the store's own cursor and counts), as on SQLite.
      const page = await quest('list', '--limit', '1', '--type', 'quick', '--db', dbOf(schema));
      assert.equal(page.code, 0, page.stderr);
      assert.match(page.stdout, /^q9\s+quick\s+completed/m);
      assert.match(page.stdout, /\n1 of 1 workflow of type quick shown, newest first \(completed 1\)\.\n$/);
      const result = await quest('result', 'q9', '--json', '--db', dbOf(schema));
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual((JSON.parse(result.stdout) as { result: unknown }).result, { x: 1 });
    } finally {
      await dropSchema(schema);
    }
  });

  test('two quest serve processes share the store: a client of one acts on a workflow the other runs and gets its result', async () => {
    const schema = freshSchema('serve');
    const db = dbOf(schema);
    const runner = await serveFixture(db, '--start', 'collect', 'c1', '2');
    try {
      const other = await serveFixture(db);
      try {
        const client = new QuestClient(other.url);
        const near = new QuestClient(runner.url);
        await near.waitForResource('c1', 'words');
        await client.queue<string>('c1', 'words').put('hello');
        await client.queue<string>('c1', 'words').put('world');
        assert.deepEqual(await client.getResult('c1'), ['hello', 'world']);
      } finally {
        assert.equal(await other.stop(), 0);
      }
    } finally {
      assert.equal(await runner.stop(), 0);
      await dropSchema(schema);
    }
  });
});
