/**
 * Conformance checks of the paged workflow list (WorkflowPages: pageWorkflows, countWorkflows), for the stores
 * that have it: order, filters, cursors that stay right while workflows are added, counts, and the errors of a
 * bad limit or cursor. And of the counts over time (WorkflowTimeline: earliestStart, countByTime): bucket edges,
 * finished against running, agreement with a count of the whole list, and the errors of a bad query.
 */
import assert from 'node:assert/strict';
import { capabilityChecks, type RegisterCheck } from './capability-checks.js';
import { isQuestError } from '../../src/core/errors.js';
import type { Store, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import { MAX_WORKFLOW_PAGE, hasPages, type WorkflowCount, type WorkflowPageQuery, type WorkflowPages } from '../../src/storage/workflow-pages.js';
import { MAX_TIME_BUCKETS, hasTimeline, timelineOf, type TimeBuckets } from '../../src/storage/workflow-timeline.js';

type Paged = Store & WorkflowPages;

const T0 = 1_700_000_000_000;

function entry(id: string, startedAt: number, state: WorkflowState = 'running', type = 'order'): WorkflowEntry {
  return { id, type, args: [{ id }], state, startedAt: T0 + startedAt, deleteOnFinish: false };
}

/** An entry that finished at `finishedAt` (ms after T0, as `startedAt`). */
function ended(id: string, startedAt: number, finishedAt: number, state: WorkflowState = 'completed'): WorkflowEntry {
  return { ...entry(id, startedAt, state), finishedAt: T0 + finishedAt };
}

/** Every page of `query` (pages of `limit`), as ids per page. */
export async function pages(store: Paged, query: Omit<WorkflowPageQuery, 'after'>): Promise<string[][]> {
  const found: string[][] = [];
  let after: string | undefined;
  do {
    const page = await store.pageWorkflows({ ...query, ...(after === undefined ? {} : { after }) });
    found.push(page.entries.map((e) => e.id));
    after = page.next;
  } while (after !== undefined && found.length < 100);
  return found;
}

function sortedCounts(counts: readonly WorkflowCount[]): string[] {
  return counts.map(({ state, type, count }) => `${state}/${type}=${count}`).sort();
}

const isInvalid = (pattern: RegExp) => (error: unknown): boolean => isQuestError(error, 'INVALID_ARGUMENT') && pattern.test((error as Error).message);

/** Register the checks with `check` (the conformance suite's: a fresh store per check). */
export function pageChecks(check: RegisterCheck): void {
  const paged = capabilityChecks(check, hasPages, 'WorkflowPages');

  paged('pages list newest start first; the same start, the latest stored first; the end has no next', async (store) => {
    assert.deepEqual(await store.pageWorkflows({ limit: 10 }), { entries: [] });
    for (const [id, at] of [['a', 1], ['b', 5], ['c', 3], ['d', 5], ['e', 2], ['f', 5]] as const) await store.putWorkflow(entry(id, at));
    // An update keeps an entry's place among those started in the same millisecond.
    await store.putWorkflow(entry('b', 5, 'completed'));
    assert.deepEqual(await pages(store, { limit: 2 }), [['f', 'd'], ['b', 'c'], ['e', 'a']]);
    assert.deepEqual(await pages(store, { limit: 4 }), [['f', 'd', 'b', 'c'], ['e', 'a']]);
    assert.deepEqual(await pages(store, { limit: 6 }), [['f', 'd', 'b', 'c', 'e', 'a']]);
    assert.deepEqual(await pages(store, { limit: 1 }), [['f'], ['d'], ['b'], ['c'], ['e'], ['a']]);
    // The order of listWorkflows, reversed; whole entries.
    const all = await store.listWorkflows();
    assert.deepEqual((await store.pageWorkflows({ limit: 100 })).entries, [...all].reverse());
    assert.deepEqual((await store.pageWorkflows({ limit: MAX_WORKFLOW_PAGE })).entries.length, 6);
  });

  paged('many workflows started in the same millisecond page in the order they were stored, the latest first', async (store) => {
    const ids = Array.from({ length: 23 }, (_, n) => `same-${n}`);
    for (const id of ids) await store.putWorkflow(entry(id, 4));
    await store.putWorkflow(entry('before', 3));
    const expected = [...ids].reverse();
    assert.deepEqual(await pages(store, { limit: 5 }), [...[0, 5, 10, 15, 20].map((from) => expected.slice(from, from + 5)).slice(0, 4), [...expected.slice(20), 'before']]);
  });

  paged('pages filter by state, by type, and by both', async (store) => {
    await store.putWorkflow(entry('r1', 1, 'running', 'order'));
    await store.putWorkflow(entry('c1', 2, 'completed', 'order'));
    await store.putWorkflow(entry('r2', 3, 'running', 'invoice'));
    await store.putWorkflow(entry('f1', 4, 'failed', 'invoice'));
    await store.putWorkflow(entry('r3', 5, 'running', 'order'));
    assert.deepEqual(await pages(store, { state: 'running', limit: 2 }), [['r3', 'r2'], ['r1']]);
    assert.deepEqual(await pages(store, { type: 'invoice', limit: 5 }), [['f1', 'r2']]);
    assert.deepEqual(await pages(store, { state: 'running', type: 'order', limit: 1 }), [['r3'], ['r1']]);
    assert.deepEqual(await pages(store, { state: 'cancelled', limit: 5 }), [[]]);
    assert.deepEqual(await pages(store, { type: 'nothing', limit: 5 }), [[]]);
    // An entry that changes state moves to the other state's pages, in its place by start.
    await store.putWorkflow(entry('r2', 3, 'cancelled', 'invoice'));
    assert.deepEqual(await pages(store, { state: 'running', limit: 5 }), [['r3', 'r1']]);
    assert.deepEqual(await pages(store, { state: 'cancelled', limit: 5 }), [['r2']]);
  });

  paged('a cursor stays right while workflows are added, updated and deleted', async (store) => {
    for (let n = 0; n < 6; n++) await store.putWorkflow(entry(`w${n}`, n));
    const first = await store.pageWorkflows({ limit: 3 });
    assert.deepEqual(first.entries.map((e) => e.id), ['w5', 'w4', 'w3']);
    assert.ok(first.next !== undefined);
    // Newer workflows, one started in the same millisecond as the page's last entry (stored after it, so it
    // sorts before it), one older than every other: the next page neither repeats nor skips an entry.
    await store.putWorkflow(entry('new', 10));
    await store.putWorkflow(entry('same-ms', 3));
    await store.putWorkflow(entry('oldest', -1));
    await store.putWorkflow(entry('w1', 1, 'completed'));
    await store.deleteWorkflow('w3'); // the cursor's own entry
    const second = await store.pageWorkflows({ limit: 3, after: first.next });
    assert.deepEqual(second.entries.map((e) => e.id), ['w2', 'w1', 'w0']);
    assert.equal(second.entries[1]!.state, 'completed');
    const third = await store.pageWorkflows({ limit: 3, after: second.next! });
    assert.deepEqual(third, { entries: [entry('oldest', -1)] });
    // The first page, read again, shows the new ones.
    assert.deepEqual((await store.pageWorkflows({ limit: 3 })).entries.map((e) => e.id), ['new', 'w5', 'w4']);
  });

  paged('a cursor survives a reopen (durable stores)', async (store, reopen) => {
    for (let n = 0; n < 4; n++) await store.putWorkflow(entry(`w${n}`, 7));
    const first = await store.pageWorkflows({ limit: 2 });
    if (reopen === undefined) return;
    await store.close();
    const again = (await reopen()) as Paged;
    assert.deepEqual((await again.pageWorkflows({ limit: 2, after: first.next! })).entries.map((e) => e.id), ['w1', 'w0']);
  });

  paged('counts by state and type in one read', async (store) => {
    assert.deepEqual(await store.countWorkflows(), []);
    await store.putWorkflow(entry('r1', 1, 'running', 'order'));
    await store.putWorkflow(entry('r2', 2, 'running', 'order'));
    await store.putWorkflow(entry('r3', 3, 'running', 'invoice'));
    await store.putWorkflow(entry('c1', 4, 'completed', 'order'));
    await store.putWorkflow(entry('x', 5, 'failed', 'ü "odd" type'));
    assert.deepEqual(sortedCounts(await store.countWorkflows()), [
      'completed/order=1', 'failed/ü "odd" type=1', 'running/invoice=1', 'running/order=2',
    ]);
    await store.putWorkflow(entry('r2', 2, 'cancelled', 'order'));
    await store.deleteWorkflow('x');
    assert.deepEqual(sortedCounts(await store.countWorkflows()), ['cancelled/order=1', 'completed/order=1', 'running/invoice=1', 'running/order=1']);
  });

  paged('a search finds the workflows whose id or held alias contains it, with the other filters and cursors', async (store) => {
    await store.putWorkflow(entry('order-17', 1, 'running', 'order'));
    await store.putWorkflow(entry('order-170', 2, 'completed', 'order'));
    await store.putWorkflow(entry('invoice-9', 3, 'running', 'invoice'));
    await store.putWorkflow(entry('order-3', 4, 'running', 'order'));
    await store.putWorkflow(entry('Order-171', 5, 'running', 'order'));
    await store.putAlias('cart-17', 'invoice-9');
    await store.putAlias('unrelated', 'order-3');
    assert.deepEqual(await pages(store, { search: '-17', limit: 2 }), [['Order-171', 'invoice-9'], ['order-170', 'order-17']]);
    assert.deepEqual(await pages(store, { search: 'order-17', limit: 10 }), [['order-170', 'order-17']], 'case-sensitive');
    assert.deepEqual(await pages(store, { search: 'cart', limit: 10 }), [['invoice-9']]);
    assert.deepEqual(await pages(store, { search: '17', state: 'running', limit: 10 }), [['Order-171', 'invoice-9', 'order-17']]);
    assert.deepEqual(await pages(store, { search: '17', state: 'running', type: 'order', limit: 1 }), [['Order-171'], ['order-17']]);
    assert.deepEqual(await pages(store, { search: 'nowhere', limit: 10 }), [[]]);
    assert.deepEqual(await pages(store, { search: '%', limit: 10 }), [[]], 'no pattern characters');
    assert.deepEqual(await pages(store, { search: '\0', limit: 10 }), [[]]);
    assert.deepEqual(sortedCounts(await store.countWorkflows({ search: '17' })), ['completed/order=1', 'running/invoice=1', 'running/order=2']);
    assert.deepEqual(sortedCounts(await store.countWorkflows({ search: 'unrel' })), ['running/order=1']);
    assert.deepEqual(await store.countWorkflows({ search: 'nowhere' }), []);
    assert.deepEqual(await store.countWorkflows({ search: '\0' }), []);
    // An alias removed no longer finds its workflow.
    await store.deleteAlias('cart-17', 'invoice-9');
    assert.deepEqual(await pages(store, { search: 'cart', limit: 10 }), [[]]);
    assert.deepEqual(await store.countWorkflows({ search: 'cart' }), []);
  });

  paged('entries whose arguments and result hold a NUL character or a lone surrogate are counted and paged by type', async (store) => {
    // JSON.stringify writes them as the escapes \u0000 and \ud800, which some JSON readers refuse.
    const odd: WorkflowEntry = { ...entry('odd', 2, 'completed'), args: ['a\0b', '\ud800', '\\u0000'], result: { text: '\0\udc00' } };
    await store.putWorkflow(entry('plain', 1, 'completed'));
    await store.putWorkflow(odd);
    assert.deepEqual(sortedCounts(await store.countWorkflows()), ['completed/order=2']);
    const page = await store.pageWorkflows({ type: 'order', state: 'completed', limit: 5 });
    assert.deepEqual(page.entries.map((e) => e.id), ['odd', 'plain']);
    assert.deepEqual(page.entries[0], odd);
  });

  paged('a limit out of range is an InvalidArgumentError that gives the range', async (store) => {
    await store.putWorkflow(entry('w', 1));
    for (const limit of [0, -1, 1.5, MAX_WORKFLOW_PAGE + 1, Number.NaN]) {
      await assert.rejects(store.pageWorkflows({ limit }), isInvalid(/limit must be an integer from 1 to/), `limit ${limit}`);
    }
  });

  paged('a cursor the store did not make is an InvalidArgumentError that says what to pass', async (store) => {
    await store.putWorkflow(entry('w', 1));
    for (const after of ['', 'nonsense', 'q1.zz', 'q1.1.', 'q2.1.1', 'q1.1.1; DROP TABLE workflows', `q1.${'z'.repeat(30)}.1`]) {
      await assert.rejects(store.pageWorkflows({ limit: 2, after }), isInvalid(/pass the `next` of the page before/), JSON.stringify(after));
    }
    assert.deepEqual((await store.pageWorkflows({ limit: 2 })).entries.map((e) => e.id), ['w']);
  });
}

/** Register the checks of the counts over time with `check` (the conformance suite's: a fresh store per check). */
export function timelineChecks(check: RegisterCheck): void {
  const timed = capabilityChecks(check, hasTimeline, 'WorkflowTimeline');
  const seconds = (buckets: number, origin = 0): TimeBuckets => ({ origin: T0 + origin, bucketMs: 1000, buckets });

  timed('an empty store has no earliest start, and every bucket counts zero', async (store) => {
    assert.equal(await store.earliestStart(), undefined);
    assert.deepEqual(await store.countByTime(seconds(3)), { started: [0, 0, 0], finished: [0, 0, 0] });
    assert.deepEqual(await store.countByTime(seconds(0)), { started: [], finished: [] });
  });

  timed('a bucket counts from its start up to its end, not included; times outside the buckets are not counted', async (store) => {
    await store.putWorkflow(ended('before', -1, 500));
    await store.putWorkflow(entry('at-origin', 0));
    await store.putWorkflow(ended('long', 10, 5000));
    await store.putWorkflow(ended('quick', 100, 200));
    await store.putWorkflow(ended('last-ms', 999, 1000, 'failed'));
    await store.putWorkflow(ended('second', 1000, 2999, 'cancelled'));
    await store.putWorkflow(entry('third', 2000));
    await store.putWorkflow(ended('at-end', 3000, 3500));
    assert.equal(await store.earliestStart(), T0 - 1);
    // Running workflows count as started only; failed and cancelled ones finished as completed ones do.
    assert.deepEqual(await store.countByTime(seconds(3)), { started: [4, 1, 1], finished: [2, 1, 1] });
    // An entry that finishes counts as finished then; a deleted one no longer counts; the earliest start follows.
    await store.putWorkflow(ended('third', 2000, 2500));
    await store.deleteWorkflow('before');
    assert.equal(await store.earliestStart(), T0);
    assert.deepEqual(await store.countByTime(seconds(3)), { started: [4, 1, 1], finished: [1, 1, 2] });
    assert.deepEqual(await store.countByTime({ origin: T0 - 1000, bucketMs: 2000, buckets: 2 }), { started: [4, 2], finished: [1, 3] });
    assert.deepEqual(await store.countByTime(seconds(2, 5000)), { started: [0, 0], finished: [1, 0] });
  });

  timed('the counts agree with a count of the whole list, whatever the buckets', async (store) => {
    for (let n = 0; n < 150; n++) {
      const start = (n * 7919) % 10_007;
      await store.putWorkflow(n % 4 === 0 ? entry(`w${n}`, start) : ended(`w${n}`, start, start + ((n * 104_729) % 5003), n % 3 === 0 ? 'failed' : 'completed'));
    }
    const listed = await store.listWorkflows();
    const whole = timelineOf(() => listed);
    assert.equal(await store.earliestStart(), await whole.earliestStart());
    for (const query of [seconds(16), { origin: T0 + 13, bucketMs: 7, buckets: 900 }, { origin: T0 - 3600_000, bucketMs: 3600_000, buckets: 3 }, { origin: T0 + 5000, bucketMs: 1, buckets: 2000 }]) {
      const counts = await store.countByTime(query);
      assert.deepEqual(counts, await whole.countByTime(query), JSON.stringify(query));
    }
    assert.equal((await store.countByTime(seconds(16))).started.reduce((sum, n) => sum + n, 0), 150);
  });

  timed('the most buckets there may be are counted', async (store) => {
    await store.putWorkflow(ended('w', 5, 70_000));
    const counts = await store.countByTime({ origin: T0, bucketMs: 1, buckets: MAX_TIME_BUCKETS });
    assert.equal(counts.started.length, MAX_TIME_BUCKETS);
    assert.deepEqual([counts.started[5], counts.finished[70_000], counts.started.reduce((sum, n) => sum + n, 0) + counts.finished.reduce((sum, n) => sum + n, 0)], [1, 1, 2]);
  });

  timed('a query out of range is an InvalidArgumentError that says what to ask for', async (store) => {
    await store.putWorkflow(entry('w', 1));
    const bad: [Partial<TimeBuckets>, RegExp][] = [
      [{ bucketMs: 0 }, /bucketMs must be a positive integer/],
      [{ bucketMs: -1000 }, /bucketMs must be a positive integer/],
      [{ bucketMs: 1.5 }, /bucketMs must be a positive integer/],
      [{ bucketMs: Number.NaN }, /bucketMs must be a positive integer/],
      [{ buckets: -1 }, /number of buckets must be an integer from 0 to/],
      [{ buckets: 2.5 }, /number of buckets must be an integer from 0 to/],
      [{ buckets: MAX_TIME_BUCKETS + 1 }, /ask for wider buckets/],
      [{ origin: T0 + 0.5 }, /origin must be an integer/],
      [{ origin: Number.POSITIVE_INFINITY }, /origin must be an integer/],
      [{ origin: Number.MAX_SAFE_INTEGER - 10 }, /beyond the safe integers/],
    ];
    for (const [change, message] of bad) {
      await assert.rejects(store.countByTime({ ...seconds(3), ...change }), isInvalid(message), JSON.stringify(change));
    }
  });
}
