import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Historian, MemoryHistory, WorkflowSuspendedError, event, queue, state, type ResourceSnapshot, type ResourceStream } from '../../src/index.js';
import { untilSettled } from '../helpers.js';
import { outcome, suspend, visible } from './support.js';

/** Read a stream to its end in the background. */
function collect(stream: ResourceStream): { snapshots: ResourceSnapshot[]; ended: Promise<void> } {
  const snapshots: ResourceSnapshot[] = [];
  const ended = (async () => {
    for await (const snapshot of stream) snapshots.push(snapshot);
  })();
  return { snapshots, ended };
}

/** `change name@identity` per snapshot, with consecutive repeats collapsed (a set that wakes a wait is two acts). */
function changes(snapshots: readonly ResourceSnapshot[]): string[] {
  const out: string[] = [];
  for (const { change, resource } of snapshots) {
    const label = resource === undefined ? change : `${change} ${resource.identity === null ? resource.name : `${resource.name}@${resource.identity}`}`;
    if (out.at(-1) !== label) out.push(label);
  }
  return out;
}

function names(snapshot: ResourceSnapshot | undefined): string[] {
  return (snapshot?.resources ?? []).map((resource) => (resource.identity === null ? resource.name : `${resource.name}@${resource.identity}`));
}

/** A public queue, a state private to ann, a public event the workflow waits on; then a change to each. */
const workflow = async () => {
  await using pub = await queue<string>('pub', null);
  await using mine = await state('mine', 'ann', 0);
  await using go = await event('go', null);
  await go.wait();
  await mine.set(1);
  await pub.put('x');
  return 'done';
};

