import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { ResourceSnapshot } from '../../src/core/resource-stream.js';
import type { RemoteResourceStream } from '../../src/client/stream.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { QuestServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { untilSettled } from '../helpers.js';
import { startServer, tokenAuth, TOKENS, workflows } from '../server/support.js';

/** Read the stream until a snapshot satisfies `predicate`; that snapshot. */
async function until(stream: RemoteResourceStream, predicate: (snapshot: ResourceSnapshot) => boolean): Promise<ResourceSnapshot> {
  for (;;) {
    const next = await stream.next();
    if (next.done === true) throw new Error('the stream ended first');
    if (predicate(next.value)) return next.value;
  }
}

const names = (snapshot: ResourceSnapshot): string[] => snapshot.resources.map((r) => r.name).sort();
const viewOf = (snapshot: ResourceSnapshot, name: string): unknown => snapshot.resources.find((r) => r.name === name)?.view;

describe('resource streams', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    served = await startServer();
  });
  after(async () => {
    await served.close();
  });

  test('each listener sees what its identity may see; two listeners on one identity both get every change', async () => {
    await served.manager.start('box', 's1', 'x');
    const ann1 = served.client(TOKENS.ann).resourceStream('s1');
    const ann2 = served.client(TOKENS.ann).resourceStream('s1');
    const bob = served.client(TOKENS.bob).resourceStream('s1');
    try {
      for (const stream of [ann1, ann2]) assert.deepEqual(names(await until(stream, (s) => s.resources.length === 3)), ['done', 'inbox', 'status']);
      assert.deepEqual(names(await until(bob, (s) => s.resources.length === 2)), ['done', 'status']);
      await served.client(TOKENS.ann).queue<string>('s1', 'inbox').put('hi');
      for (const stream of [ann1, ann2, bob]) await until(stream, (s) => (viewOf(s, 'status') as { value: string }).value === 'got hi');
    } finally {
      await Promise.all([ann1.return(), ann2.return(), bob.return()]);
    }
  });

  test('break stops one listener at once without touching the workflow or the other listeners; the stream ends with the result', async () => {
    await served.manager.start('box', 's2', 'y');
    const leaving = served.client(TOKENS.ann).resourceStream('s2');
    const staying = served.client(TOKENS.ann).resourceStream('s2');
    for await (const snapshot of leaving) if (snapshot.resources.length === 3) break;
    assert.equal(leaving.outcome?.status, 'ended');
    await until(staying, (s) => s.resources.length === 3);
    await untilSettled(() => served.server.streamCount === 1, 100_000);
    await served.client(TOKENS.ann).queue<string>('s2', 'inbox').put('yo');
    await served.client(TOKENS.bob).event('s2', 'done').set();
    for await (const _snapshot of staying) {
      // Drain until the workflow finishes.
    }
    assert.equal(await staying.result(), 'y: yo');
  });

  test("a failed workflow's stream ends with its failure; a finished one's stream gives its outcome at once", async () => {
    await served.manager.start('counter', 's3');
    const stream = served.client(TOKENS.bob).resourceStream('s3');
    await until(stream, (s) => s.resources.length === 2);
    await served.client(TOKENS.bob).event('s3', 'fail').set();
    await assert.rejects(stream.result(), (error: unknown) => error instanceof TypeError && error.message === 'failed at 0');
    const late = served.client(TOKENS.bob).resourceStream('s3');
    assert.deepEqual(await late.next(), { value: undefined, done: true });
    await assert.rejects(late.result(), TypeError);
  });

  test('an unknown workflow ends the stream with WorkflowNotFoundError', async () => {
    const stream = served.client(TOKENS.bob).resourceStream('nope');
    await assert.rejects(stream.next(), { name: 'WorkflowNotFoundError' });
  });

  test('a slow listener gets coalesced snapshots, and the latest one, while the server keeps one pending at most', async () => {
    await served.manager.start('counter', 's4');
    await served.manager.waitForResource('s4', 'count', null);
    const ws = new WebSocket(`${served.url.replace('http', 'ws')}/v1/stream?workflow=s4`, ['quest.v1']);
    const received: { type: string; resources?: { name: string; view: { value: string } }[] }[] = [];
    ws.on('message', (data) => received.push(JSON.parse(String(data)) as (typeof received)[number]));
    await untilSettled(() => received.length > 0, 1_000_000);
    // Stop reading: the kernel buffers fill, and the server must coalesce instead of queueing.
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = 'x'.repeat(20_000);
    const changes = 400;
    for (let n = 1; n <= changes; n++) await served.manager.act('s4', 'count', null, 'set', `${n}:${big}`);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const last = (): unknown => received.at(-1)?.resources?.find((r) => r.name === 'count')?.view.value;
    await untilSettled(() => String(last()).startsWith(`${changes}:`), 10_000_000);
    assert.ok(received.length < changes, `${received.length} frames for ${changes} changes: snapshots coalesced`);
    ws.close();
    await served.manager.cancel('s4');
  });
});

describe('resource streams across a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quest-stream-restart-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const open = async (port: number): Promise<{ manager: WorkflowManager<typeof workflows>; server: QuestServer; url: string }> => {
    const manager = await WorkflowManager.open({ store: await SqliteStore.open(join(dir, 'quest.sqlite')), workflows, inboxPollMs: 0 });
    const server = new QuestServer(manager, { authenticate: tokenAuth });
    const { url } = await server.listen(port, '127.0.0.1');
    return { manager, server, url };
  };

  test('the stream reconnects by itself with backoff and goes on to the result', async () => {
    const first = await open(0);
    const port = Number(new URL(first.url).port);
    await first.manager.start('box', 'r1', 'kept');
    const { QuestClient } = await import('../../src/client/client.js');
    const client = new QuestClient<typeof workflows>(first.url, { token: TOKENS.ann, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    const stream = client.resourceStream('r1');
    await until(stream, (s) => s.resources.length === 3);
    await first.server.close();
    await first.manager.close();

    const second = await open(port);
    try {
      await client.queue<string>('r1', 'inbox').put('after restart');
      await until(stream, (s) => (viewOf(s, 'status') as { value: string } | undefined)?.value === 'got after restart');
      await client.event('r1', 'done').set();
      assert.equal(await stream.result(), 'kept: after restart');
    } finally {
      await second.server.close();
      await second.manager.close();
    }
  });
});
