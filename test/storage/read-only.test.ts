/**
 * SqliteStore.openReadOnly: reads a Quest database without changing a byte of it and without creating a file,
 * whether it was closed cleanly (no -wal) or a writer has it open (committed transactions in the -wal), and
 * refuses what is not a Quest database with NotAQuestStoreError. A read-only bind mount (when this machine
 * allows one: root with CAP_SYS_ADMIN) checks it really never opens for writing; root ignores permission bits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isQuestError } from '../../src/core/errors.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { entry, record } from './conformance.js';
import { snapshot } from './snapshot.js';
import { inTempDir } from '../helpers.js';

/** A Quest database at `path` with workflow w (one record), closed cleanly. */
async function makeDatabase(path: string): Promise<void> {
  const store = await SqliteStore.open(path);
  await store.putWorkflow(entry('w', 1));
  await store.history('w').commit({ append: [record(1)], remove: [] });
  await store.close();
}

async function readBack(path: string): Promise<{ ids: string[]; seqs: number[] }> {
  const store = await SqliteStore.openReadOnly(path);
  try {
    await assert.rejects(store.putWorkflow(entry('x', 2)), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /read-only/.test(String(error)));
    return {
      ids: (await store.listWorkflows()).map((found) => found.id),
      seqs: (await store.history('w').load()).map((found) => found.seq),
    };
  } finally {
    await store.close();
  }
}

/** Bind-mount `source` read-only at `target`; false where this machine does not allow it. */
function mountReadOnly(source: string, target: string): boolean {
  mkdirSync(target);
  try {
    execFileSync('mount', ['--bind', source, target], { stdio: 'ignore' });
  } catch {
    return false;
  }
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', target], { stdio: 'ignore' });
    return true;
  } catch {
    execFileSync('umount', [target], { stdio: 'ignore' });
    return false;
  }
}

/**
 * Open `path` read-only in a process of its own, with URI filenames on or off (better-sqlite3 reads the switch once
 * per process, as it loads): whether it was copied into memory and the ids it holds, or the error.
 */
function openedInProcess(path: string, uris: boolean): { memory?: boolean; ids?: string[]; error?: string } {
  const script = `
    const { SqliteStore } = await import('./src/storage/sqlite.ts');
    const { openReadOnlyDatabase } = await import('./src/storage/sqlite-open.ts');
    const { MIGRATIONS, READABLE_SCHEMA } = await import('./src/storage/sqlite-migrations.ts');
    try {
      await (await SqliteStore.openReadOnly(process.argv[1])).close();
      const db = openReadOnlyDatabase(process.argv[1], MIGRATIONS.length, READABLE_SCHEMA);
      const ids = db.prepare('SELECT id FROM workflows').all().map((row) => row.id);
      console.log(JSON.stringify({ memory: db.memory, ids }));
      db.close();
    } catch (error) {
      console.log(JSON.stringify({ error: \`\${error.name}: \${error.message}\` }));
    }`;
  const environment = { ...process.env, SQLITE_USE_URI: uris ? '1' : '0' };
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], { env: environment, encoding: 'utf8' })) as { memory?: boolean; ids?: string[]; error?: string };
}

