/**
 * The storage conformance suite: the `History` and `Store` contracts every backend must meet. Each backend's
 * test file calls {@link runStoreConformance} with a factory for a fresh, empty store.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { capabilityChecks } from './capability-checks.js';
import type { History, HistoryChange } from '../../src/core/history.js';
import type { HistoryRecord } from '../../src/core/records.js';
import { isQuestError, type CorruptHistoryError } from '../../src/core/errors.js';
import { hostname } from 'node:os';
import { newStoreOwner } from '../../src/storage/owner.js';
import { hasOwnership, type Store, type StoreOwner, type WorkflowEntry, type WorkflowState } from '../../src/storage/store.js';
import { inboxChecks } from './inbox-conformance.js';
import { leaseChecks } from './lease-conformance.js';
import { entryWriteChecks } from './entry-writes-conformance.js';
import { pageChecks, timelineChecks } from './pages-conformance.js';

/** A fresh, empty store; `reopen` (durable backends only) opens the same data again after `store.close()`. */
export interface ConformanceSubject {
  store: Store;
  reopen?: () => Promise<Store>;
  /** Remove what the store left behind (its temp directory); called after every store was closed. */
  cleanup: () => Promise<void>;
  /** How to damage this backend's stored histories, for the damage checks (every backend names each case). */
  damage: DamageHooks;
}

/**
 * Damages the stored history of `workflowId` while the store is closed (after `store.close()`, before
 * `reopen()`), or names why the case cannot apply to the backend.
 */
export type DamageHook = ((workflowId: string) => Promise<void>) | { exempt: string };

/**
 * The damage every durable backend must detect (CorruptHistoryError, never a replay of the damage), and the
 * one it must recover from silently (a torn tail).
 */
export interface DamageHooks {
  /** Cut the history short in the middle of its last committed record (a log cut, a row's body cut). */
  truncateRecord: DamageHook;
  /** Change one digit inside a committed record: still valid JSON, a different value. */
  flipByte: DamageHook;
  /** Remove the history altogether (the log file deleted, every row deleted). */
  deleteHistory: DamageHook;
  /** Leave the history with nothing in it (the log emptied to 0 bytes). */
  emptyHistory: DamageHook;
  /** Leave what a crash in the middle of the next commit leaves: a torn commit, never acknowledged, at the end. */
  tearTail: DamageHook;
}

/** Every damage case exempt, with one reason: for backends that keep nothing across a close. */
export function exemptFromDamage(reason: string): DamageHooks {
  const exempt = { exempt: reason };
  return { truncateRecord: exempt, flipByte: exempt, deleteHistory: exempt, emptyHistory: exempt, tearTail: exempt };
}

/** Workflow ids (and aliases) that file names, URLs and SQL must all survive. */
export const ODD_IDS: readonly string[] = [
  'a/b', 'a%2Fb', 'a_b', 'a\\b', 'ü', 'Ü', '..', '.', ' ', '', 'A', 'a', '../escape', 'CON', 'tab\tnew\nline',
  '日本語', '😀', 'x'.repeat(300), '"quoted"', "it's", '*?<>|:',
];

/** A history record with a payload that exercises escaping (quotes, newlines, U+2028, non-ASCII). */
export function record(seq: number, note = ''): HistoryRecord {
  return {
    v: 1, seq, t: 1_700_000_000_000 + seq, task: 'main', id: `main/step-${seq}`, type: 'step_end',
    result: { seq, note, text: 'ü "quoted"\n\u2028 😀', list: [1, null, true, { nested: [] }] },
  };
}

/** A workflow entry. */
/** A change appending one record (`seq`, of workflow `id`). */
export const oneRecord = (id: string, seq = 1): HistoryChange => ({ append: [record(seq, id)], remove: [] });

export function entry(id: string, startedAt: number, state: WorkflowState = 'running'): WorkflowEntry {
  return { id, type: 'order', args: [{ id, n: startedAt }, 'ü'], state, startedAt, deleteOnFinish: false };
}

function seqs(records: readonly HistoryRecord[]): number[] {
  return records.map((r) => r.seq);
}

