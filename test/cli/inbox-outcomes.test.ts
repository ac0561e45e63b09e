/**
 * What the sender of an inbox event learns: an event waits for its resource to open, and one that can never
 * be applied is rejected with its reason recorded (store.eventOutcome), by the same rule as manager.act.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MemoryStore } from '../../src/storage/memory.js';
import { inbox, open, outcome, put } from './inbox-support.js';

/** The message of what `call` rejects with, as `CODE: message`. */
async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return `rejected ${code}: ${message}`;
  }
  throw new Error('expected a rejection');
}

describe('inbox outcomes', () => {
  test('an event sent before the workflow opens its resource waits, then is applied once it opens, in order', async () => {
    const store = new MemoryStore();
    const { manager, warnings } = await open(store);
    try {
      const handle = await manager.start('late', 'l');
      await manager.waitForResource('l', 'go', null);
      const early = await store.postEvent(put('l', 'early'));
      const second = await store.postEvent(put('l', 'second'));
      // An event for another resource of the same workflow is not held up by the waiting ones.
      const go = await store.postEvent({ workflowId: 'l', resource: 'go', identity: null, action: 'set', args: [] });
      assert.equal(await manager.deliverInbox(), 1);
      assert.deepEqual([await outcome(store, early), await outcome(store, second), await outcome(store, go)], ['pending', 'pending', 'applied']);
      await manager.waitForResource('l', 'words', null);
      assert.equal(await manager.deliverInbox(), 2);
      assert.deepEqual(await handle.result(), ['early', 'second']);
      assert.deepEqual([await outcome(store, early), await outcome(store, second)], ['applied', 'applied']);
      assert.deepEqual(warnings, []);
    } finally {
      await manager.close();
    }
  });

  test('an event whose time-to-live passes before its resource opens is rejected with the reason', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store);
    try {
      await manager.start('late', 'l');
      await manager.waitForResource('l', 'go', null);
      const patient = await store.postEvent({ ...put('l', 'patient'), ttlMs: 3_600_000 });
      const hasty = await store.postEvent({ ...put('l', 'hasty'), ttlMs: 20 });
      const [posted] = await store.takeEvents(1, hasty - 1);
      while (Date.now() < (posted?.postedAt ?? 0) + 20) await nextTurn(); // the condition: its time-to-live has passed
      assert.equal(await manager.deliverInbox(), 0);
      assert.equal(await outcome(store, patient), 'pending');
      assert.equal(
        await outcome(store, hasty),
        `rejected EVENT_EXPIRED: Event ${hasty} was not applied within its time-to-live of 20 ms: workflow "l" did not open a resource ` +
          '"words" visible to the public in time. Send it again (with a longer time-to-live) once the workflow has the resource open.',
      );
      assert.deepEqual(await inbox(store), ['l put words ["patient"]']);
    } finally {
      await manager.close();
    }
  });

  test('events for an unknown, finished, cancelled or deleted workflow are rejected as act rejects them', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store);
    try {
      await (await manager.start('quick', 'q', 1)).result();
      await manager.start('collect', 'c', 1);
      await manager.start('collect', 'd', 1);
      await manager.waitForResource('d', 'words', null);
      const waiting = await store.postEvent(put('d', 'never', 'notYetOpen'));
      assert.equal(await manager.deliverInbox(), 0);
      assert.equal(await outcome(store, waiting), 'pending');
      await manager.cancel('c');
      await manager.delete('d');
      const ids = { ghost: await store.postEvent(put('ghost', 1)), q: await store.postEvent(put('q', 1)), c: await store.postEvent(put('c', 1)) };
      assert.equal(await manager.deliverInbox(), 0);
      assert.deepEqual(await inbox(store), []);
      const rejected = {
        ghost: await outcome(store, ids.ghost), q: await outcome(store, ids.q), c: await outcome(store, ids.c), d: await outcome(store, waiting),
      };
      assert.deepEqual(rejected, {
        ghost: 'rejected WORKFLOW_NOT_FOUND: No workflow "ghost" (nor an alias of that name). List the workflows to see which exist.',
        q: 'rejected WORKFLOW_FINISHED: Workflow "q" has completed: it takes no more outside actions. Read its outcome with getResult(), or start a new workflow.',
        c: 'rejected WORKFLOW_FINISHED: Workflow "c" was cancelled: it takes no more outside actions. Start a new workflow to run it again.',
        d: 'rejected WORKFLOW_FINISHED: Workflow "d" was deleted: it takes no more outside actions. Start a new workflow to run it again.',
      });
      // One rule: manager.act answers the same.
      for (const id of ['ghost', 'q', 'c', 'd'] as const) {
        assert.equal(await failure(manager.act(id, 'words', null, 'put', 1)), rejected[id]);
      }
    } finally {
      await manager.close();
    }
  });

  test('an unknown action, an action that would wait or only reads, bad arguments are rejected; the next event is applied', async () => {
    const store = new MemoryStore();
    const { manager } = await open(store);
    try {
      const game = await manager.start('collect', 'c', 1);
      await manager.waitForResource('c', 'words', null);
      const ids = [
        await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'frob', args: [] }),
        await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'get', args: [] }),
        await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'put', args: [1, 2] }),
        await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'put', args: [{ $q: 'Type:Unregistered', v: 1 }] }),
        await store.postEvent({ workflowId: 'c', resource: 'words', identity: null, action: 'size', args: [] }),
        await store.postEvent(put('c', 'ok')),
      ];
      assert.equal(await manager.deliverInbox(), 1);
      assert.deepEqual(await game.result(), ['ok']);
      const outcomes = await Promise.all(ids.map((id) => outcome(store, id)));
      assert.equal(outcomes[0], 'rejected UNKNOWN_ACTION: A queue has no action "frob"; use one of: put, get, size.');
      assert.match(outcomes[1] ?? '', /^rejected INVALID_ARGUMENT: get on a queue answers the caller/);
      assert.equal(outcomes[2], 'rejected INVALID_ARGUMENT: queue.put takes 1 argument, got 2.');
      assert.match(outcomes[3] ?? '', new RegExp(`^rejected INVALID_ARGUMENT: The arguments of event ${ids[3]} cannot be read`));
      assert.match(outcomes[4] ?? '', /^rejected INVALID_ARGUMENT: size on a queue answers the caller/);
      assert.equal(outcomes[5], 'applied');
      // act gives the same reasons for the same mistakes.
      const other = await manager.start('collect', 'c2', 1);
      await manager.waitForResource('c2', 'words', null);
      assert.equal(await failure(manager.act('c2', 'words', null, 'frob')), outcomes[0]);
      assert.equal(await failure(manager.act('c2', 'words', null, 'put', 1, 2)), outcomes[2]);
      await manager.act('c2', 'words', null, 'put', 'done');
      await other.result();
    } finally {
      await manager.close();
    }
  });

  test("an event for another identity's private resource gets the same answers as one for a missing resource", async () => {
    const store = new MemoryStore();
    const { manager } = await open(store);
    try {
      await manager.start('secrets', 's');
      await manager.waitForResource('s', 'stop', null);
      // ann's mailbox exists; bob's "nothing" does not: bob cannot tell them apart.
      const mine = await store.postEvent(put('s', 'for ann', 'mailbox', 'ann'));
      const mailbox = await store.postEvent(put('s', 'from bob', 'mailbox', 'bob'));
      const nothing = await store.postEvent(put('s', 'from bob', 'nothing', 'bob'));
      assert.equal(await manager.deliverInbox(), 1);
      assert.deepEqual([await outcome(store, mine), await outcome(store, mailbox), await outcome(store, nothing)], ['applied', 'pending', 'pending']);
      const expiring = [
        await store.postEvent({ ...put('s', 'x', 'diary', 'ann'), ttlMs: 0 }), // bob's private state
        await store.postEvent({ ...put('s', 'x', 'nothing', 'ann'), ttlMs: 0 }),
      ];
      await manager.deliverInbox();
      const [diary, missing] = await Promise.all(expiring.map((id) => outcome(store, id)));
      assert.match(diary ?? '', /^rejected EVENT_EXPIRED/);
      const normalize = (text: string, id: number, name: string): string => text.replace(`Event ${id} `, 'Event N ').replace(JSON.stringify(name), '"R"');
      assert.equal(normalize(diary ?? '', expiring[0] ?? 0, 'diary'), normalize(missing ?? '', expiring[1] ?? 0, 'nothing'));
      assert.equal(
        (await failure(manager.act('s', 'diary', 'ann', 'set', 'x'))).replace('"diary"', '"R"'),
        (await failure(manager.act('s', 'nothing', 'ann', 'set', 'x'))).replace('"nothing"', '"R"'),
      );
      const ann = await manager.resources('s', 'ann');
      assert.deepEqual(ann.find((resource) => resource.name === 'mailbox')?.view, { size: 1, items: ['for ann'] });
      const bob = await manager.resources('s', 'bob');
      assert.deepEqual(bob.find((resource) => resource.name === 'diary')?.view, { value: 'bob-secret' });
    } finally {
      await manager.close();
    }
  });
});
