/**
 * The `stats` inspection call: on a store that counts over time and reads by pages, its plots and history sizes
 * are answered without reading every entry (seen through the store: a MemoryStore that counts its listWorkflows
 * calls); on a store without (a FileStore), the same answer from the whole list.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStore } from '../../src/storage/files.js';
import type { Store, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import type { WireStats } from '../../src/protocol/inspect.js';
import { record } from '../storage/conformance.js';
import { bearer, CountingStore, post, startServer, TOKENS } from './support.js';

const HOUR = 3600_000;

/** The start of the hour 4 hours ago: the first bucket of the plots below. */
const BASE = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR;

function finished(id: string, startedAt: number, finishedAt: number, state: WorkflowState): WorkflowEntry {
  return { id, type: 'counter', args: [], state, startedAt: BASE + startedAt, finishedAt: BASE + finishedAt, deleteOnFinish: false };
}

/**
 * Workflows written into the store behind the manager's back (it never runs them): three finished, and four
 * running with histories of 1, 5, 3 and 2 records, started one millisecond apart in that order.
 */
async function seed(store: Store): Promise<void> {
  await store.putWorkflow(finished('f-a', 0, HOUR / 2, 'completed'));
  await store.putWorkflow(finished('f-b', HOUR - 1, HOUR, 'failed'));
  await store.putWorkflow(finished('f-c', HOUR, 3 * HOUR + 1, 'cancelled'));
  for (const [n, size] of [1, 5, 3, 2].entries()) {
    const id = `r${n + 1}`;
    await store.putWorkflow({ id, type: 'box', args: ['x'], state: 'running', startedAt: BASE + 2 * HOUR + n, deleteOnFinish: false });
    await store.history(id).commit({ append: Array.from({ length: size }, (_, seq) => record(seq + 1)), remove: [] });
  }
}

/** The stats of a server over `store` (seeded once the manager is open), asked for with `body`. */
async function statsOn(store: Store, ...bodies: Record<string, unknown>[]): Promise<WireStats[]> {
  const served = await startServer({ store }, store);
  try {
    await seed(store);
    const admin = served.client(TOKENS.admin);
    const answers: WireStats[] = [];
    for (const body of bodies) answers.push(await admin.stats(body));
    return answers;
  } finally {
    await served.close();
  }
}

const counts = (series: [number, number][]): number[] => series.map(([, count]) => count);

test('stats on a store that counts over time reads neither the whole list nor every running entry', async () => {
  const store = new CountingStore();
  const served = await startServer({ store }, store);
  try {
    await seed(store);
    const admin = served.client(TOKENS.admin);
    const lists = store.lists;
    const stats = await admin.stats({ bucketMs: HOUR, sizes: 3 });
    assert.equal(stats.bucketMs, HOUR);
    assert.equal(stats.started[0]?.[0], BASE);
    assert.deepEqual(stats.started.map(([at]) => at), stats.started.map((_, n) => BASE + n * HOUR));
    // A bucket holds its start, not its end; the running workflows count as started only.
    assert.deepEqual(counts(stats.started).slice(0, 4), [2, 1, 4, 0]);
    assert.deepEqual(counts(stats.finished).slice(0, 4), [1, 1, 0, 1]);
    assert.deepEqual([...counts(stats.started).slice(4), ...counts(stats.finished).slice(4)].filter((count) => count > 0), []);
    // The 3 newest running workflows (not r1), the largest history first.
    assert.deepEqual(stats.historySizes, [
      { id: 'r2', type: 'box', stored: 5, pruned: 0 },
      { id: 'r3', type: 'box', stored: 3, pruned: 0 },
      { id: 'r4', type: 'box', stored: 2, pruned: 0 },
    ]);
    assert.deepEqual((await admin.stats({ sizes: 0 })).historySizes, []);
    assert.equal(store.lists, lists, 'no call read the whole list');
  } finally {
    await served.close();
  }
});

test('stats on a store without counts over time (a FileStore) answers the same, from the whole list', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-stats-'));
  try {
    const asked = [{ bucketMs: HOUR, sizes: 3 }, { sizes: 10 }];
    const [fromList, fromStore] = [await statsOn(await FileStore.open(directory), ...asked), await statsOn(new CountingStore(), ...asked)];
    for (const [n, answer] of fromList!.entries()) {
      const expected = fromStore![n]!;
      assert.equal(answer.bucketMs, expected.bucketMs);
      assert.deepEqual(answer.started.slice(0, 4), expected.started.slice(0, 4));
      assert.deepEqual(answer.finished.slice(0, 4), expected.finished.slice(0, 4));
      assert.deepEqual(answer.historySizes, expected.historySizes);
    }
    assert.deepEqual(fromList![1]!.historySizes.map((size) => size.id), ['r2', 'r3', 'r4', 'r1']);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('buckets too narrow for the time since the first start are BAD_REQUEST, saying how wide to ask', async () => {
  const store = new CountingStore();
  const served = await startServer({ store }, store);
  try {
    await store.putWorkflow(finished('old', -2 * 24 * HOUR, -2 * 24 * HOUR + 1, 'completed'));
    const answer = await post(served.url, 'stats', { bucketMs: 1000 }, bearer(TOKENS.admin));
    assert.equal(answer.status, 400);
    assert.match(answer.body.error?.message ?? '', /makes \d+ buckets since the first workflow started, more than 100000: ask for at least \d+/);
    assert.equal((await post(served.url, 'stats', { bucketMs: 10_000 }, bearer(TOKENS.admin))).status, 200);
  } finally {
    await served.close();
  }
});