async function assertStorageError(call: () => unknown, what: string): Promise<void> {
  // An async wrapper turns a synchronous throw into a rejection, so either style of failure is accepted.
  await assert.rejects(async () => call(), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE'), `${what} should fail with StorageError`);
}

type Check = (subject: Pick<ConformanceSubject, 'store' | 'damage'> & { reopen?: () => Promise<Store> }, t: TestContext) => Promise<void>;

/**
 * Register the conformance tests for one backend under `describe(name)`. `create` is called once per test and
 * must return an empty store.
 *
 * @example
 * runStoreConformance('memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
 */
export function runStoreConformance(name: string, create: () => Promise<ConformanceSubject>): void {
  const check = (title: string, body: Check): void => {
    test(title, (t) => withSubject(create, body, t));
  };
  describe(`${name} store: History contract`, () => historyChecks(check));
  describe(`${name} store: Store contract`, () => storeChecks(check));
  describe(`${name} store: durability and close`, () => lifecycleChecks(check));
  describe(`${name} store: EventInbox contract`, () => inboxChecks(check));
  describe(`${name} store: ownership (StoreOwnership, when the store has it)`, () => ownershipChecks(check));
  describe(`${name} store: damage is detected, never replayed`, () => damageChecks(check));
  describe(`${name} store: leases (WorkflowLeases, when the store has it)`, () => leaseChecks(check));
  describe(`${name} store: entry writes (WorkflowEntryWrites, when the store has it)`, () => entryWriteChecks(check));
  describe(`${name} store: paged list (WorkflowPages, when the store has it)`, () => pageChecks(check));
  describe(`${name} store: counts over time (WorkflowTimeline, when the store has it)`, () => timelineChecks(check));
}

/**
 * Register only the checks of the list read as a whole (WorkflowPages, WorkflowTimeline), for a backend's other
 * way of reading it (say, SQLite's reads in a worker thread).
 */
export function runListConformance(name: string, create: () => Promise<ConformanceSubject>): void {
  const check = (title: string, body: Check): void => {
    test(title, (t) => withSubject(create, body, t));
  };
  describe(`${name} store: paged list (WorkflowPages)`, () => pageChecks(check));
  describe(`${name} store: counts over time (WorkflowTimeline)`, () => timelineChecks(check));
}

/** Run one check on a fresh store; close every store it opened and clean up, whatever happens. */
async function withSubject(create: () => Promise<ConformanceSubject>, body: Check, t: TestContext): Promise<void> {
  const subject = await create();
  const opened: Store[] = [subject.store];
  const reopenOriginal = subject.reopen;
  const reopen = reopenOriginal === undefined ? undefined : async () => {
    const store = await reopenOriginal();
    opened.push(store);
    return store;
  };
  try {
    await body({ store: subject.store, reopen, damage: subject.damage }, t);
  } finally {
    for (const store of opened) await store.close();
    await subject.cleanup();
  }
}

async function commit(history: History, append: readonly HistoryRecord[], remove: readonly number[] = []): Promise<void> {
  await history.commit({ append, remove });
}

function historyChecks(check: (title: string, body: Check) => void): void {
  check('a new history is empty', async ({ store }) => {
    assert.deepEqual(await store.history('new').load(), []);
  });

  check('load returns the appended records in seq order, intact', async ({ store }) => {
    const history = store.history('w');
    await commit(history, [record(1), record(2, 'two')]);
    await commit(history, [record(3)]);
    await commit(history, [record(4), record(5), record(6, 'x'.repeat(10_000))]);
    assert.deepEqual(await history.load(), [1, 2, 3, 4, 5, 6].map((seq) => record(seq, seq === 2 ? 'two' : seq === 6 ? 'x'.repeat(10_000) : '')));
  });

  check('a change appends and removes together', async ({ store }) => {
    const history = store.history('w');
    await commit(history, [record(1), record(2), record(3), record(4)]);
    await commit(history, [record(5)], [2, 3]);
    assert.deepEqual(await history.load(), [record(1), record(4), record(5)]);
  });

  check('a change can remove a record it appends itself', async ({ store }) => {
    const history = store.history('w');
    await commit(history, [record(1)]);
    await commit(history, [record(2), record(3)], [1, 2]);
    assert.deepEqual(seqs(await history.load()), [3]);
  });

  check('removing a seq that is not in the history changes nothing', async ({ store }) => {
    const history = store.history('w');
    await commit(history, [record(1)]);
    await commit(history, [], [7]);
    await commit(history, [record(2)], [99]);
    assert.deepEqual(seqs(await history.load()), [1, 2]);
  });

  check('clear removes the whole history, which can then be written again', async ({ store }) => {
    const history = store.history('w');
    await commit(history, [record(1), record(2)]);
    await history.clear();
    assert.deepEqual(await history.load(), []);
    await history.clear();
    await commit(history, [record(3)]);
    assert.deepEqual(seqs(await store.history('w').load()), [3]);
  });

  check('every history() call for an id reaches the same records', async ({ store }) => {
    await commit(store.history('w'), [record(1)]);
    await commit(store.history('w'), [record(2)], [1]);
    assert.deepEqual(seqs(await store.history('w').load()), [2]);
  });

  check('histories of different workflows are independent, whatever their ids', async ({ store }) => {
    for (const [index, id] of ODD_IDS.entries()) await commit(store.history(id), [record(index + 1, id)]);
    for (const [index, id] of ODD_IDS.entries()) assert.deepEqual(await store.history(id).load(), [record(index + 1, id)], `history of ${JSON.stringify(id)}`);
    await store.history('a/b').clear();
    assert.deepEqual(await store.history('a/b').load(), []);
    assert.deepEqual(seqs(await store.history('a%2Fb').load()), [2]);
    assert.deepEqual(seqs(await store.history('a').load()), [ODD_IDS.indexOf('a') + 1]);
  });

  check('many histories commit at the same time', async ({ store }) => {
    const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
    await Promise.all(ids.map(async (id) => {
      for (let seq = 1; seq <= 3; seq++) await commit(store.history(id), [record(seq, id)], seq === 3 ? [1] : []);
    }));
    for (const id of ids) assert.deepEqual(await store.history(id).load(), [record(2, id), record(3, id)]);
  });

  check('a long history that keeps forgetting holds only its live records', async ({ store }) => {
    // Each commit appends one record and removes the one two back: 1,200 commits, never more than 2 live.
    const history = store.history('loop');
    for (let seq = 1; seq <= 1200; seq++) await commit(history, [record(seq)], seq > 2 ? [seq - 2] : []);
    assert.deepEqual(await history.load(), [record(1199), record(1200)]);
    await commit(history, [record(1201)], [1199]);
    assert.deepEqual(seqs(await history.load()), [1200, 1201]);
  });
}

function storeChecks(check: (title: string, body: Check) => void): void {
  check('workflow entries round-trip; an unknown id is undefined', async ({ store }) => {
    const full: WorkflowEntry = {
      ...entry('done', 5, 'failed'), finishedAt: 9, result: { deep: [1, 'ü', null] },
      error: { name: 'Error', message: 'boom\n"x"', fields: { code: 'E1' } }, deleteOnFinish: true,
    };
    await store.putWorkflow(entry('w1', 1));
    await store.putWorkflow(full);
    assert.deepEqual(await store.getWorkflow('w1'), entry('w1', 1));
    assert.deepEqual(await store.getWorkflow('done'), full);
    assert.equal(await store.getWorkflow('nope'), undefined);
  });

  check('putWorkflow replaces an entry', async ({ store }) => {
    await store.putWorkflow(entry('w', 1));
    await store.putWorkflow({ ...entry('w', 1, 'completed'), finishedAt: 2, result: 42 });
    assert.deepEqual(await store.getWorkflow('w'), { ...entry('w', 1, 'completed'), finishedAt: 2, result: 42 });
    assert.equal((await store.listWorkflows()).length, 1);
  });

  check('entries handed out are copies', async ({ store }) => {
    const original = entry('w', 1);
    await store.putWorkflow(original);
    original.state = 'failed';
    const read = await store.getWorkflow('w');
    assert.ok(read !== undefined);
    read.args.push('changed');
    (await store.listWorkflows())[0]!.state = 'cancelled';
    assert.deepEqual(await store.getWorkflow('w'), entry('w', 1));
  });

  check('listWorkflows orders by start and filters by state', async ({ store }) => {
    await store.putWorkflow(entry('c', 30, 'completed'));
    await store.putWorkflow(entry('a', 10));
    await store.putWorkflow(entry('d', 40));
    await store.putWorkflow(entry('b', 20, 'completed'));
    await store.putWorkflow(entry('e', 5, 'failed'));
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ['e', 'a', 'b', 'c', 'd']);
    assert.deepEqual((await store.listWorkflows('running')).map((e) => e.id), ['a', 'd']);
    assert.deepEqual((await store.listWorkflows('completed')).map((e) => e.id), ['b', 'c']);
    assert.deepEqual(await store.listWorkflows('cancelled'), []);
    await store.putWorkflow({ ...entry('a', 10), state: 'cancelled' });
    assert.deepEqual((await store.listWorkflows('running')).map((e) => e.id), ['d']);
    assert.deepEqual((await store.listWorkflows('cancelled')).map((e) => e.id), ['a']);
  });

  check('workflow ids and aliases with odd characters', async ({ store }) => {
    for (const [index, id] of ODD_IDS.entries()) {
      await store.putWorkflow(entry(id, index));
      await store.putAlias(id, `target of ${id}`);
    }
    for (const [index, id] of ODD_IDS.entries()) {
      assert.deepEqual(await store.getWorkflow(id), entry(id, index), `entry ${JSON.stringify(id)}`);
      assert.equal(await store.getAlias(id), `target of ${id}`, `alias ${JSON.stringify(id)}`);
    }
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ODD_IDS);
  });

  check('aliases: put, get, repoint; an unknown alias is undefined', async ({ store }) => {
    await store.putAlias('current-order', 'w1');
    assert.equal(await store.getAlias('current-order'), 'w1');
    await store.putAlias('current-order', 'w2');
    assert.equal(await store.getAlias('current-order'), 'w2');
    assert.equal(await store.getAlias('other'), undefined);
  });

  check('deleteAlias removes an alias only when it points at the given workflow', async ({ store }) => {
    await store.putAlias('x', 'w1');
    await store.deleteAlias('x', 'w2');
    assert.equal(await store.getAlias('x'), 'w1');
    await store.deleteAlias('x', 'w1');
    assert.equal(await store.getAlias('x'), undefined);
    await store.deleteAlias('never', 'w1');
  });

  check('deleteWorkflow removes its entry, history and aliases, and nothing else', async ({ store }) => {
    for (const id of ['w1', 'w2']) {
      await store.putWorkflow(entry(id, 1));
      await commit(store.history(id), [record(1), record(2)]);
      await store.putAlias(`${id}-a`, id);
      await store.putAlias(`${id}-b`, id);
    }
    await store.deleteWorkflow('w1');
    assert.equal(await store.getWorkflow('w1'), undefined);
    assert.deepEqual(await store.history('w1').load(), []);
    assert.equal(await store.getAlias('w1-a'), undefined);
    assert.equal(await store.getAlias('w1-b'), undefined);
    assert.deepEqual(await store.getWorkflow('w2'), entry('w2', 1));
    assert.deepEqual(seqs(await store.history('w2').load()), [1, 2]);
    assert.equal(await store.getAlias('w2-a'), 'w2');
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ['w2']);
    await commit(store.history('w1'), [record(1)]);
    assert.deepEqual(seqs(await store.history('w1').load()), [1]);
  });

  check('deleteWorkflow removes the aliases pointing at it, not one repointed to another workflow', async ({ store }) => {
    await store.putWorkflow(entry('w', 1));
    await store.putAlias('a', 'w');
    await store.putAlias('b', 'w');
    await store.putAlias('b', 'v');
    await store.deleteWorkflow('w');
    assert.equal(await store.getAlias('a'), undefined);
    assert.equal(await store.getAlias('b'), 'v');
  });

  check('deleteWorkflow of an unknown workflow does nothing', async ({ store }) => {
    await store.putWorkflow(entry('w', 1));
    await store.deleteWorkflow('nope');
    assert.equal((await store.listWorkflows()).length, 1);
  });

  check('concurrent writes of entries and aliases all land', async ({ store }) => {
    const ids = Array.from({ length: 40 }, (_, i) => `w${i}`);
    await Promise.all(ids.flatMap((id, i) => [store.putWorkflow(entry(id, i)), store.putAlias(`alias-${id}`, id)]));
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ids);
    for (const id of ids) assert.equal(await store.getAlias(`alias-${id}`), id);
    await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => store.deleteWorkflow(id)));
    assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ids.filter((_, i) => i % 2 === 1));
  });
}

