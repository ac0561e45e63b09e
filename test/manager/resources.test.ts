import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ResourceNotFoundError,
  WorkflowManager,
  event,
  identityQueue,
  queue,
  state,
  type ResourceSnapshot,
} from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { untilSettled } from '../helpers.js';
import { StoreView, collect } from './support.js';

/** A public chat queue and a score private to 'ann'; returns the score once 'done' is set. */
async function room(): Promise<number> {
  await using chat = await queue<string>('chat', null);
  await using score = await state<number>('score', 'ann', 0);
  await using done = await event('done', null);
  await done.wait();
  return score.get() + chat.size;
}

/** Serves two requests: each requester gets a private ticket and acknowledges it. */
async function desk(): Promise<string[]> {
  await using requests = await identityQueue<string>('requests');
  const served: string[] = [];
  for (let i = 0; i < 2; i++) {
    const [who, name] = await requests.get();
    await state<string, void>('ticket', who, `ticket for ${name}`, () => event('ack', who, (ack) => ack.wait()));
    served.push(name);
  }
  return served;
}

/** Fills a queue for the outside world to read. */
async function producer(): Promise<string> {
  await using out = await queue<string>('out', null);
  await out.put('x');
  await out.put('y');
  await using done = await event('done', null);
  await done.wait();
  return 'produced';
}

const workflows = { room, desk, producer };

/** The names (`name` or `name@identity`) a snapshot shows. */
function names(snapshot: ResourceSnapshot): string[] {
  return snapshot.resources.map(({ name, identity }) => (identity === null ? name : `${name}@${identity}`)).sort();
}

describe('WorkflowManager resources', () => {
  test('resource streams report open, act and close per identity, and never leak private resources', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
    await manager.start('room', 'r1');
    const ann = collect(await manager.resourceStream('r1', 'ann'));
    const bob = collect(await manager.resourceStream('r1', 'bob'));
    await manager.waitForResource('r1', 'done', null);
    assert.deepEqual((await manager.resources('r1', 'ann')).map(({ name }) => name).sort(), ['chat', 'done', 'score']);
    assert.deepEqual((await manager.resources('r1', 'bob')).map(({ name }) => name).sort(), ['chat', 'done']);
    await manager.state<number>('r1', 'score', 'ann').set(7);
    await assert.rejects(manager.state<number>('r1', 'score', 'bob').set(1), ResourceNotFoundError);
    await manager.queue<string>('r1', 'chat', 'bob').put('hi');
    await manager.event('r1', 'done', null).set();
    assert.equal(await manager.getResult('r1'), 8);

    const annSnapshots = await ann;
    const bobSnapshots = await bob;
    const scoreSet = annSnapshots.find((s) => s.change === 'act' && s.resource?.name === 'score');
    assert.deepEqual(scoreSet?.resources.find(({ name }) => name === 'score')?.view, { value: 7 });
    assert.ok(annSnapshots.some((s) => s.change === 'act' && s.resource?.name === 'chat'));
    assert.ok(annSnapshots.some((s) => s.change === 'close' && s.resource?.name === 'score'));
    assert.ok(bobSnapshots.some((s) => s.change === 'act' && s.resource?.name === 'chat'));
    assert.ok(bobSnapshots.some((s) => s.change === 'close' && s.resource?.name === 'chat'));
    for (const snapshot of bobSnapshots) {
      assert.notEqual(snapshot.resource?.name, 'score');
      assert.ok(!names(snapshot).includes('score@ann'), 'bob never sees ann\'s score');
    }
    await manager.close();
  });

  test('a resource stream after a restart starts with the replayed state', async () => {
    const shared = new MemoryStore();
    const before = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await before.start('room', 'r1');
    await before.waitForResource('r1', 'done', null);
    await before.state<number>('r1', 'score', 'ann').set(5);
    await before.close();

    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    const stream = await after.resourceStream('r1', 'ann');
    const first = await stream.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.change, 'initial');
    assert.deepEqual(first.value?.resources.find(({ name }) => name === 'score')?.view, { value: 5 });
    await stream.return();
    await after.event('r1', 'done', null).set();
    assert.equal(await after.getResult('r1'), 5);
    await after.close();
  });

  test('typed proxies: identity queue, private state and event, queue reads', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
    await manager.start('desk', 'd1');
    await manager.waitForResource('d1', 'requests', null);
    for (const name of ['ann', 'bob']) {
      const me = await manager.identityQueue<string>('d1', 'requests').put(name);
      assert.match(me, /^[0-9a-f-]{36}$/);
      await manager.waitForResource('d1', 'ack', me);
      assert.equal(await manager.state<string>('d1', 'ticket', me).get(), `ticket for ${name}`);
      await assert.rejects(manager.state<string>('d1', 'ticket', 'someone else').get(), ResourceNotFoundError);
      const ack = manager.event('d1', 'ack', me);
      assert.equal(await ack.isSet(), false);
      await ack.set();
    }
    assert.deepEqual(await manager.getResult('d1'), ['ann', 'bob']);

    await manager.start('producer', 'p1');
    await manager.waitForResource('p1', 'done', null);
    const out = manager.queue<string>('p1', 'out', null);
    assert.equal(await out.size(), 2);
    assert.deepEqual([await out.get(), await out.get()], ['x', 'y']);
    await manager.event('p1', 'done', null).set();
    assert.equal(await manager.getResult('p1'), 'produced');
    await manager.close();
  });
});

describe('WorkflowManager signal handling', () => {
  test('a signal suspends everything, closes the store and exits with 0; the handlers can be removed', async () => {
    const shared = new MemoryStore();
    const view = new StoreView(shared);
    const manager = await WorkflowManager.open({ store: view, workflows });
    await manager.start('room', 'r1');
    await manager.waitForResource('r1', 'done', null);
    const codes: number[] = [];
    const remove = manager.handleSignals({ signals: ['SIGUSR2'], exit: (code) => codes.push(code) });
    process.emit('SIGUSR2', 'SIGUSR2');
    await untilSettled(() => codes.length === 1);
    assert.deepEqual(codes, [0]);
    assert.ok(view.closed);
    remove();
    assert.equal(process.listenerCount('SIGUSR2'), 0);

    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await after.waitForResource('r1', 'done', null);
    await after.event('r1', 'done', null).set();
    assert.equal(await after.getResult('r1'), 0);
    await after.close();
  });

  test('SIGINT and SIGTERM by default; a second signal exits at once with 128 + its number', async () => {
    const manager = await WorkflowManager.open({ store: new MemoryStore(), workflows });
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const removeDefault = manager.handleSignals({ exit: () => undefined });
    assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], [before[0]! + 1, before[1]! + 1]);
    removeDefault();
    assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);

    const codes: number[] = [];
    const remove = manager.handleSignals({ signals: ['SIGUSR2'], exit: (code) => codes.push(code) });
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    await untilSettled(() => codes.length === 2);
    assert.deepEqual(codes, [140, 0]);
    remove();
  });
});
