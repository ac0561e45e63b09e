import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, event, identityQueue, multiQueue, queue, state, task } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { everyIdentity, outcome, replayed, suspend, visible } from './support.js';

/** Start `workflow` over `history`; resolves once replay (if any) has caught up and `ready` holds. */
async function start<R>(workflow: () => Promise<R>, history: MemoryHistory, ready: (historian: Historian<never[], R>) => boolean | Promise<boolean>) {
  const historian = new Historian<never[], R>('w', workflow, history);
  const running = outcome(historian.run());
  await replayed(historian);
  await untilSettled(() => ready(historian));
  return { historian, running };
}

describe('state', () => {
  test('outside and workflow changes to a state replay, in the callback form', async () => {
    const workflow = () =>
      state('name', 'ann', 'Foobar', async (name) => {
        const initial = name.get();
        await using proceed = await event('proceed', 'ann');
        await proceed.wait();
        const changed = name.get();
        await name.set(`${changed}!`);
        await proceed.clear();
        await proceed.wait();
        return [initial, changed, name.get()];
      });
    const history = new MemoryHistory();
    const first = await start(workflow, history, async (h) => (await visible(h, 'ann')).length === 2);
    assert.deepEqual(await visible(first.historian, null), [], 'private to ann');
    assert.equal(await first.historian.act('name', 'ann', 'get'), 'Foobar');
    await first.historian.act('name', 'ann', 'set', 'Barbaz');
    assert.equal(await first.historian.act('name', 'ann', 'get'), 'Barbaz');
    await first.historian.act('proceed', 'ann', 'set');
    await untilSettled(async () => ((await first.historian.resources('ann')).find((r) => r.name === 'proceed')?.view as { isSet: boolean }).isSet === false);
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, 'ann')).length === 2);
    assert.equal(await second.historian.act('name', 'ann', 'get'), 'Barbaz!', 'both sets replayed');
    await second.historian.act('proceed', 'ann', 'set');
    assert.deepEqual(await second.running, { ok: true, value: ['Foobar', 'Barbaz', 'Barbaz!'] });
  });

  test('a state keeps a value that is not plain JSON', async () => {
    const workflow = async () => {
      await using when = await state('when', null, new Date('2026-01-01T00:00:00Z'));
      await using go = await event('go', null);
      await go.wait();
      return when.get();
    };
    const history = new MemoryHistory();
    const first = await start(workflow, history, async (h) => (await visible(h, null)).length === 2);
    await first.historian.act('when', null, 'set', new Date('2027-02-02T00:00:00Z'));
    await suspend(first.historian, first.running);
    const second = await start(workflow, history, async (h) => (await visible(h, null)).length === 2);
    await second.historian.act('go', null, 'set');
    const result = await second.running;
    assert.ok(result.ok && result.value instanceof Date);
    assert.equal((result.value as Date).toISOString(), '2027-02-02T00:00:00.000Z');
  });
});

describe('event', () => {
  test('wait, set, clear and isSet, across a suspension', async () => {
    const workflow = async () => {
      await using ready = await event('ready', null);
      const before = ready.isSet();
      await ready.wait();
      const during = ready.isSet();
      await ready.clear();
      await ready.wait();
      return [before, during, ready.isSet()];
    };
    const history = new MemoryHistory();
    const first = await start(workflow, history, async (h) => (await visible(h, null)).length === 1);
    assert.deepEqual((await first.historian.resources(null))[0]?.view, { isSet: false });
    await first.historian.act('ready', null, 'set');
    await untilSettled(async () => ((await first.historian.resources(null))[0]?.view as { isSet: boolean }).isSet === false);
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, null)).length === 1);
    assert.deepEqual((await second.historian.resources(null))[0]?.view, { isSet: false }, 'the set and the clear replayed');
    await second.historian.act('ready', null, 'set');
    assert.deepEqual(await second.running, { ok: true, value: [false, true, true] });
  });
});