describe('sqlite store: read-only opening', () => {
  test('a cleanly closed database is read without a byte changed or a file created', () => inTempDir(async (directory) => {
    const path = join(directory, 'quest.sqlite');
    await makeDatabase(path);
    const before = snapshot(directory);
    assert.deepEqual(Object.keys(before), ['quest.sqlite']);
    assert.deepEqual(await readBack(path), { ids: ['w'], seqs: [1] });
    assert.deepEqual(snapshot(directory), before);
  }));

  test('a cleanly closed database is read in place, not copied into memory, where URI filenames are on (SQLITE_USE_URI=1): nothing changed or created', () => inTempDir(async (directory) => {
    const path = join(directory, "quest's #1 100%?.sqlite");
    await makeDatabase(path);
    const before = snapshot(directory);
    assert.deepEqual(openedInProcess(path, true), { memory: false, ids: ['w'] });
    assert.deepEqual(openedInProcess(path, false), { memory: true, ids: ['w'] });
    assert.deepEqual(snapshot(directory), before);
  }));

  test('where URI filenames are off, a cleanly closed database over 2 GiB (too large to copy into memory) is a StorageError saying how to read it', () => inTempDir(async (directory) => {
    const path = join(directory, 'quest.sqlite');
    await makeDatabase(path);
    truncateSync(path, 3 * 2 ** 30); // a sparse tail past the pages the header counts
    assert.match(openedInProcess(path, false).error ?? '', /^StorageError: .*is larger than 2 GiB.*SQLITE_USE_URI=1/s);
    assert.deepEqual(openedInProcess(path, true).ids, ['w']);
    assert.deepEqual(readdirSync(directory), ['quest.sqlite']);
  }));

  test('a database a writer has open is read with what its -wal holds, the database and -wal unchanged', () => inTempDir(async (directory) => {
    const path = join(directory, 'quest.sqlite');
    await makeDatabase(path);
    const writer = await SqliteStore.open(path);
    try {
      await writer.history('w').commit({ append: [record(2)], remove: [] });
      const before = snapshot(directory);
      assert.ok(readFileSync(`${path}-wal`).length > 0, 'the writer left transactions in the -wal');
      assert.deepEqual(await readBack(path), { ids: ['w'], seqs: [1, 2] });
      assert.deepEqual(snapshot(directory), before);
    } finally {
      await writer.close();
    }
  }));

  test('what is not a Quest database is a NotAQuestStoreError, left as it was, and nothing is created', () => inTempDir(async (directory) => {
    writeFileSync(join(directory, 'empty.sqlite'), '');
    writeFileSync(join(directory, 'text.sqlite'), 'just some text, no database here\n'.repeat(10));
    const foreign = new Database(join(directory, 'foreign.sqlite'));
    foreign.pragma('journal_mode = DELETE');
    foreign.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
    foreign.close();
    new Database(join(directory, 'blank.sqlite')).close();
    mkdirSync(join(directory, 'folder'));
    const before = snapshot(directory);
    const cases: Array<[string, RegExp]> = [
      ['missing.sqlite', /does not exist/],
      ['empty.sqlite', /is an empty file/],
      ['text.sqlite', /is not a SQLite database/],
      ['foreign.sqlite', /is a SQLite database of another application/],
      ['blank.sqlite', /is an empty SQLite database|is an empty file/],
      ['folder', /is a directory/],
    ];
    for (const [name, found] of cases) {
      await assert.rejects(SqliteStore.openReadOnly(join(directory, name)), (error: unknown) => {
        assert.ok(isQuestError(error, 'NOT_A_QUEST_STORE'), `${name}: ${String(error)}`);
        assert.match(String(error), found);
        return true;
      });
      // Opening for writing without `create` refuses them the same way, writing nothing either.
      await assert.rejects(SqliteStore.open(join(directory, name), { create: false }), (error: unknown) => isQuestError(error, 'NOT_A_QUEST_STORE'));
    }
    assert.deepEqual(snapshot(directory), before);
  }));

  test('a database on a read-only mount is read, clean or with a -wal (skipped where no mount is allowed)', async (t) => {
    await inTempDir(async (directory) => {
      const source = join(directory, 'source');
      mkdirSync(source);
      const path = join(source, 'quest.sqlite');
      await makeDatabase(path);
      const mount = join(directory, 'mount');
      if (!mountReadOnly(source, mount)) {
        t.skip('this machine does not allow a read-only bind mount (needs root with CAP_SYS_ADMIN)');
        return;
      }
      try {
        assert.throws(() => writeFileSync(join(mount, 'probe'), 'x'), /EROFS/);
        assert.deepEqual(await readBack(join(mount, 'quest.sqlite')), { ids: ['w'], seqs: [1] });
        const writer = await SqliteStore.open(path);
        try {
          await writer.history('w').commit({ append: [record(2)], remove: [] });
          assert.deepEqual(await readBack(join(mount, 'quest.sqlite')), { ids: ['w'], seqs: [1, 2] });
        } finally {
          await writer.close();
        }
      } finally {
        execFileSync('umount', [mount]);
      }
    });
  });
});