function lifecycleChecks(check: (title: string, body: Check) => void): void {
  check('everything survives close and reopen', async ({ store, reopen }, t) => {
    if (reopen === undefined) {
      t.skip('not a durable backend');
      return;
    }
    await writeSample(store);
    await store.close();
    const again = await reopen();
    await assertSample(again);
    // And it keeps working after the reopen.
    await commit(again.history('w1'), [record(6)], [5]);
    await again.close();
    const third = await reopen();
    assert.deepEqual(seqs(await third.history('w1').load()), [1, 6]);
  });

  check('after close(), every call fails with StorageError; closing twice is fine', async ({ store, reopen }) => {
    const early = store.history('w');
    await commit(early, [record(1)]);
    await store.close();
    await store.close();
    await assertStorageError(() => store.history('w'), 'history()');
    await assertStorageError(() => store.putWorkflow(entry('w', 1)), 'putWorkflow()');
    await assertStorageError(() => store.getWorkflow('w'), 'getWorkflow()');
    await assertStorageError(() => store.listWorkflows(), 'listWorkflows()');
    await assertStorageError(() => store.listWorkflows('running'), 'listWorkflows(state)');
    await assertStorageError(() => store.deleteWorkflow('w'), 'deleteWorkflow()');
    await assertStorageError(() => store.putAlias('a', 'w'), 'putAlias()');
    await assertStorageError(() => store.deleteAlias('a', 'w'), 'deleteAlias()');
    await assertStorageError(() => store.getAlias('a'), 'getAlias()');
    if (reopen !== undefined) {
      // A durable backend's history handed out before close() is backed by the closed store.
      await assertStorageError(() => early.load(), 'load() of a history obtained before close()');
      await assertStorageError(() => early.commit({ append: [record(2)], remove: [] }), 'commit() of a history obtained before close()');
      await assertStorageError(() => early.clear(), 'clear() of a history obtained before close()');
    }
  });
}

