/**
 * Every acknowledged commit of the files and SQLite stores survives a `kill -9` (the check: crash-harness.ts).
 */
import { describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../src/storage/store.js';
import { FileStore } from '../../src/storage/files.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { KILLS, SEED, crashTest } from './crash-harness.js';

/** The crash test in a fresh directory, removed afterwards. */
async function inDirectory(run: (directory: string) => Promise<void>, backend: string): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), `quest-crash-${backend}-`));
  try {
    await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

const openFiles = (directory: string): Promise<Store> => FileStore.open(directory);
const openSqlite = (directory: string): Promise<Store> => Promise.resolve(new SqliteStore(join(directory, 'quest.sqlite')));

describe(`acknowledged commits survive kill -9 (seed ${SEED}; set QUEST_CRASH_SEED to repeat another)`, { concurrency: true }, () => {
  test(`files: ${KILLS} kills`, { timeout: 60_000 }, (t) => inDirectory((directory) => crashTest(t, 'files', directory, openFiles, SEED), 'files'));
  test(`sqlite: ${KILLS} kills`, { timeout: 60_000 }, (t) => inDirectory((directory) => crashTest(t, 'sqlite', directory, openSqlite, SEED + 1), 'sqlite'));
});
