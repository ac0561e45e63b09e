/**
 * The EventInbox contract of the conformance suite: every store with an inbox meets it (a store without one
 * skips the group, named with the reason).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { hasInbox, type EventInbox, type InboxEvent, type Store } from '../../src/storage/store.js';

/** A check of the suite: a fresh store (and how to reopen it, for durable backends). */
export type InboxCheck = (subject: { store: Store; reopen?: () => Promise<Store> }, t: TestContext) => Promise<void>;

/** An event with arguments that exercise escaping. */
export const inboxEvent = (n: number, workflowId = 'w'): InboxEvent => ({
  workflowId, resource: 'q', identity: n % 2 === 0 ? null : 'ann', action: 'put', args: [n, { nested: [n], text: 'ü "q"\n' }],
});

/** The store's inbox, or undefined (the check is then skipped). */
function inboxOf(store: Store, t: TestContext): (Store & EventInbox) | undefined {
  if (hasInbox(store)) return store;
  t.skip('this store has no inbox (EventInbox)');
  return undefined;
}

/** Register the inbox checks with `check` (see runStoreConformance). */
export function inboxChecks(check: (title: string, body: InboxCheck) => void): void {
  check('posted events come back oldest first, paged, intact; taking does not remove', async ({ store }, t) => {
    const inbox = inboxOf(store, t);
    if (inbox === undefined) return;
    assert.deepEqual(await inbox.takeEvents(10), []);
    const ids: number[] = [];
    for (let n = 1; n <= 5; n++) ids.push(await inbox.postEvent(inboxEvent(n)));
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ids increase in posting order');
    assert.equal(new Set(ids).size, 5);
    const all = await inbox.takeEvents(10);
    assert.deepEqual(all.map(({ id, postedAt: _, ...rest }) => [id, rest]), ids.map((id, n) => [id, inboxEvent(n + 1)]));
    assert.ok(all.every((posted) => typeof posted.postedAt === 'number' && posted.postedAt > 0));
    assert.deepEqual((await inbox.takeEvents(2)).map((posted) => posted.id), ids.slice(0, 2));
    assert.deepEqual((await inbox.takeEvents(2, ids[1])).map((posted) => posted.id), ids.slice(2, 4));
    assert.equal((await inbox.takeEvents(0)).length, 0);
  });

  check('a time-to-live is kept with the event', async ({ store }, t) => {
    const inbox = inboxOf(store, t);
    if (inbox === undefined) return;
    const id = await inbox.postEvent({ ...inboxEvent(1), ttlMs: 1500 });
    const [posted] = await inbox.takeEvents(1, id - 1);
    assert.equal(posted?.ttlMs, 1500);
    assert.equal((await inbox.takeEvents(1))[0]?.id, id);
  });

  check('settling removes the event and records its outcome for the sender; the first settle wins', async ({ store }, t) => {
    const inbox = inboxOf(store, t);
    if (inbox === undefined) return;
    const applied = await inbox.postEvent(inboxEvent(1));
    const rejected = await inbox.postEvent(inboxEvent(2));
    const waiting = await inbox.postEvent(inboxEvent(3));
    assert.deepEqual(await inbox.eventOutcome(applied), { status: 'pending' });
    assert.equal(await inbox.eventOutcome(waiting + 1000), undefined, 'an id never posted');
    await inbox.settleEvent(applied, { status: 'applied' });
    await inbox.settleEvent(rejected, { status: 'rejected', code: 'UNKNOWN_ACTION', message: 'A queue has no action "frob".' });
    await inbox.settleEvent(rejected, { status: 'applied' }); // gone already: the first outcome stays
    assert.deepEqual((await inbox.takeEvents(10)).map((posted) => posted.id), [waiting]);
    const first = await inbox.eventOutcome(applied);
    assert.equal(first?.status, 'applied');
    assert.ok(first !== undefined && 'settledAt' in first && first.settledAt > 0);
    const { settledAt: _, ...second } = (await inbox.eventOutcome(rejected)) as { settledAt: number };
    assert.deepEqual(second, { status: 'rejected', code: 'UNKNOWN_ACTION', message: 'A queue has no action "frob".' });
    assert.deepEqual(await inbox.eventOutcome(waiting), { status: 'pending' });
  });

  check('an id is never reused, even when the newest event was settled', async ({ store }, t) => {
    const inbox = inboxOf(store, t);
    if (inbox === undefined) return;
    const first = await inbox.postEvent(inboxEvent(1));
    await inbox.settleEvent(first, { status: 'applied' });
    const next = await inbox.postEvent(inboxEvent(2));
    assert.ok(next > first);
    assert.equal((await inbox.eventOutcome(first))?.status, 'applied');
  });

  check('events and outcomes survive close and reopen', async ({ store, reopen }, t) => {
    const inbox = inboxOf(store, t);
    if (inbox === undefined) return;
    if (reopen === undefined) {
      t.skip('not a durable backend');
      return;
    }
    const settled = await inbox.postEvent(inboxEvent(1));
    const pending = await inbox.postEvent({ ...inboxEvent(2), ttlMs: 10 });
    await inbox.settleEvent(settled, { status: 'rejected', code: 'EVENT_EXPIRED', message: 'late' });
    const before = await inbox.takeEvents(10);
    await inbox.close();
    const again = await reopen();
    assert.ok(hasInbox(again));
    assert.deepEqual(await again.takeEvents(10), before);
    assert.equal(before[0]?.id, pending);
    assert.equal((await again.eventOutcome(settled))?.status, 'rejected');
    assert.deepEqual(await again.eventOutcome(pending), { status: 'pending' });
  });
}