/** Entries, aliases and histories (with removals, clears and deletions) for the reopen check. */
async function writeSample(store: Store): Promise<void> {
  await store.putWorkflow(entry('w1', 2));
  await store.putWorkflow({ ...entry('w0', 1, 'completed'), finishedAt: 3, result: ['ü'] });
  await store.putWorkflow(entry('gone', 0));
  await store.putAlias('first', 'w1');
  await store.putAlias('dropped', 'w1');
  await store.deleteAlias('dropped', 'w1');
  await store.putAlias('of-gone', 'gone');
  await commit(store.history('w1'), [record(1), record(2), record(3)]);
  await commit(store.history('w1'), [record(4), record(5)], [2, 3, 4]);
  await commit(store.history('cleared'), [record(1)]);
  await store.history('cleared').clear();
  await commit(store.history('gone'), [record(1)]);
  await store.deleteWorkflow('gone');
  for (const [index, id] of ODD_IDS.entries()) await commit(store.history(id), [record(index + 10, id)]);
}

async function assertSample(store: Store): Promise<void> {
  assert.deepEqual((await store.listWorkflows()).map((e) => e.id), ['w0', 'w1']);
  assert.deepEqual(await store.getWorkflow('w0'), { ...entry('w0', 1, 'completed'), finishedAt: 3, result: ['ü'] });
  assert.equal(await store.getAlias('first'), 'w1');
  assert.equal(await store.getAlias('dropped'), undefined);
  assert.equal(await store.getAlias('of-gone'), undefined);
  assert.deepEqual(await store.history('w1').load(), [record(1), record(5)]);
  assert.deepEqual(await store.history('cleared').load(), []);
  assert.deepEqual(await store.history('gone').load(), []);
  for (const [index, id] of ODD_IDS.entries()) assert.deepEqual(await store.history(id).load(), [record(index + 10, id)]);
}