describe('identityQueue', () => {
  test('each outside put gets a fresh identity, and replay keeps it', async () => {
    const workflow = async () => {
      await using requests = await identityQueue<string>('requests');
      const [who, message] = await requests.get();
      await using reply = await state('reply', who, message.toUpperCase());
      await using done = await event('done', who);
      await done.wait();
      return [who, reply.get()];
    };
    const history = new MemoryHistory();
    const first = await start(workflow, history, async (h) => (await visible(h, null)).includes('requests'));
    const identity = await first.historian.act('requests', null, 'put', 'hello');
    assert.equal(typeof identity, 'string');
    const who = identity as string;
    await untilSettled(async () => (await visible(first.historian, who)).includes(`reply@${who}`));
    assert.deepEqual(await visible(first.historian, 'someone else'), ['requests']);
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, who)).includes(`done@${who}`));
    assert.equal(await second.historian.act('reply', who, 'get'), 'HELLO', 'the reply is reopened under the same identity');
    await second.historian.act('done', who, 'set');
    assert.deepEqual(await second.running, { ok: true, value: [who, 'HELLO'] });
  });

  test('two outside puts get two different identities', async () => {
    const historian = new Historian('w', async () => {
      await using requests = await identityQueue<number>('requests');
      return [await requests.get(), await requests.get()];
    }, new MemoryHistory());
    const running = historian.run();
    await untilSettled(async () => (await visible(historian, null)).length === 1);
    const a = await historian.act('requests', null, 'put', 1);
    const b = await historian.act('requests', null, 'put', 2);
    assert.notEqual(a, b);
    assert.deepEqual(await running, [[a, 1], [b, 2]]);
  });
});

describe('multiQueue', () => {
  test('single-response mode collects one message per identity, across a suspension', async () => {
    const workflow = async () => {
      await using answers = await multiQueue<string>('answer', ['ann', 'bob', 'cid'], { singleResponse: true });
      const received: string[] = [];
      for await (const [who, answer] of answers) received.push(`${who}=${answer}`);
      return received;
    };
    const history = new MemoryHistory();
    const first = await start(workflow, history, (h) => everyIdentity(h, ['ann', 'bob', 'cid'], (who) => `answer@${who}`));
    assert.deepEqual(await visible(first.historian, 'ann'), ['answer@ann'], 'each identity sees only its own queue');
    await first.historian.act('answer', 'bob', 'put', 'b1');
    await untilSettled(async () => (await visible(first.historian, 'bob')).length === 0);
    await assert.rejects(first.historian.act('answer', 'bob', 'put', 'b2'), { name: 'ResourceNotFoundError' });
    await first.historian.act('answer', 'ann', 'put', 'a1');
    await untilSettled(async () => (await visible(first.historian, 'ann')).length === 0);
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, 'cid')).length === 1);
    assert.deepEqual(await visible(second.historian, 'ann'), [], 'removed identities stay removed after replay');
    await second.historian.act('answer', 'cid', 'put', 'c1');
    assert.deepEqual(await second.running, { ok: true, value: ['bob=b1', 'ann=a1', 'cid=c1'] });
  });

  test('messages arrive in order from every identity until each is removed', async () => {
    const workflow = async () => {
      const chat = await multiQueue<string>('chat', ['ann', 'bob']);
      const log: string[] = [];
      for (let next = await chat.next(); next !== undefined; next = await chat.next()) {
        const [who, message] = next;
        log.push(`${who}: ${message}`);
        if (message === 'bye') await chat.remove(who);
      }
      return { log, left: chat.identities };
    };
    const history = new MemoryHistory();
    const first = await start(workflow, history, async (h) => (await visible(h, 'ann')).length === 1 && (await visible(h, 'bob')).length === 1);
    await first.historian.act('chat', 'ann', 'put', 'hi');
    await first.historian.act('chat', 'bob', 'put', 'hello');
    await first.historian.act('chat', 'ann', 'put', 'bye');
    await untilSettled(async () => (await visible(first.historian, 'ann')).length === 0);
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, 'bob')).length === 1);
    await second.historian.act('chat', 'bob', 'put', 'still here');
    await second.historian.act('chat', 'bob', 'put', 'bye');
    assert.deepEqual(await second.running, { ok: true, value: { log: ['ann: hi', 'bob: hello', 'ann: bye', 'bob: still here', 'bob: bye'], left: [] } });
  });
});