describe('resource streams', () => {
  test('a stream reports opens, actions and closes of the resources its identity sees, then ends', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const running = historian.run();
    const ann = collect(historian.resourceStream('ann'));
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    await historian.act('go', null, 'set');
    assert.equal(await running, 'done');
    await ann.ended;
    assert.deepEqual(changes(ann.snapshots), [
      'initial',
      'open pub',
      'open mine@ann',
      'open go',
      'act go',
      'act mine@ann',
      'act pub',
      'close go',
      'close mine@ann',
      'close pub',
    ]);
    // Each snapshot carries the state after the change.
    const afterSet = ann.snapshots.find((s) => s.change === 'act' && s.resource?.name === 'mine');
    assert.deepEqual(afterSet?.resources.find((r) => r.name === 'mine'), { name: 'mine', identity: 'ann', kind: 'state', view: { value: 1 } });
    const afterPut = ann.snapshots.find((s) => s.change === 'act' && s.resource?.name === 'pub');
    assert.deepEqual(afterPut?.resources.find((r) => r.name === 'pub')?.view, { size: 1, items: ['x'] });
    assert.deepEqual(names(ann.snapshots.at(-1)), []);
  });

  test('a stream never shows another identity\'s private resources', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const running = historian.run();
    const bob = collect(historian.resourceStream('bob'));
    const anonymous = collect(historian.resourceStream(null));
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    await historian.act('go', null, 'set');
    await running;
    await Promise.all([bob.ended, anonymous.ended]);
    for (const { snapshots } of [bob, anonymous]) {
      assert.deepEqual(changes(snapshots), ['initial', 'open pub', 'open go', 'act go', 'act pub', 'close go', 'close pub']);
      for (const snapshot of snapshots) assert.ok(!names(snapshot).includes('mine@ann'), 'ann\'s state never appears');
    }
  });

  test('resources(identity) lists what that identity sees now, with kind and view', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const running = outcome(historian.run());
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    assert.deepEqual(await historian.resources('ann'), [
      { name: 'pub', identity: null, kind: 'queue', view: { size: 0, items: [] } },
      { name: 'mine', identity: 'ann', kind: 'state', view: { value: 0 } },
      { name: 'go', identity: null, kind: 'event', view: { isSet: false } },
    ]);
    assert.deepEqual(await visible(historian, 'bob'), ['go', 'pub']);
    assert.deepEqual(await visible(historian, null), ['go', 'pub']);
    await suspend(historian, running);
    assert.deepEqual(await historian.resources('ann'), [], 'nothing is listed once the workflow stopped');
  });

  test('streams end on suspension; after resume a new stream starts from the replayed state', async () => {
    const history = new MemoryHistory();
    const interim = async () => {
      await using counter = await state('counter', 'ann', 0);
      await using go = await event('go', null);
      await go.wait();
      await counter.set(counter.get() + 1);
      await go.clear();
      await go.wait();
      return counter.get();
    };
    const first = new Historian('w', interim, history);
    const running = outcome(first.run());
    const before = collect(first.resourceStream('ann'));
    await untilSettled(async () => (await visible(first, null)).includes('go'));
    await first.act('go', null, 'set');
    await untilSettled(async () => ((await first.resources('ann'))[0]?.view as { value: number }).value === 1);
    await suspend(first, running);
    await before.ended;
    assert.equal(before.snapshots.at(0)?.change, 'initial');
    assert.ok(before.snapshots.length > 3);

    const second = new Historian('w', interim, history);
    const result = second.run();
    const after = collect(second.resourceStream('ann'));
    await untilSettled(() => after.snapshots.length === 1);
    // The replay is not streamed record by record: one snapshot of where it caught up.
    assert.equal(after.snapshots[0]?.change, 'initial');
    assert.deepEqual(after.snapshots[0]?.resources, [
      { name: 'counter', identity: 'ann', kind: 'state', view: { value: 1 } },
      { name: 'go', identity: null, kind: 'event', view: { isSet: false } },
    ]);
    await second.act('go', null, 'set');
    assert.equal(await result, 1);
    await after.ended;
    assert.deepEqual(changes(after.snapshots), ['initial', 'act go', 'close go', 'close counter@ann']);
  });

  test('a stream opened before run() follows that run: the initial snapshot once it started, then its changes', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const early = collect(historian.resourceStream('ann'));
    const running = historian.run();
    await historian.waitForResource('go', null);
    await historian.act('go', null, 'set');
    assert.equal(await running, 'done');
    await early.ended;
    assert.deepEqual(changes(early.snapshots), [
      'initial',
      'open pub',
      'open mine@ann',
      'open go',
      'act go',
      'act mine@ann',
      'act pub',
      'close go',
      'close mine@ann',
      'close pub',
    ]);
  });

  test('a stream opened while the workflow is suspended follows the next run, from its replayed state, and ends with it', async () => {
    const history = new MemoryHistory();
    const first = new Historian('w', workflow, history);
    const running = outcome(first.run());
    await first.waitForResource('go', null);
    await suspend(first, running);
    const waiting = collect(first.resourceStream('ann'));
    assert.deepEqual(await first.resources('ann'), [], 'a one-off listing does not wait for a next run');
    const resumed = outcome(first.run());
    await untilSettled(() => waiting.snapshots.length === 1);
    assert.deepEqual(names(waiting.snapshots[0]), ['pub', 'mine@ann', 'go']);
    await suspend(first, resumed);
    await waiting.ended;
    assert.equal(waiting.snapshots[0]?.change, 'initial');

    const next = collect(first.resourceStream('ann'));
    const last = first.run();
    await first.waitForResource('go', null);
    await first.act('go', null, 'set');
    assert.equal(await last, 'done');
    await next.ended;
    assert.deepEqual(changes(next.snapshots).slice(0, 2), ['initial', 'act go'], 'the stream waited for this run');
  });

  test('a stream never waits for a run that cannot come: the workflow finished, or endStreams() gave the historian up', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const abandoned = collect(historian.resourceStream(null));
    historian.endStreams();
    await abandoned.ended;
    assert.deepEqual(abandoned.snapshots, []);

    const running = historian.run();
    await historian.waitForResource('go', null);
    await historian.act('go', null, 'set');
    await running;
    const late = collect(historian.resourceStream(null));
    await late.ended;
    assert.deepEqual(late.snapshots, [], 'opened once the workflow completed: ends at once');
    await assert.rejects(historian.waitForResource('go', null), WorkflowSuspendedError, 'like act(): no run, no wait');
  });

  test('a stream opened as the workflow finishes (its run already stopped) ends with that run', async () => {
    let late: ReturnType<typeof collect> | undefined;
    const historian: Historian<[], string> = new Historian('w', async () => 'done', new MemoryHistory(), {
      // The run has stopped, the workflow has not finished yet: such a stream would wait for a next run.
      onFinish: () => {
        late = collect(historian.resourceStream(null));
      },
    });
    assert.equal(await historian.run(), 'done');
    assert.ok(late !== undefined);
    await late.ended;
    assert.deepEqual(late.snapshots, []);
  });

  test('leaving one stream leaves the others', async () => {
    const historian = new Historian('w', workflow, new MemoryHistory());
    const running = historian.run();
    const quitter = historian.resourceStream('ann');
    const stayer = collect(historian.resourceStream('ann'));
    const first = await quitter.next();
    assert.equal(first.value?.change, 'initial');
    await quitter.return();
    assert.equal((await quitter.next()).done, true);
    await untilSettled(async () => (await visible(historian, null)).includes('go'));
    await historian.act('go', null, 'set');
    await running;
    await stayer.ended;
    assert.equal(changes(stayer.snapshots).at(-1), 'close pub');
  });
});

describe('resources() during replay', () => {
  test('resources() waits for replay to catch up: a long history never shows half-replayed', async () => {
    const COUNT = 60;
    const history = new MemoryHistory();
    const filling = async () => {
      await using items = await queue<number>('items', null);
      for (let i = 0; i < COUNT; i++) await items.put(i);
      await using go = await event('go', null);
      await go.wait();
      return items.size;
    };
    const first = new Historian('w', filling, history);
    const running = outcome(first.run());
    await first.waitForResource('go', null);
    await suspend(first, running);

    const second = new Historian('w', filling, history);
    const result = second.run();
    // Asked at every turn of the replay (each replayed put is a turn): every answer is the caught-up state.
    const seen = new Set<string>();
    let listing = second.resources(null);
    while (!seen.has('items,go')) {
      const resources = await listing;
      seen.add(resources.map((resource) => resource.name).join());
      const items = resources.find((resource) => resource.name === 'items');
      assert.deepEqual((items?.view as { size: number } | undefined)?.size, COUNT, 'the queue as replay left it, not part-way');
      listing = second.resources(null);
    }
    assert.deepEqual([...seen], ['items,go']);
    await second.act('go', null, 'set');
    assert.equal(await result, COUNT);
  });
});
