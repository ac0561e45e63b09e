import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3/index.js';
import { Bucket } from '../../src/storage/s3/objects.js';
import { Layout } from '../../src/storage/s3/layout.js';
import { encodeSegment } from '../../src/storage/s3/segment.js';
import { isQuestError } from '../../src/core/errors.js';
import { newStoreOwner } from '../../src/storage/owner.js';
import { record, runStoreConformance, type DamageHooks } from './conformance.js';
import { LOCAL_CREDENTIALS, TEST_BUCKET, freshName, serverForFile, startS3 } from './cloud-support.js';

const s3 = await serverForFile(startS3);
const raw = new Bucket(new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: LOCAL_CREDENTIALS }), TEST_BUCKET);

function open(prefix: string): Promise<S3Store> {
  return S3Store.open({ bucket: TEST_BUCKET, prefix, endpoint: s3.endpoint, credentials: LOCAL_CREDENTIALS });
}

runStoreConformance('s3', async () => {
  const prefix = `${freshName('conf')}/`;
  return { store: await open(prefix), reopen: () => open(prefix), cleanup: async () => {}, damage: s3Damage(new Layout(prefix)) };
});

function s3Damage(layout: Layout): DamageHooks {
  const keysOf = (id: string) => raw.list(layout.historyPrefix(id));
  const text = async (key: string) => Buffer.from((await raw.get(key))!).toString('utf8');
  return {
    truncateRecord: async (id) => {
      const last = (await keysOf(id)).at(-1)!;
      const body = await raw.get(last);
      await raw.put(last, body!.subarray(0, Math.floor(body!.length / 2)));
    },
    flipByte: async (id) => {
      for (const key of await keysOf(id)) {
        const body = await text(key);
        if (body.includes('"result":{"seq":3,')) return raw.put(key, body.replace('"result":{"seq":3,', '"result":{"seq":7,'));
      }
      assert.fail('no segment holds record 3');
    },
    deleteHistory: async (id) => raw.deleteMany(await keysOf(id)),
    emptyHistory: async (id) => {
      for (const key of await keysOf(id)) await raw.put(key, '');
    },
    // AWS S3 never stores a cut object, but s3rver keeps what arrived of a PUT whose writer died: the next
    // segment cut short, with the dead writer's mark left under writers/.
    tearTail: async (id) => {
      const last = layout.parseSegment(id, (await keysOf(id)).at(-1)!);
      const whole = encodeSegment({ n: last.n + 1, kind: 'c' }, { append: [record(5, 'torn')], remove: [] });
      await raw.put(layout.segment(id, last.n + 1, 'c'), whole.subarray(0, whole.length - 20));
      await raw.put(layout.writer('crashed'), '{}');
    },
  };
}