/** StoreOwnedError naming `owner` (its pid and host). */
function ownedBy(owner: StoreOwner): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isQuestError(error, 'STORE_OWNED'), `expected StoreOwnedError, got ${String(error)}`);
    assert.match(error.message, new RegExp(`process ${owner.pid} on ${owner.host} since ${new Date(owner.acquiredAt).toISOString()}`));
    return true;
  };
}

/** A recorded owner whose process is gone: a pid no process has, on this host. */
function deadOwner(): StoreOwner {
  return { id: 'dead-owner', pid: 2 ** 30 + 7, host: hostname(), acquiredAt: Date.now() - 60_000 };
}

function ownershipChecks(check: (title: string, body: Check) => void): void {
  const owned = capabilityChecks(check, hasOwnership, 'StoreOwnership');

  owned('a second owner is refused with the owner named, until the first releases', async (store) => {
    const first = newStoreOwner();
    const second = newStoreOwner();
    await store.acquireOwnership(first);
    assert.deepEqual(await store.currentOwner(), first);
    await assert.rejects(store.acquireOwnership(second), ownedBy(first));
    await store.acquireOwnership(first); // again, same owner: a no-op
    await store.releaseOwnership();
    assert.equal(await store.currentOwner(), undefined);
    await store.releaseOwnership(); // not holding it: nothing happens
    await store.acquireOwnership(second);
    assert.equal((await store.currentOwner())?.id, second.id);
  });

  owned('an owner whose process is gone is taken over', async (store) => {
    await store.acquireOwnership(deadOwner());
    const next = newStoreOwner();
    await store.acquireOwnership(next);
    assert.equal((await store.currentOwner())?.id, next.id);
  });

  owned('an owner whose pid now belongs to another process (pid reuse) is taken over', async (store, _reopen) => {
    const mine = newStoreOwner();
    if (mine.processTag === undefined) return; // No process tags here (not Linux): pid reuse cannot be told.
    await store.acquireOwnership({ ...mine, id: 'earlier-process', processTag: `${mine.processTag}-earlier` });
    await store.acquireOwnership(mine);
    assert.equal((await store.currentOwner())?.id, mine.id);
  });

  owned('an owner on another host is never taken over (its process cannot be checked)', async (store) => {
    const remote: StoreOwner = { ...deadOwner(), id: 'remote', host: `not-${hostname()}` };
    await store.acquireOwnership(remote);
    await assert.rejects(store.acquireOwnership(newStoreOwner()), (error: unknown) => {
      ownedBy(remote)(error);
      assert.match((error as Error).message, /another host/);
      return true;
    });
  });

  owned('of two takeovers of a gone owner at once, exactly one wins', async (store) => {
    await store.acquireOwnership(deadOwner());
    const racers = [newStoreOwner(), newStoreOwner()];
    const outcomes = await Promise.allSettled(racers.map((racer) => store.acquireOwnership(racer)));
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
    const winner = racers[outcomes.findIndex((outcome) => outcome.status === 'fulfilled')];
    assert.equal((await store.currentOwner())?.id, winner?.id);
  });

  owned('close releases ownership: the store reopened has no owner', async (store, reopen) => {
    await store.acquireOwnership(newStoreOwner());
    if (reopen === undefined) return;
    await store.close();
    const again = await reopen();
    assert.ok(hasOwnership(again));
    assert.equal(await again.currentOwner(), undefined);
    await again.acquireOwnership(newStoreOwner());
  });
}

