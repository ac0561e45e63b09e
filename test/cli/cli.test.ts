/**
 * End-to-end: the `quest` command line (node --import tsx src/cli/main.ts) against SQLite databases prepared
 * by a test manager (see prepareDatabase in support.ts). Each test works in its own temporary directory.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { workflows } from './fixtures/workflows.js';
import { FIXTURE_MODULE, inTempDir, linesOf, prepareDatabase, quest, questWithEnv, spawnQuest } from './support.js';

/** A prepared database in a fresh directory. */
function withDatabase(body: (db: string, directory: string) => Promise<void>): Promise<void> {
  return inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    await body(db, directory);
  });
}

async function storedRecords(db: string, id: string): Promise<unknown[]> {
  const store = await SqliteStore.open(db);
  try {
    return [...(await store.history(id).load())];
  } finally {
    await store.close();
  }
}

/** The rows of the table `quest list` printed first: the lines after its header, up to the first blank one. */
function tableRows(stdout: string): string[] {
  const lines = stdout.split('\n');
  return lines.slice(1, lines.indexOf(''));
}

async function inboxOf(db: string): Promise<unknown[]> {
  const store = await SqliteStore.open(db);
  try {
    return await store.takeEvents(100);
  } finally {
    await store.close();
  }
}

describe('quest CLI', { concurrency: true }, () => {
  test('list: every workflow with its type, state and times, newest first, then the totals; --all: oldest first; --state filters; --json', () => withDatabase(async (db) => {
    const page = await quest('list', '--db', db);
    assert.equal(page.code, 0, page.stderr);
    const lines = page.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+TYPE\s+STATE\s+STARTED\s+FINISHED$/);
    assert.deepEqual(tableRows(page.stdout).map((line) => line.split(/\s+/).slice(0, 3)), [
      ['p1', 'parsing', 'running'],
      ['f1', 'fails', 'failed'],
      ['q1', 'quick', 'completed'],
      ['c1', 'collect', 'running'],
      ['s1', 'secrets', 'running'],
    ]);
    assert.match(lines[3] ?? '', /completed\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal(lines.at(-1), '5 of 5 workflows shown, newest first (running 3, completed 1, failed 1).');

    const all = await quest('list', '--all', '--db', db);
    assert.deepEqual(all.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]), ['s1', 'c1', 'q1', 'f1', 'p1']);

    const running = await quest('list', '--state', 'running', '--db', db);
    assert.deepEqual(tableRows(running.stdout).map((line) => line.split(/\s+/)[0]), ['p1', 'c1', 's1']);

    const json = await quest('list', '--json', '--state', 'failed', '--db', db);
    const parsed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]?.['id'], 'f1');
    assert.equal(parsed[0]?.['error'], 'Error: boom');
    assert.equal(typeof parsed[0]?.['startedAt'], 'string');

    const none = await quest('list', '--state', 'cancelled', '--db', db);
    assert.equal(none.stdout.trim(), 'No cancelled workflows.');
  }));

  test('list: a running workflow whose history is damaged shows as damaged, with the reason', () => withDatabase(async (db) => {
    const sqlite = new Database(db);
    // Still JSON, but no longer the bytes that were committed.
    sqlite.prepare("UPDATE records SET body = body || ' ' WHERE workflow_id = 'c1' AND seq = (SELECT min(seq) FROM records WHERE workflow_id = 'c1')").run();
    sqlite.close();
    const all = await quest('list', '--db', db);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(tableRows(all.stdout).map((line) => line.split(/\s+/).slice(0, 3)[2]), ['running', 'failed', 'completed', 'damaged', 'running']);
    assert.match(all.stdout, /\nc1: CorruptHistoryError: Corrupt history of workflow "c1" \(file .*quest\.sqlite\): record \d+ does not match its checksum/);

    const damaged = await quest('list', '--json', '--state', 'damaged', '--db', db);
    const parsed = JSON.parse(damaged.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(parsed.map((w) => [w['id'], w['state']]), [['c1', 'damaged']]);
    assert.match(String(parsed[0]?.['error']), /^CorruptHistoryError: Corrupt history of workflow "c1"/);
    const running = await quest('list', '--state', 'running', '--db', db);
    assert.deepEqual(tableRows(running.stdout).map((line) => line.split(/\s+/)[0]), ['p1', 's1']);
  }));

  test('history: record by record, pruned records as a count, and nothing changes', () => withDatabase(async (db) => {
    const before = await storedRecords(db, 's1');
    const shown = await quest('history', 's1', '--db', db);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stdout.trim().split('\n');
    assert.equal(lines[0], 'workflow s1 (secrets, running): 7 records stored, 5 pruned');
    assert.match(lines[1] ?? '', /^SEQ\s+TIME\s+TASK\s+TYPE\s+OP ID\s+DETAILS$/);
    assert.match(lines[2] ?? '', /^1\s+\S+Z\s+main\s+resource_open\s+main\/state:board\s+state board\s+init="hello"$/);
    assert.match(lines[5] ?? '', /^\s+… 5 records pruned …$/);
    assert.match(lines[6] ?? '', /^9\s+\S+\s+main\s+step_end\s+main\/sumOfDoubles\s+result=6$/);
    assert.match(lines[8] ?? '', /^11\s+\S+\s+-\s+external\s+main\/queue:mailbox\s+put on mailbox@ann\s+args=\["hi ann"\]$/);
    assert.equal(lines.length, 10);

    const json = JSON.parse((await quest('history', 's1', '--json', '--db', db)).stdout) as { pruned: number; items: Array<Record<string, unknown>> };
    assert.equal(json.pruned, 5);
    assert.deepEqual(json.items[3], { type: 'pruned', count: 5, from: 4, to: 8 });
    assert.deepEqual(json.items.map((item) => item['seq'] ?? 'gap'), [1, 2, 3, 'gap', 9, 10, 11, 12]);

    assert.deepEqual(await storedRecords(db, 's1'), before);
    const finished = await quest('history', 'q1', '--db', db);
    assert.equal(finished.code, 0);
    assert.match(finished.stdout, /history was cleared when it finished/);
  }));

  test('resources: what each identity sees, never another identity\'s private resource', () => withDatabase(async (db) => {
    const rows = async (...extra: string[]): Promise<string[]> => {
      const run = await quest('resources', 's1', '--db', db, ...extra);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout.trim().split('\n').slice(2).map((line) => line.replace(/\s+/g, ' '));
    };
    assert.deepEqual(await rows(), ['board public state "updated"', 'stop public event not set']);
    assert.deepEqual(await rows('--identity', 'ann'), ['board public state "updated"', 'mailbox ann queue 1 item: "hi ann"', 'stop public event not set']);
    assert.deepEqual(await rows('--identity', 'bob'), ['board public state "updated"', 'diary bob state "bob-secret"', 'stop public event not set']);

    const asBob = await quest('resources', 's1', '--identity', 'bob', '--json', '--db', db);
    assert.doesNotMatch(asBob.stdout, /mailbox|hi ann/);
    const asAnn = await quest('resources', 's1', '--identity', 'ann', '--json', '--db', db);
    assert.doesNotMatch(asAnn.stdout, /diary|bob-secret/);
    const parsed = JSON.parse(asAnn.stdout) as { resources: Array<{ name: string; identity: string | null; kind: string; view: unknown }> };
    assert.deepEqual(parsed.resources.find((resource) => resource.name === 'mailbox'), { name: 'mailbox', identity: 'ann', kind: 'queue', view: { size: 1, items: ['hi ann'] } });
  }));

  test('send, then quest run --until-done consumes the events and prints the results', () => withDatabase(async (db) => {
    const sent = await quest('send', 'c1', 'words', 'put', 'hello', '--db', db);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /^Posted event 1: put on words of workflow c1 with \["hello"\]\./);
    const number = await quest('send', 'c1', 'words', 'put', '42', '--json', '--db', db);
    assert.deepEqual(JSON.parse(number.stdout), { id: 2, workflowId: 'c1', resource: 'words', identity: null, action: 'put', args: [42] });
    assert.equal((await quest('send', 'p1', 'words', 'put', '"42"', '--db', db)).code, 0);
    assert.equal((await quest('send', 's1', 'stop', 'set', '--db', db)).code, 0);
    assert.equal((await inboxOf(db)).length, 4);

    const run = await quest('run', FIXTURE_MODULE, '--until-done', '--db', db);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n').sort(), [
      'workflow c1 (collect) completed: ["hello",42]',
      'workflow p1 (parsing) completed: "42"',
      'workflow s1 (secrets) completed: 24',
    ]);
    assert.deepEqual(await inboxOf(db), []);
    const result = await quest('result', 'c1', '--db', db);
    assert.deepEqual(JSON.parse(result.stdout), ['hello', 42]);
  }));

  test('send checks the event against the stored history', () => withDatabase(async (db) => {
    const get = await quest('send', 'c1', 'words', 'get', '--db', db);
    assert.equal(get.code, 2);
    assert.match(get.stderr, /^quest: get on a queue waits for the workflow/);
    const frob = await quest('send', 'c1', 'words', 'frob', '--db', db);
    assert.equal(frob.code, 2);
    assert.match(frob.stderr, /a queue has no action "frob"; send one of: put/);
    const finished = await quest('send', 'q1', 'words', 'put', '1', '--db', db);
    assert.equal(finished.code, 2);
    assert.match(finished.stderr, /workflow q1 has finished \(completed\)/);
    const unknown = await quest('send', 'nope', 'words', 'put', '1', '--db', db);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no workflow "nope"/);
    const notOpen = await quest('send', 'c1', 'elsewhere', 'put', '1', '--db', db);
    assert.equal(notOpen.code, 0);
    assert.match(notOpen.stderr, /warning: the stored history does not show a resource "elsewhere" open for the public/);
    const negative = await quest('send', 'c1', 'words', 'put', '-5', '--json', '--db', db);
    assert.deepEqual((JSON.parse(negative.stdout) as { args: unknown[] }).args, [-5]);
    // Another identity's private resource and a missing one: the same answer (nothing tells that it exists).
    const private_ = await quest('send', 's1', 'mailbox', 'put', '1', '--identity', 'bob', '--db', db);
    const missing = await quest('send', 's1', 'nothing', 'put', '1', '--identity', 'bob', '--db', db);
    assert.deepEqual([private_.code, missing.code], [0, 0]);
    assert.equal(private_.stderr.replace('"mailbox"', '"R"'), missing.stderr.replace('"nothing"', '"R"'));
    assert.match(missing.stderr, /the event waits in the inbox until the workflow opens it/);
    assert.equal((await inboxOf(db)).length, 4);
  }));

  test('send --wait returns once a running quest run applied the event; Ctrl-C suspends it', { timeout: 120_000 }, () => withDatabase(async (db) => {
    const runner = spawnQuest(['run', FIXTURE_MODULE, '--db', db]);
    let errors = '';
    runner.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => runner.on('close', resolve));
    const lines = linesOf(runner);
    try {
      for (const word of ['a', 'b']) {
        const sent = await quest('send', 'c1', 'words', 'put', word, '--wait', '--timeout', '30000', '--db', db);
        assert.equal(sent.code, 0, sent.stderr);
        assert.match(sent.stdout, /Event \d+ was applied to workflow c1\./);
      }
      const { value } = await lines.next();
      assert.equal(value, 'workflow c1 (collect) completed: ["a","b"]');
    } finally {
      runner.kill('SIGINT');
    }
    assert.equal(await exited, 0, errors);
    // The others were suspended, not lost.
    const list = await quest('list', '--state', 'running', '--db', db);
    assert.deepEqual(tableRows(list.stdout).map((line) => line.split(/\s+/)[0]), ['p1', 's1']);
    const late = await quest('send', 'p1', 'words', 'put', 'x', '--wait', '--timeout', '0', '--db', db);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /still in the inbox/);
  }));

  test('send --wait: a rejected event exits 1 with the code and the reason, also in --json', { timeout: 120_000 }, () => withDatabase(async (db) => {
    // The workflows run in this process (any WorkflowManager over the database delivers its inbox).
    const manager = await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 20 });
    try {
      // Its time-to-live passes before the workflow opens the resource: rejected.
      const expired = await quest('send', 'c1', 'notYet', 'put', '1', '--ttl', '0', '--wait', '--timeout', '60000', '--db', db);
      assert.equal(expired.code, 1, expired.stderr);
      assert.equal(expired.stdout, 'Posted event 1: put on notYet of workflow c1 with [1].\n');
      assert.match(
        expired.stderr,
        /quest: event 1 was rejected: EVENT_EXPIRED: Event 1 was not applied within its time-to-live of 0 ms: workflow "c1" did not open a resource "notYet" visible to the public in time/,
      );
      const json = await quest('send', 'p1', 'missing', 'put', '1', '--ttl', '0', '--wait', '--json', '--timeout', '60000', '--db', db);
      assert.equal(json.code, 1);
      const printed = JSON.parse(json.stdout) as { id: number; ttlMs: number; outcome: { status: string; code: string } };
      assert.deepEqual([printed.id, printed.ttlMs, printed.outcome.status, printed.outcome.code], [2, 0, 'rejected', 'EVENT_EXPIRED']);
    } finally {
      await manager.close();
    }
  }));

  test('result: the stored result (0), the error (1), still running (3), unknown (2)', () => withDatabase(async (db) => {
    const completed = await quest('result', 'q1', '--db', db);
    assert.equal(completed.code, 0);
    assert.deepEqual(JSON.parse(completed.stdout), { a: 1 });
    const failed = await quest('result', 'f1', '--db', db);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, '');
    assert.match(failed.stderr, /^quest: workflow f1 failed: Error: boom/);
    const running = await quest('result', 'c1', '--db', db);
    assert.equal(running.code, 3);
    assert.match(running.stderr, /still running/);
    const unknown = await quest('result', 'nope', '--db', db);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no workflow "nope"/);
    const json = await quest('result', 'f1', '--json', '--db', db);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), { id: 'f1', type: 'fails', state: 'failed', error: { name: 'Error', message: 'boom' } });
  }));

  test('versions: the versions live histories replay, and which workflows', () => withDatabase(async (db) => {
    const shown = await quest('versions', '--db', db);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(shown.stdout.trim().split('\n').map((line) => line.replace(/\s+/g, ' ')), ['FUNCTION NAME VERSION COUNT WORKFLOWS', 'parsing parser 2 1 p1']);
    assert.deepEqual(JSON.parse((await quest('versions', '--json', '--db', db)).stdout), [{ fn: 'parsing', name: 'parser', version: '2', workflows: ['p1'] }]);
    // A damaged history is left out of the report, which says so, rather than failing it.
    const sqlite = new Database(db);
    sqlite.prepare("UPDATE records SET body = body || ' ' WHERE workflow_id = 'c1' AND seq = (SELECT min(seq) FROM records WHERE workflow_id = 'c1')").run();
    sqlite.close();
    const damaged = await quest('versions', '--db', db);
    assert.equal(damaged.code, 0, damaged.stderr);
    assert.match(damaged.stdout, /^FUNCTION +NAME +VERSION +COUNT +WORKFLOWS\nparsing +parser +2 +1 +p1\n\nNot read: 1 running workflow whose history is damaged \(c1\)\. It replays no code until its history is restored \(quest list --state damaged says why\); check the versions again then\.\n$/);
    const json = await quest('versions', '--json', '--db', db);
    assert.deepEqual(JSON.parse(json.stdout), [{ fn: 'parsing', name: 'parser', version: '2', workflows: ['p1'] }]);
    assert.match(json.stderr, /^quest: not read: 1 running workflow whose history is damaged \(c1\)/);
    const help = await quest('versions', '--help');
    assert.match(help.stdout, /no longer listed here is replayed by no live\s+history: its code\s+path can be deleted/);
    assert.match(help.stdout, /A version belongs to\s+the function that declares it/);
  }));

  test('run --start: creates the database, starts (or resumes) a workflow, exit 1 when it fails', () => inTempDir(async (directory) => {
    const db = join(directory, 'new', 'fresh.sqlite');
    const started = await quest('run', FIXTURE_MODULE, '--start', 'quick', 'q9', '{"x":1}', '--until-done', '--db', db);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout.trim(), 'workflow q9 (quick) completed: {"x":1}');
    const again = await quest('run', FIXTURE_MODULE, '--start', 'quick', 'q9', '2', '--until-done', '--json', '--db', db);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { id: 'q9', type: 'quick', state: 'completed', result: { x: 1 } });
    const failing = await quest('run', FIXTURE_MODULE, '--start', 'fails', 'f9', '--until-done', '--db', db);
    assert.equal(failing.code, 1);
    assert.equal(failing.stdout.trim(), 'workflow f9 (fails) failed: boom');
    const unknownType = await quest('run', FIXTURE_MODULE, '--start', 'nosuch', 'n1', '--until-done', '--db', db);
    assert.equal(unknownType.code, 2);
    assert.match(unknownType.stderr, /nosuch/);
  }));

  test('run refuses a module without `workflows`', () => inTempDir(async (directory) => {
    const module = join(directory, 'empty.mjs');
    await writeFile(module, 'export const nothing = 1;\n');
    const run = await quest('run', module, '--until-done', '--db', join(directory, 'x.sqlite'));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /must export `workflows`/);
    const missing = await quest('run', join(directory, 'missing.js'), '--db', join(directory, 'x.sqlite'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
  }));

  test('bad usage and a missing or unreadable database: exit 2, the reason on stderr', () => inTempDir(async (directory) => {
    const missingDb = join(directory, 'missing.sqlite');
    for (const args of [['list'], ['history', 'w'], ['resources', 'w'], ['send', 'w', 'q', 'put', '1'], ['result', 'w'], ['versions']]) {
      const run = await quest(...args, '--db', missingDb);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /NotAQuestStoreError: .*missing\.sqlite is not a Quest database: it does not exist/);
      assert.equal(run.stdout, '');
    }
    assert.equal(existsSync(missingDb), false, 'read commands never create a database');

    const garbage = join(directory, 'garbage.sqlite');
    await writeFile(garbage, 'not a database at all, not even close'.repeat(100));
    const unreadable = await quest('list', '--db', garbage);
    assert.equal(unreadable.code, 2);
    assert.match(unreadable.stderr, /NotAQuestStoreError: .*garbage\.sqlite is not a Quest database: it is not a SQLite database/);

    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: quest/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['list', '--state', 'bogus'], /Allowed choices are running, damaged, completed, failed, cancelled/],
      [['history'], /missing required argument 'workflow'/],
      [['history', 'nope', '--db', db], /no workflow "nope"/],
      [['resources', 'nope', '--db', db], /no workflow "nope"/],
      [['send', 'c1', 'words'], /missing required argument 'action'/],
      [['run'], /missing required argument 'module'/],
    ];
    for (const [args, message] of cases) {
      const run = await quest(...args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
    const help = await quest('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes: 0 ok/);
  }));

  test('QUEST_DB names the database when --db is not given', () => withDatabase(async (db) => {
    const run = await questWithEnv({ QUEST_DB: db }, 'list', '--state', 'completed');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^q1\s+quick\s+completed/m);
  }));
});

test('list --help says that residency (evicted while idle) is shown by a server and its dashboard, since the database cannot tell', async () => {
  const help = await quest('list', '--help');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /is a property of that\s+process's memory, not of the database: quest list cannot tell/);
  assert.match(help.stdout, /answer resident: false for an evicted workflow\), and so does its dashboard/);
});