describe('names and identities', () => {
  test('an identity\'s own resource is found before a public one of the same name', async () => {
    const historian = new Historian('w', async () => {
      await using shared = await queue<string>('inbox', null);
      await using own = await queue<string>('inbox', 'ann');
      return [await shared.get(), await own.get()];
    }, new MemoryHistory());
    const running = historian.run();
    await untilSettled(async () => (await visible(historian, 'ann')).length === 2);
    assert.deepEqual(await visible(historian, 'ann'), ['inbox', 'inbox@ann']);
    await historian.act('inbox', 'ann', 'put', 'for ann');
    await historian.act('inbox', 'bob', 'put', 'for everyone');
    assert.deepEqual(await running, ['for everyone', 'for ann']);
  });
});

describe('resources and suspension', () => {
  test('tasks waiting on different resources when suspended resume and finish', async () => {
    const onEvent = task('onEvent', async () => {
      await using flag = await event('flag', null);
      await flag.wait();
      return 'flag';
    });
    const onQueue = task('onQueue', async () => {
      await using items = await queue<number>('items', 'ann');
      return (await items.get()) + (await items.get());
    });
    const onMulti = task('onMulti', async () => {
      await using votes = await multiQueue<string>('vote', ['x', 'y'], { singleResponse: true });
      const got: string[] = [];
      for await (const [who, vote] of votes) got.push(`${who}:${vote}`);
      return got;
    });
    const workflow = async () => {
      const handles = [onEvent(), onQueue(), onMulti()] as const;
      return [await handles[0], await handles[1], await handles[2]];
    };
    const allOpen = async (h: Historian<never[], unknown>) =>
      (await visible(h, null)).join() === 'flag' && (await visible(h, 'ann')).includes('items@ann') && (await visible(h, 'x')).includes('vote@x') && (await visible(h, 'y')).includes('vote@y');
    const history = new MemoryHistory();
    const first = await start(workflow, history, allOpen);
    await first.historian.act('items', 'ann', 'put', 40);
    await first.historian.act('vote', 'y', 'put', 'yes');
    await untilSettled(async () => !(await visible(first.historian, 'y')).includes('vote@y'));
    await suspend(first.historian, first.running);

    const second = await start(workflow, history, async (h) => (await visible(h, 'x')).includes('vote@x') && (await visible(h, 'ann')).includes('items@ann'));
    assert.deepEqual(await visible(second.historian, 'y'), ['flag']);
    await second.historian.act('items', 'ann', 'put', 2);
    await second.historian.act('vote', 'x', 'put', 'no');
    await second.historian.act('flag', null, 'set');
    assert.deepEqual(await second.running, { ok: true, value: ['flag', 42, ['y:yes', 'x:no']] });
  });

  test('resources close when their scope ends, in either form', async () => {
    const history = new MemoryHistory();
    const observed: string[][] = [];
    const look = async () => observed.push(await visible(historian, null));
    const historian: Historian<[], string[][]> = new Historian('w', async () => {
      await queue('callback', null, async () => look());
      await look();
      {
        await using _scoped = await queue('using', null);
        await look();
      }
      await look();
      const handle = await queue('manual', null);
      await look();
      await handle.close();
      await handle.close();
      await look();
      return observed;
    }, history);
    assert.deepEqual(await historian.run(), [['callback'], [], ['using'], [], ['manual'], []]);
  });
});
