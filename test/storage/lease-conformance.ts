/**
 * The WorkflowLeases contract of the conformance suite: a store shared by many processes (PostgreSQL) meets
 * it; a store without leases (memory, files, SQLite: one manager per store, StoreOwnership) skips the group,
 * named with the reason. Two store objects over the same data stand for two processes.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { isQuestError } from '../../src/core/errors.js';
import { hasInbox, hasLeases, type Store, type StoreChange, type WorkflowEntry, type WorkflowLeases } from '../../src/storage/store.js';
import { entry, record } from './conformance.js';

/** A check of the suite: a fresh store and how to open a second one over the same data. */
export type LeaseCheck = (subject: { store: Store; reopen?: () => Promise<Store> }, t: TestContext) => Promise<void>;

type Leased = Store & WorkflowLeases;

/** The store and a second one over the same data (another process), or undefined (the check is skipped). */
async function pair(subject: { store: Store; reopen?: () => Promise<Store> }, t: TestContext): Promise<[Leased, Leased] | undefined> {
  const { store, reopen } = subject;
  if (!hasLeases(store) || reopen === undefined) {
    t.skip('this store has no WorkflowLeases: one manager per store (StoreOwnership) instead');
    return undefined;
  }
  const other = await reopen();
  assert.ok(hasLeases(other));
  return [store, other];
}

const LONG = 60_000;
const isLeaseLost = (error: unknown): boolean => isQuestError(error, 'LEASE_LOST');

