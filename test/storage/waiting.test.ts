/**
 * What a waiting workflow shows is in the store: once a workflow waits for the outside (a queue get, an event
 * wait, a multiQueue iteration, a durable sleep), the records it buffered (its resource opens above all) are
 * durable, so `quest resources` and `quest send`, which read the stored history, see what it waits on. Read
 * back through src/inspect, from a second SqliteStore for SQLite, while the workflow waits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Historian, event, multiQueue, queue, sleep, task, type WorkflowFunction } from '../../src/index.js';
import type { History, HistoryChange } from '../../src/core/history.js';
import { upgradeRecord } from '../../src/core/records.js';
import { rebuildResources } from '../../src/inspect/resources.js';
import { FileStore } from '../../src/storage/files.js';
import { MemoryHistory, MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import { untilSettled } from '../helpers.js';
import { outcome, suspend } from '../core/support.js';

interface Backend {
  /** The store the workflow writes to. */
  store: Store;
  /** A store to read back from (another instance over the same data where the backend allows one). */
  reader: Store;
  close(): Promise<void>;
}

const BACKENDS: Record<string, () => Promise<Backend>> = {
  memory: async () => {
    const store = new MemoryStore();
    return { store, reader: store, close: async () => undefined };
  },
  files: async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quest-waiting-'));
    // One process per FileStore directory (a lock file): the same instance reads its files back.
    const store = await FileStore.open(directory);
    return {
      store,
      reader: store,
      close: async () => {
        await store.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  },
  SQLite: async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quest-waiting-'));
    const path = join(directory, 'quest.sqlite');
    const store = await SqliteStore.open(path);
    const reader = await SqliteStore.open(path);
    return {
      store,
      reader,
      close: async () => {
        await reader.close();
        await store.close();
        await rm(directory, { recursive: true, force: true });
      },
    };
  },
};

/** The resources the stored history of `id` says are open, as `name` or `name@identity`. */
async function storedResources(store: Store, id: string): Promise<string[]> {
  const records = (await store.history(id).load()).map(upgradeRecord);
  return rebuildResources(records).resources.map(({ name, identity }) => (identity === null ? name : `${name}@${identity}`));
}

/** Run `workflow` until it waits, then check that the stored history shows `expected` open; suspend it. */
async function checkWaiting(open: () => Promise<Backend>, workflow: WorkflowFunction<[], unknown>, expected: string[]): Promise<void> {
  const backend = await open();
  try {
    const historian = new Historian('w', workflow, backend.store.history('w'));
    const running = outcome(historian.run());
    await historian.waitForResource(expected.at(-1)?.split('@')[0] ?? '', expected.at(-1)?.split('@')[1] ?? null);
    // Nothing outside acts: only the workflow going idle can have written its records.
    await untilSettled(async () => (await storedResources(backend.reader, 'w')).join() === expected.join());
    await suspend(historian, running);
  } finally {
    await backend.close();
  }
}

for (const [name, open] of Object.entries(BACKENDS)) {
  describe(`a waiting workflow's resources are in the ${name} store`, () => {
    test('waiting on a queue get', () =>
      checkWaiting(open, async () => {
        await using inbox = await queue<string>('inbox', null);
        return await inbox.get();
      }, ['inbox']));

    test('waiting on an event', () =>
      checkWaiting(open, async () => {
        await using board = await queue<string>('board', 'ann');
        await using go = await event('go', null);
        await go.wait();
        return board.size;
      }, ['board@ann', 'go']));

    test('waiting in a multiQueue iteration', () =>
      checkWaiting(open, async () => {
        await using answers = await multiQueue<string>('answer', ['ann', 'bob']);
        for await (const answer of answers) return answer;
        return undefined;
      }, ['answer@ann', 'answer@bob']));

    test('waiting in a task while the main task waits for it', () =>
      checkWaiting(open, async () => {
        const reader = task('reader', async () => {
          await using inbox = await queue<string>('inbox', null);
          return await inbox.get();
        });
        return reader();
      }, ['inbox']));

    test('sleeping durably', () =>
      checkWaiting(open, async () => {
        await using inbox = await queue<string>('inbox', null);
        await sleep(60 * 60 * 1000);
        return inbox.size;
      }, ['inbox']));
  });
}

/** A MemoryHistory that counts the commits it is asked for. */
class CountingHistory implements History {
  commits = 0;
  readonly inner = new MemoryHistory();
  load() {
    return this.inner.load();
  }
  commit(change: HistoryChange) {
    this.commits++;
    return this.inner.commit(change);
  }
  clear() {
    return this.inner.clear();
  }
}

describe('going idle, not every wait, makes records durable', () => {
  test('waits that the workflow\'s own tasks end within the turn write nothing', async () => {
    const history = new CountingHistory();
    const ITEMS = 50;
    const historian = new Historian('w', async () => {
      await using pipe = await queue<number>('pipe', null);
      const consumer = task('consumer', async () => {
        let sum = 0;
        for (let i = 0; i < ITEMS; i++) sum += await pipe.get();
        return sum;
      })();
      for (let i = 0; i < ITEMS; i++) await pipe.put(i);
      await using go = await event('go', null);
      const sum = await consumer;
      await go.wait();
      return sum;
    }, history);
    const running = historian.run();
    await historian.waitForResource('go', null);
    // The consumer waited up to 50 times, each time ended by the next put within the same turn: no commit
    // for those. Then the workflow waits for `go`: one commit.
    await untilSettled(() => history.commits === 1);
    assert.ok(history.inner.snapshot().some((record) => record.type === 'resource_open' && record.resource.name === 'go'));
    await historian.act('go', null, 'set');
    assert.equal(await running, (ITEMS * (ITEMS - 1)) / 2);
  });
});
