import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isQuestError } from '../../src/core/errors.js';
import { FileStore, fileNameFor, type FileStoreOptions } from '../../src/storage/files.js';
import { entry, record, runStoreConformance } from './conformance.js';

async function freshDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'quest-files-'));
}

runStoreConformance('files', async () => {
  const directory = await freshDirectory();
  return {
    store: await FileStore.open(directory),
    reopen: () => FileStore.open(directory),
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
});

/** Run `body` with a store in a fresh directory, then close it and remove the directory. */
async function withStore(body: (store: FileStore, directory: string) => Promise<void>, options?: FileStoreOptions): Promise<void> {
  const directory = await freshDirectory();
  const store = await FileStore.open(directory, options);
  try {
    await body(store, directory);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('files store: logs', () => {
  test('an interrupted last line is ignored, cut off, and the log goes on after it', () => withStore(async (store, directory) => {
    const history = store.history('w');
    await history.commit({ append: [record(1), record(2)], remove: [] });
    await history.commit({ append: [record(3)], remove: [1] });
    await store.close();
    // What a crash in the middle of writing the next commit leaves behind.
    await appendFile(store.historyPath('w'), '{"a":[{"v":1,"seq":4,"t":0,"ta');
    const again = await FileStore.open(directory);
    try {
      assert.deepEqual(await again.history('w').load(), [record(2), record(3)]);
      assert.equal(again.stats.tornTails, 1);
      await again.history('w').commit({ append: [record(4)], remove: [] });
      assert.deepEqual(await again.history('w').load(), [record(2), record(3), record(4)]);
      assert.equal(lines(await readFile(again.historyPath('w'), 'utf8')).length, 3);
    } finally {
      await again.close();
    }
  }));

  test('a commit without a load first also cuts off an interrupted last line', () => withStore(async (store, directory) => {
    await store.history('w').commit({ append: [record(1)], remove: [] });
    await store.close();
    await appendFile(store.historyPath('w'), '{"a":[');
    const again = await FileStore.open(directory);
    try {
      await again.history('w').commit({ append: [record(2)], remove: [] });
      assert.deepEqual(await again.history('w').load(), [record(1), record(2)]);
    } finally {
      await again.close();
    }
  }));

  test('a damaged line before the last is a CorruptHistoryError', () => withStore(async (store) => {
    const history = store.history('w');
    await history.commit({ append: [record(1)], remove: [] });
    await appendFile(store.historyPath('w'), 'not json\n');
    await history.commit({ append: [record(2)], remove: [] });
    await assert.rejects(history.load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
  }));

  test('an unreadable last line is taken as interrupted, but not when anything follows it', () => withStore(async (store, directory) => {
    await store.history('w').commit({ append: [record(1)], remove: [] });
    await store.close();
    // A power loss can keep the end of a line (its newline) and lose its beginning.
    await appendFile(store.historyPath('w'), '\0\0\0\0 ,"r":[]}\n');
    let again = await FileStore.open(directory);
    try {
      assert.deepEqual(await again.history('w').load(), [record(1)]);
    } finally {
      await again.close();
    }
    await appendFile(store.historyPath('w'), 'garbage\n{"a":[');
    again = await FileStore.open(directory);
    try {
      await assert.rejects(again.history('w').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
    } finally {
      await again.close();
    }
  }));

  test('compaction rewrites a log to its live records and keeps its content', () => withStore(async (store, directory) => {
    const history = store.history('loop');
    const live = new Map<number, ReturnType<typeof record>>();
    for (let seq = 1; seq <= 450; seq++) {
      // Keep every tenth record, forget the rest one commit later.
      const remove = seq > 1 && (seq - 1) % 10 !== 0 ? [seq - 1] : [];
      await history.commit({ append: [record(seq)], remove });
      live.set(seq, record(seq));
      for (const gone of remove) live.delete(gone);
    }
    assert.ok(store.stats.compactions >= 2, `compactions: ${store.stats.compactions}`);
    const logLines = lines(await readFile(store.historyPath('loop'), 'utf8')).length;
    assert.ok(logLines <= 100, `the log has ${logLines} lines`);
    assert.deepEqual(await history.load(), [...live.values()]);
    await store.close();
    const again = await FileStore.open(directory);
    try {
      assert.deepEqual(await again.history('loop').load(), [...live.values()]);
    } finally {
      await again.close();
    }
  }, { compactMinLines: 100 }));

  test('a log past the threshold is compacted when it is loaded', () => withStore(async (store, directory) => {
    await store.close();
    const log = store.historyPath('w');
    const text = Array.from({ length: 60 }, (_, i) => `${JSON.stringify({ a: [record(i + 1)], r: i === 0 ? [] : [i] })}\n`).join('');
    await writeFile(log, text);
    const again = await FileStore.open(directory, { compactMinLines: 50 });
    try {
      assert.deepEqual(await again.history('w').load(), [record(60)]);
      assert.equal(again.stats.compactions, 1);
      assert.equal(lines(await readFile(log, 'utf8')).length, 1);
      assert.deepEqual(await again.history('w').load(), [record(60)]);
    } finally {
      await again.close();
    }
  }));

  test('a commit appending a seq already in the history is refused and writes nothing', () => withStore(async (store) => {
    const history = store.history('w');
    await history.commit({ append: [record(1)], remove: [] });
    await assert.rejects(history.commit({ append: [record(2), record(1)], remove: [] }), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE'));
    assert.deepEqual(await history.load(), [record(1)]);
    await history.commit({ append: [record(2)], remove: [] });
    assert.deepEqual(await history.load(), [record(1), record(2)]);
  }));

  test('more histories than maxOpenFiles keep working', () => withStore(async (store) => {
    const ids = Array.from({ length: 12 }, (_, i) => `w${i}`);
    for (let round = 1; round <= 3; round++) {
      await Promise.all(ids.map((id) => store.history(id).commit({ append: [record(round, id)], remove: [] })));
    }
    for (const id of ids) assert.deepEqual(await store.history(id).load(), [1, 2, 3].map((seq) => record(seq, id)));
  }, { maxOpenFiles: 4 }));
});

describe('files store: directory', () => {
  test('file names are safe for any id and distinct across case', () => {
    for (const id of ['..', '.', '', '../x', 'a/b', 'x'.repeat(5000)]) {
      const name = fileNameFor(id);
      assert.match(name, /^[A-Za-z0-9_-]{0,48}~[0-9a-f]{32}$/);
    }
    assert.notEqual(fileNameFor('Order'), fileNameFor('order'));
    assert.notEqual(fileNameFor('\uD800'), fileNameFor('\uD801'));
  });

  test('a second open of the same directory fails while the first is open, naming the owner', () => withStore(async (_store, directory) => {
    await assert.rejects(FileStore.open(directory), (error: unknown) => {
      assert.ok(isQuestError(error, 'STORE_OWNED'));
      assert.match(error.message, new RegExp(`process ${process.pid} on ${hostname()} since \\d{4}-`));
      return true;
    });
  }));

  test('an owner file left by a process that is gone is taken over', () => withStore(async (store, directory) => {
    await store.close();
    const dead = { id: 'dead', pid: 999_999_999, host: hostname(), acquiredAt: 1 };
    await writeFile(join(directory, 'owner.7.json'), JSON.stringify(dead));
    const again = await FileStore.open(directory);
    await again.close();
  }));

  test('a deletion interrupted by a crash is finished at the next open', () => withStore(async (store, directory) => {
    await store.putWorkflow(entry('w', 1));
    await store.putAlias('a', 'w');
    await store.history('w').commit({ append: [record(1)], remove: [] });
    await store.close();
    await writeFile(join(directory, 'deleting', `${fileNameFor('w')}.json`), JSON.stringify({ workflowId: 'w' }));
    const again = await FileStore.open(directory);
    try {
      assert.equal(await again.getWorkflow('w'), undefined);
      assert.equal(await again.getAlias('a'), undefined);
      assert.deepEqual(await again.history('w').load(), []);
      assert.deepEqual(await readdir(join(directory, 'deleting')), []);
    } finally {
      await again.close();
    }
  }));

  test('temp files left by a crash are removed at open and never read', () => withStore(async (store, directory) => {
    await store.putWorkflow(entry('w', 1));
    await store.close();
    const temp = join(directory, 'workflows', `${fileNameFor('x')}.json.tmp`);
    await writeFile(temp, '{"id":"x","sta');
    const again = await FileStore.open(directory);
    try {
      assert.deepEqual((await again.listWorkflows()).map((e) => e.id), ['w']);
      assert.ok(!(await readdir(join(directory, 'workflows'))).some((name) => name.endsWith('.tmp')));
    } finally {
      await again.close();
    }
  }));

  test('a directory of a newer format is refused', () => withStore(async (store, directory) => {
    await store.close();
    await writeFile(join(directory, 'quest-store.json'), JSON.stringify({ kind: 'quest-files', format: 99 }));
    await assert.rejects(FileStore.open(directory), /newer Quest/);
  }));
});
