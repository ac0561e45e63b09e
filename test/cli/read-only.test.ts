/**
 * Read-only tools only read: quest list/history/resources/result/versions leave the database byte for byte as
 * it was (the -wal too) and create no file, also while a manager has the database open; what is not a Quest
 * database is refused with NotAQuestStoreError and left alone; a database that cannot be written (chmod, and a
 * read-only bind mount where this machine allows one) can be inspected, and so can one of over 2 GiB.
 *
 * Tests run as root here, and root ignores permission bits: the chmod case alone proves little. What proves
 * the commands never open for writing is the byte-for-byte comparison (no -wal/-shm created, nothing changed)
 * and the read-only mount (EROFS applies to root too).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { snapshot } from '../storage/snapshot.js';
import { workflows } from './fixtures/workflows.js';
import { inTempDir, prepareDatabase, quest } from './support.js';

/** Each inspection command, with the exit code it gives on the prepared database. */
const INSPECTIONS: ReadonlyArray<[string[], number]> = [
  [['list'], 0],
  [['list', '--json'], 0],
  [['list', '--all'], 0],
  [['list', '--state', 'damaged', '--limit', '1', '--json'], 0],
  [['history', 's1'], 0],
  [['resources', 's1'], 0],
  [['result', 'q1'], 0],
  [['result', 'c1'], 3],
  [['versions'], 0],
];

async function inspectEverything(db: string): Promise<void> {
  for (const [args, code] of INSPECTIONS) {
    const run = await quest(...args, '--db', db);
    assert.equal(run.code, code, `quest ${args.join(' ')}: ${run.stderr}`);
  }
}

describe('quest inspection commands only read', () => {
  test('list, history, resources, result, versions change no byte and create no file', () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const before = snapshot(directory);
    assert.deepEqual(Object.keys(before), ['quest.sqlite']);
    await inspectEverything(db);
    assert.deepEqual(snapshot(directory), before);
  }));

  test('the same while a manager has the database open (its -wal holds transactions)', () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const manager = await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 0 });
    try {
      await manager.state<string>('s1', 'board', null).set('live');
      const before = snapshot(directory);
      assert.ok(Object.keys(before).includes('quest.sqlite-wal'));
      await inspectEverything(db);
      assert.deepEqual(snapshot(directory), before);
      const resources = await quest('resources', 's1', '--json', '--db', db);
      assert.match(resources.stdout, /"live"/, 'the inspection sees what the -wal holds');
    } finally {
      await manager.close();
    }
  }));

  test('a cleanly closed database of over 2 GiB is inspected in place (it was read whole into memory, which Node refuses past 2 GiB)', () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    // Past its pages, a sparse tail: SQLite reads the database's size from its header, so only the file is larger.
    truncateSync(db, 3 * 2 ** 30);
    const before = statSync(db);
    await inspectEverything(db);
    assert.deepEqual(readdirSync(directory), ['quest.sqlite']);
    const after = statSync(db);
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs]);
  }));

  test('an empty file, another application\'s database, a text file, a missing file: NotAQuestStoreError, left alone', () => inTempDir(async (directory) => {
    writeFileSync(join(directory, 'empty.sqlite'), '');
    writeFileSync(join(directory, 'notes.txt'), 'no database here\n');
    const foreign = new Database(join(directory, 'foreign.sqlite'));
    foreign.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
    foreign.close();
    const before = snapshot(directory);
    const cases: Array<[string, RegExp]> = [
      ['empty.sqlite', /it is an empty file/],
      ['foreign.sqlite', /it is a SQLite database of another application/],
      ['notes.txt', /it is not a SQLite database/],
      ['missing.sqlite', /it does not exist/],
    ];
    for (const [name, found] of cases) {
      for (const args of [['list'], ['send', 'w', 'q', 'put', '1']]) {
        const run = await quest(...args, '--db', join(directory, name));
        assert.equal(run.code, 2, `${args[0] ?? ''} ${name}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`NotAQuestStoreError: .*${name.replace('.', '\\.')} is not a Quest database: ${found.source}`));
      }
    }
    assert.deepEqual(snapshot(directory), before);
  }));

  test('a read-only database in a read-only directory can be inspected (chmod; a read-only mount where allowed)', async (t) => {
    await inTempDir(async (directory) => {
      const data = join(directory, 'data');
      mkdirSync(data);
      const db = join(data, 'quest.sqlite');
      await prepareDatabase(db);
      chmodSync(db, 0o444);
      chmodSync(data, 0o555);
      try {
        const before = snapshot(data);
        await inspectEverything(db);
        assert.deepEqual(snapshot(data), before);
        const mount = join(directory, 'mount');
        mkdirSync(mount);
        try {
          execFileSync('mount', ['--bind', data, mount], { stdio: 'ignore' });
        } catch {
          t.diagnostic('no read-only mount on this machine (needs root with CAP_SYS_ADMIN): only the chmod case ran');
          return;
        }
        try {
          execFileSync('mount', ['-o', 'remount,bind,ro', mount], { stdio: 'ignore' });
          await inspectEverything(join(mount, 'quest.sqlite'));
        } finally {
          execFileSync('umount', [mount]);
        }
      } finally {
        chmodSync(data, 0o755);
      }
    });
  });
});