/** Claim `id` through `store` as `owner`, trying until its lease (a 1 ms one) has expired on the store's clock. */
async function claimWhenExpired(store: Leased, owner: string, id: string): Promise<number> {
  for (;;) {
    const [lease] = await store.claimWorkflows({ owner, leaseMs: LONG, limit: 1, ids: [id] });
    if (lease !== undefined) return lease.epoch;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The next change `store` hears that `matches`. */
function nextChange(store: Leased, matches: (change: StoreChange) => boolean): Promise<StoreChange> {
  return new Promise((resolve) => {
    const stop = store.watch((change) => {
      if (!matches(change)) return;
      stop();
      resolve(change);
    });
  });
}

/** Register the lease checks with `check` (see runStoreConformance). */
export function leaseChecks(check: (title: string, body: LeaseCheck) => void): void {
  check('a claim takes running workflows nobody owns, oldest first, each for one owner only', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    await a.putWorkflow(entry('w1', 1));
    await a.putWorkflow(entry('w2', 2));
    await a.putWorkflow(entry('done', 3, 'completed'));
    const claimed = await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 10 });
    assert.deepEqual(claimed.map((lease) => [lease.entry.id, lease.owner]), [['w1', 'A'], ['w2', 'A']]);
    assert.deepEqual(claimed[0]?.entry, entry('w1', 1));
    assert.deepEqual(await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 10 }), []);
    const lease = await b.leaseOf('w1');
    assert.equal(lease?.owner, 'A');
    assert.equal(lease?.epoch, claimed[0]?.epoch);
    assert.equal(await b.leaseOf('done'), undefined);
  });

  check('createWorkflow inserts a new entry, claimed or left for any claimer; an existing id is a DuplicateWorkflowError', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    const lease = await a.createWorkflow(entry('mine', 1), { owner: 'A', leaseMs: LONG });
    assert.deepEqual(lease, { entry: entry('mine', 1), owner: 'A', epoch: 1 });
    assert.equal((await b.leaseOf('mine'))?.owner, 'A');
    assert.equal(await b.createWorkflow(entry('free', 2)), undefined);
    assert.deepEqual(await b.getWorkflow('free'), entry('free', 2));
    assert.deepEqual((await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 10 })).map((claimed) => claimed.entry.id), ['free']);
    const both = await Promise.allSettled([a.createWorkflow(entry('race', 3)), b.createWorkflow(entry('race', 4))]);
    assert.equal(both.filter((result) => result.status === 'fulfilled').length, 1, 'exactly one of two creations at once wins');
    const refused = both.find((result) => result.status === 'rejected');
    assert.ok(refused?.status === 'rejected' && isQuestError(refused.reason, 'DUPLICATE_WORKFLOW'), String(refused));
    await assert.rejects(a.createWorkflow(entry('mine', 5)), (error: unknown) => isQuestError(error, 'DUPLICATE_WORKFLOW'));
    assert.deepEqual(await a.getWorkflow('mine'), entry('mine', 1));
    // A commit of the created workflow is fenced like one of a claimed workflow.
    await a.history('mine').commit({ append: [record(1)], remove: [] });
    assert.equal((await b.history('mine').load()).length, 1);
  });

  check('concurrent claims never hand one workflow to two owners; limits, types and ids are honoured', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    for (let n = 0; n < 20; n++) await a.putWorkflow({ ...entry(`w${n}`, n), type: n % 2 === 0 ? 'even' : 'odd' });
    const [fromA, fromB] = await Promise.all([
      a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 8 }),
      b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 8 }),
    ]);
    assert.ok(fromA.length <= 8 && fromB.length <= 8);
    const ids = [...fromA, ...fromB].map((lease) => lease.entry.id);
    assert.equal(new Set(ids).size, ids.length, `a workflow claimed twice: ${ids.join(' ')}`);
    const odd = await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 100, types: ['odd'] });
    assert.ok(odd.every((lease) => lease.entry.type === 'odd'));
    const left = 20 - ids.length;
    const rest = await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 100, ids: ['w0', 'w1', 'w19', 'missing'] });
    assert.ok(rest.every((lease) => ['w0', 'w1', 'w19'].includes(lease.entry.id)));
    assert.ok(left >= 0);
  });

  check('a lease taken over fences the old owner: its commits and entry writes fail with LeaseLostError, writing nothing', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    await a.putWorkflow(entry('w', 1));
    const [first] = await a.claimWorkflows({ owner: 'A', leaseMs: 1, limit: 1 });
    assert.ok(first !== undefined);
    await a.history('w').commit({ append: [record(1)], remove: [] });
    const epoch = await claimWhenExpired(b, 'B', 'w');
    assert.ok(epoch > first.epoch, 'a new claim has a higher epoch');
    await assert.rejects(async () => a.history('w').commit({ append: [record(2)], remove: [] }), isLeaseLost);
    await assert.rejects(a.putWorkflow({ ...entry('w', 1), state: 'completed' }), isLeaseLost);
    await assert.rejects(async () => a.history('w').commit({ append: [], remove: [1] }), isLeaseLost);
    assert.deepEqual(await a.renewLeases('A', LONG), [], 'the lost lease is not renewed');
    await b.history('w').commit({ append: [record(2)], remove: [] });
    assert.deepEqual((await b.history('w').load()).map((r) => r.seq), [1, 2]);
    assert.equal((await b.getWorkflow('w'))?.state, 'running');
    // Still refused after the renewal found it lost: a stale run's late writes never land.
    await assert.rejects(async () => a.history('w').commit({ append: [record(3)], remove: [] }), isLeaseLost);
    assert.deepEqual((await a.history('w').load()).map((r) => r.seq), [1, 2]);
  });

  check('a fenced write that fails does not take the other writes of its transaction down', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    await a.putWorkflow(entry('lost', 1));
    await a.putWorkflow(entry('kept', 2));
    await a.claimWorkflows({ owner: 'A', leaseMs: 1, limit: 1, ids: ['lost'] });
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1, ids: ['kept'] });
    await claimWhenExpired(b, 'B', 'lost');
    const results = await Promise.allSettled([
      a.history('lost').commit({ append: [record(1)], remove: [] }),
      a.history('kept').commit({ append: [record(1)], remove: [] }),
      a.history('free').commit({ append: [record(1)], remove: [] }),
    ]);
    assert.ok(results[0].status === 'rejected' && isLeaseLost(results[0].reason));
    assert.deepEqual(results.slice(1).map((result) => result.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(await b.history('lost').load(), []);
    assert.equal((await b.history('kept').load()).length, 1);
  });

  check('renewal keeps a lease from others; a release hands it over at once with a new epoch', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    await a.putWorkflow(entry('w', 1));
    const [first] = await a.claimWorkflows({ owner: 'A', leaseMs: 200, limit: 1 });
    assert.deepEqual(await a.renewLeases('A', LONG), ['w']);
    assert.deepEqual(await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 1 }), []);
    await a.history('w').commit({ append: [record(1)], remove: [] });
    await a.releaseLeases(['w']);
    const [second] = await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 1 });
    assert.equal(second?.entry.id, 'w');
    assert.ok(second !== undefined && first !== undefined && second.epoch > first.epoch);
    // Released: this store no longer writes as an owner (its writes are plain ones), and does not claim it back.
    assert.deepEqual(await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 }), []);
  });

  check('ending a workflow without its lease takes it from its owner; the owner may end and clear its own', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    await a.putWorkflow(entry('taken', 1));
    await a.putWorkflow(entry('mine', 2));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 2 });
    await b.putWorkflow(entry('taken', 1, 'cancelled'));
    await assert.rejects(async () => a.history('taken').commit({ append: [record(1)], remove: [] }), isLeaseLost);
    const finished: WorkflowEntry = { ...entry('mine', 2, 'completed'), result: 1 };
    await a.history('mine').commit({ append: [record(1)], remove: [] });
    await a.putWorkflow(finished);
    await a.history('mine').clear();
    await a.deleteWorkflow('mine');
    await a.history('mine').clear();
    assert.equal(await b.getWorkflow('mine'), undefined);
  });

  check('another store hears of posted events, finished workflows and released leases', async (subject, t) => {
    const stores = await pair(subject, t);
    if (stores === undefined) return;
    const [a, b] = stores;
    const inbox = nextChange(b, (change) => change.kind === 'inbox');
    const finished = nextChange(b, (change) => change.kind === 'finished' && change.workflowId === 'w');
    const claimable = nextChange(b, (change) => change.kind === 'claimable');
    // The listener connects in the background: post until it hears (a notification is a nudge, not a queue).
    const heard = Promise.all([inbox, finished, claimable]);
    let done = false;
    void heard.then(() => (done = true));
    await a.putWorkflow(entry('w', 1));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 });
    while (!done) {
      if (hasInbox(a)) await a.postEvent({ workflowId: 'w', resource: 'q', identity: null, action: 'put', args: [1] });
      await a.putWorkflow({ ...entry('w', 1, 'completed'), result: 1 });
      await a.releaseLeases(['w']);
      await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
    await heard;
  });
}
