import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptHistoryError, isQuestError } from '../../src/core/errors.js';
import { FileStore, fileNameFor, type FileStoreOptions } from '../../src/storage/files.js';
import { entry, record, runStoreConformance, type DamageHooks } from './conformance.js';

async function freshDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'quest-files-'));
}

runStoreConformance('files', async () => {
  const directory = await freshDirectory();
  return {
    store: await FileStore.open(directory),
    reopen: () => FileStore.open(directory),
    cleanup: () => rm(directory, { recursive: true, force: true }),
    damage: fileDamage(directory),
  };
});

/** The log of `workflowId` in the store in `directory`. */
function logPath(directory: string, workflowId: string): string {
  return join(directory, 'histories', `${fileNameFor(workflowId)}.log`);
}

/** What a crash leaves that a clean close does not: no `closed-cleanly` marker. */
async function forgetCleanClose(directory: string): Promise<void> {
  await rm(join(directory, 'closed-cleanly'), { force: true });
}

function fileDamage(directory: string): DamageHooks {
  return {
    truncateRecord: async (id) => {
      const bytes = await readFile(logPath(directory, id));
      const lastFrame = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
      await truncate(logPath(directory, id), lastFrame + Math.floor((bytes.length - lastFrame) / 2));
    },
    flipByte: async (id) => {
      const text = await readFile(logPath(directory, id), 'utf8');
      assert.ok(text.includes('"result":{"seq":3,'));
      await writeFile(logPath(directory, id), text.replace('"result":{"seq":3,', '"result":{"seq":7,'));
    },
    deleteHistory: (id) => rm(logPath(directory, id)),
    emptyHistory: (id) => writeFile(logPath(directory, id), ''),
    tearTail: async (id) => {
      await forgetCleanClose(directory);
      await appendFile(logPath(directory, id), '0badf00d {"n":5,"a":[{"v":1,"seq":5,"t":0,"ta');
    },
  };
}

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
  test('after a crash, the torn last commit is cut off at open and the log goes on after it', () => withStore(async (store, directory) => {
    const history = store.history('w');
    await history.commit({ append: [record(1), record(2)], remove: [] });
    await history.commit({ append: [record(3)], remove: [1] });
    await store.close();
    // What a crash in the middle of writing the next commit leaves behind.
    await forgetCleanClose(directory);
    await appendFile(store.historyPath('w'), '0badf00d {"n":3,"a":[{"v":1,"seq":4,"t":0,"ta');
    const again = await FileStore.open(directory);
    try {
      assert.equal(again.stats.tornTails, 1);
      assert.deepEqual(await again.history('w').load(), [record(2), record(3)]);
      await again.history('w').commit({ append: [record(4)], remove: [] });
      assert.deepEqual(await again.history('w').load(), [record(2), record(3), record(4)]);
      assert.equal(lines(await readFile(again.historyPath('w'), 'utf8')).length, 4);
    } finally {
      await again.close();
    }
  }));

  test('after a clean close, a log ending in a partial commit was cut: CorruptHistoryError naming the file and byte offset', () => withStore(async (store, directory) => {
    for (let seq = 1; seq <= 3; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
    await store.close();
    const log = store.historyPath('w');
    const text = await readFile(log);
    const third = text.lastIndexOf('\n', text.length - 2) + 1;
    await truncate(log, third + 10);
    const again = await FileStore.open(directory);
    try {
      await assert.rejects(again.history('w').load(), (error: unknown) => {
        assert.ok(error instanceof CorruptHistoryError);
        assert.equal(error.file, log);
        assert.equal(error.offset, third);
        assert.match(error.message, new RegExp(`file .*${fileNameFor('w')}\\.log, byte ${third}\\).*commit 3 is incomplete`));
        return true;
      });
      assert.equal(again.stats.tornTails, 0);
    } finally {
      await again.close();
    }
  }));

  test('a changed byte is a CorruptHistoryError at its commit, before the last and in the last, after a crash too', () => withStore(async (store, directory) => {
    for (let seq = 1; seq <= 3; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
    await store.close();
    const log = store.historyPath('w');
    const original = await readFile(log, 'utf8');
    const frames = lines(original);
    for (const seq of [2, 3]) {
      const offset = Buffer.byteLength(frames.slice(0, seq).map((frame) => `${frame}\n`).join(''));
      await writeFile(log, original.replace(`"result":{"seq":${seq},`, '"result":{"seq":9,'));
      await forgetCleanClose(directory);
      const again = await FileStore.open(directory);
      try {
        await assert.rejects(again.history('w').load(), (error: unknown) => {
          assert.ok(error instanceof CorruptHistoryError);
          assert.equal(error.offset, offset, `seq ${seq}`);
          assert.match(error.message, new RegExp(`commit ${seq} does not match its checksum`));
          return true;
        });
      } finally {
        await again.close();
      }
    }
  }));

  test('a commit missing from the middle of a log, or its header, is a CorruptHistoryError', () => withStore(async (store, directory) => {
    for (let seq = 1; seq <= 3; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
    await store.close();
    const log = store.historyPath('w');
    const frames = lines(await readFile(log, 'utf8'));
    const cases: Array<[string[], RegExp]> = [
      [[frames[0]!, frames[1]!, frames[3]!], /commit 2 is numbered 3/],
      [frames.slice(1), /does not start with its header/],
    ];
    for (const [kept, message] of cases) {
      await writeFile(log, kept.map((frame) => `${frame}\n`).join(''));
      const again = await FileStore.open(directory);
      try {
        await assert.rejects(again.history('w').load(), message);
      } finally {
        await again.close();
      }
    }
  }));

  test('a store of the previous format (a fixture written by it) opens: logs migrated, torn tail cut, later commits checksummed', async () => {
    const directory = await freshDirectory();
    await cp(join(import.meta.dirname, '..', 'fixtures', 'file-store-1'), directory, { recursive: true });
    let store = await FileStore.open(directory);
    try {
      assert.equal(store.stats.migratedLogs, 2);
      assert.deepEqual(JSON.parse(await readFile(join(directory, 'quest-store.json'), 'utf8')), { kind: 'quest-files', format: 2 });
      assert.deepEqual((await store.listWorkflows()).map((e) => [e.id, e.state]), [['order-1', 'running'], ['fresh', 'running'], ['done', 'completed'], ['torn', 'running']]);
      assert.equal(await store.getAlias('current'), 'order-1');
      assert.deepEqual(await store.history('order-1').load(), [record(1), record(3), record(4)]);
      assert.deepEqual(await store.history('torn').load(), [record(1, 'kept')]);
      assert.deepEqual(await store.history('fresh').load(), []);
      await store.history('order-1').commit({ append: [record(5)], remove: [] });
      await store.close();
      // Every log now has the header; 'fresh' got its (empty) log, so losing it from now on is damage.
      for (const id of ['order-1', 'torn', 'fresh']) assert.match(await readFile(store.historyPath(id), 'utf8'), /^[0-9a-f]{8} \{"quest":"history","format":2\}\n/);
      await rm(store.historyPath('fresh'));
      store = await FileStore.open(directory);
      assert.equal(store.stats.migratedLogs, 0);
      assert.deepEqual(await store.history('order-1').load(), [record(1), record(3), record(4), record(5)]);
      await assert.rejects(store.history('fresh').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

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
    // 60 commits, each forgetting the record before: written with a threshold the store never reaches...
    for (let seq = 1; seq <= 60; seq++) await store.history('w').commit({ append: [record(seq)], remove: seq === 1 ? [] : [seq - 1] });
    assert.equal(store.stats.compactions, 0);
    await store.close();
    const log = store.historyPath('w');
    // ...then read with a lower one.
    const again = await FileStore.open(directory, { compactMinLines: 50 });
    try {
      assert.deepEqual(await again.history('w').load(), [record(60)]);
      assert.equal(again.stats.compactions, 1);
      assert.equal(lines(await readFile(log, 'utf8')).length, 2);
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