describe('s3 store: segments, bases, one writer', () => {
  test('a commit writes one new object; once commits outnumber the live records a base replaces them', async () => {
    const prefix = `${freshName('layout')}/`;
    const layout = new Layout(prefix);
    const store = await open(prefix);
    try {
      const history = store.history('w');
      for (let seq = 1; seq <= 3; seq++) await history.commit({ append: [record(seq)], remove: seq > 1 ? [seq - 1] : [] });
      assert.deepEqual(await raw.list(layout.historyPrefix('w')), [1, 2, 3].map((n) => layout.segment('w', n, 'c')));
      for (let seq = 4; seq <= 40; seq++) await history.commit({ append: [record(seq)], remove: [seq - 1] });
      assert.equal(store.bases, 1);
      // After commit 33, base 34 replaced segments 1..33; the commits of seqs 34..40 are segments 35..41.
      const keys = await raw.list(layout.historyPrefix('w'));
      assert.equal(keys[0], layout.segment('w', 34, 'b'));
      assert.equal(keys.length, 1 + 40 - 33);
      const reader = await open(prefix);
      assert.deepEqual(await reader.history('w').load(), [record(40)]);
      await reader.close();
    } finally {
      await store.close();
    }
  });

  test('segments left by a crash between writing a base and deleting what it replaced are ignored', async () => {
    const prefix = `${freshName('stale')}/`;
    const layout = new Layout(prefix);
    const store = await open(prefix);
    for (let seq = 1; seq <= 3; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
    const stale = await Promise.all((await raw.list(layout.historyPrefix('w'))).map(async (key) => [key, await raw.get(key)] as const));
    await store.history('w').clear();
    await store.history('w').commit({ append: [record(9)], remove: [] });
    await store.close();
    for (const [key, body] of stale) await raw.put(key, body!);
    const again = await open(prefix);
    try {
      assert.deepEqual(await again.history('w').load(), [record(9)]);
    } finally {
      await again.close();
    }
  });

  test('a writing store leaves its mark under writers/ until it closes cleanly; a reading one leaves none', async () => {
    const prefix = `${freshName('marks')}/`;
    const layout = new Layout(prefix);
    const reader = await open(prefix);
    assert.deepEqual(await reader.history('w').load(), []);
    await reader.close();
    assert.deepEqual(await raw.list(layout.writersPrefix), []);
    const writer = await open(prefix);
    assert.equal(writer.tornTailPossible, false);
    await writer.history('w').commit({ append: [record(1)], remove: [] });
    assert.equal((await raw.list(layout.writersPrefix)).length, 1);
    const meanwhile = await open(prefix);
    assert.equal(meanwhile.tornTailPossible, true, 'a store opened while another one writes may meet its torn tail');
    await meanwhile.close();
    await writer.close();
    assert.deepEqual(await raw.list(layout.writersPrefix), []);
  });

  test('a missing segment in the middle is a CorruptHistoryError', async () => {
    const prefix = `${freshName('gap')}/`;
    const layout = new Layout(prefix);
    const store = await open(prefix);
    for (let seq = 1; seq <= 3; seq++) await store.history('w').commit({ append: [record(seq)], remove: [] });
    await store.close();
    await raw.delete(layout.segment('w', 2, 'c'));
    const again = await open(prefix);
    try {
      await assert.rejects(again.history('w').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY') && /segment 2 is missing/.test((error as Error).message));
    } finally {
      await again.close();
    }
  });

  test('s3rver does not enforce If-None-Match on PUT: the store says so, and refuses to open when told to require it', async () => {
    const store = await open(`${freshName('probe')}/`);
    assert.equal(store.conditionalWrites, false);
    await store.close();
    await assert.rejects(
      S3Store.open({ bucket: TEST_BUCKET, endpoint: s3.endpoint, credentials: LOCAL_CREDENTIALS, requireConditionalWrites: true }),
      (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /does not enforce conditional writes/.test((error as Error).message),
    );
  });

  test('a store opened read-only sends no write request: it reads, and refuses writes and ownership with StorageError', async () => {
    const prefix = `${freshName('read-only')}/`;
    const writer = await open(prefix);
    await writer.putWorkflow({ id: 'w', type: 't', args: [], state: 'running', startedAt: 1, deleteOnFinish: false });
    await writer.history('w').commit({ append: [record(1)], remove: [] });
    await writer.close();
    const before = await raw.list(prefix);
    const reader = await S3Store.open({ bucket: TEST_BUCKET, prefix, endpoint: s3.endpoint, credentials: LOCAL_CREDENTIALS, readOnly: true });
    try {
      assert.equal(reader.conditionalWrites, false, 'not probed');
      assert.deepEqual((await reader.listWorkflows()).map((entry) => entry.id), ['w']);
      assert.deepEqual((await reader.history('w').load()).map((r) => r.seq), [1]);
      const readOnly = (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /open read-only/.test((error as Error).message);
      await assert.rejects(reader.history('w').commit({ append: [record(2)], remove: [] }), readOnly);
      await assert.rejects(reader.putAlias('a', 'w'), readOnly);
      await assert.rejects(reader.deleteWorkflow('w'), readOnly);
      await assert.rejects(reader.acquireOwnership(newStoreOwner()), readOnly);
    } finally {
      await reader.close();
    }
    assert.deepEqual(await raw.list(prefix), before, 'no object added (no probe, no mark) nor removed');
  });

  test('a bucket that does not exist is a StorageError naming it', async () => {
    await assert.rejects(
      S3Store.open({ bucket: 'no-such-bucket', endpoint: s3.endpoint, credentials: LOCAL_CREDENTIALS }),
      (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /no-such-bucket/.test((error as Error).message),
    );
  });
});