/** The damage checks: each hook damages workflow 'w' (running, four commits) while the store is closed. */
function damageChecks(check: (title: string, body: Check) => void): void {
  const detected: Array<[keyof DamageHooks, string]> = [
    ['truncateRecord', 'a history cut in the middle of a committed record'],
    ['flipByte', 'a committed record with one digit changed'],
    ['deleteHistory', 'the deleted history of a running workflow'],
    ['emptyHistory', 'the emptied history of a running workflow'],
  ];
  for (const [hook, what] of detected) {
    check(`${what} is a CorruptHistoryError; other histories load, and the damaged workflow can be deleted`, async (subject, t) => {
      const again = await damaged(subject, hook, t);
      if (again === undefined) return;
      await assert.rejects(
        again.history('w').load(),
        (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY') && (error as CorruptHistoryError).workflowId === 'w',
        `${hook}: load() should reject with a CorruptHistoryError of workflow "w"`,
      );
      assert.deepEqual(await again.history('other').load(), [record(1, 'other')]);
      await again.deleteWorkflow('w');
      assert.deepEqual(await again.history('w').load(), []);
    });
  }

  check('a torn last commit (a crash during a commit) is cut off silently; the history goes on', async (subject, t) => {
    const again = await damaged(subject, 'tearTail', t);
    if (again === undefined || subject.reopen === undefined) return;
    assert.deepEqual(seqs(await again.history('w').load()), [1, 2, 3, 4]);
    await commit(again.history('w'), [record(5)]);
    await again.close();
    const third = await subject.reopen();
    assert.deepEqual(seqs(await third.history('w').load()), [1, 2, 3, 4, 5]);
  });

  check('a running workflow that has committed nothing yet has an empty history, not a damaged one', async ({ store, reopen }, t) => {
    if (reopen === undefined) return t.skip('not a durable backend');
    await store.putWorkflow(entry('w', 1));
    await store.close();
    const again = await reopen();
    assert.deepEqual(await again.history('w').load(), []);
    await commit(again.history('w'), [record(1)]);
    assert.deepEqual(seqs(await again.history('w').load()), [1]);
  });

  check('a history committed before its running entry was written is whole', async ({ store, reopen }, t) => {
    if (reopen === undefined) return t.skip('not a durable backend');
    await commit(store.history('w'), [record(1), record(2)]);
    await store.putWorkflow(entry('w', 1));
    await commit(store.history('w'), [record(3)], [1]);
    await store.close();
    const again = await reopen();
    assert.deepEqual(seqs(await again.history('w').load()), [2, 3]);
  });

  check('a cleared history is empty, not damaged: of a finished workflow, and of a running one', async ({ store, reopen }, t) => {
    if (reopen === undefined) return t.skip('not a durable backend');
    for (const id of ['done', 'running']) {
      await store.putWorkflow(entry(id, 1));
      await commit(store.history(id), [record(1)]);
    }
    await store.putWorkflow({ ...entry('done', 1, 'completed'), finishedAt: 2, result: 1 });
    await store.history('done').clear();
    await store.history('running').clear();
    await store.close();
    const again = await reopen();
    assert.deepEqual(await again.history('done').load(), []);
    assert.deepEqual(await again.history('running').load(), []);
  });
}

/**
 * Write running workflows 'w' (four commits) and 'other', close the store, apply `hook` to 'w' and reopen;
 * undefined (the check skipped, with the reason) when the backend is exempt or not durable.
 */
async function damaged(subject: Parameters<Check>[0], hook: keyof DamageHooks, t: TestContext): Promise<Store | undefined> {
  const damage = subject.damage[hook];
  if (typeof damage !== 'function') {
    t.skip(`exempt: ${damage.exempt}`);
    return undefined;
  }
  if (subject.reopen === undefined) throw new Error(`${hook} is not exempt, but the store cannot be reopened`);
  const { store } = subject;
  await store.putWorkflow(entry('w', 1));
  await store.putWorkflow(entry('other', 2));
  await commit(store.history('w'), [record(1), record(2)]);
  await commit(store.history('w'), [record(3)]);
  await commit(store.history('other'), [record(1, 'other')]);
  await commit(store.history('w'), [record(4)]);
  await store.close();
  await damage('w');
  return subject.reopen();
}
