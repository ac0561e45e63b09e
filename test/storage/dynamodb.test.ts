import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../../src/storage/dynamodb/index.js';
import { isQuestError } from '../../src/core/errors.js';
import { newStoreOwner } from '../../src/storage/owner.js';
import { entry, record, runStoreConformance, type DamageHooks } from './conformance.js';
import { LOCAL_CREDENTIALS, freshName, serverForFile, startDynamo } from './cloud-support.js';

const dynamo = await serverForFile(startDynamo);
const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });

function open(table: string): Promise<DynamoStore> {
  return DynamoStore.open({ table, endpoint: dynamo.endpoint, credentials: LOCAL_CREDENTIALS, createTable: true });
}

runStoreConformance('dynamodb', async () => {
  const table = freshName('conf');
  return { store: await open(table), reopen: () => open(table), cleanup: async () => {}, damage: dynamoDamage(table) };
});

/** The items of the history of `workflowId`, sort key order (the head first). */
async function itemsOf(table: string, workflowId: string) {
  const { Items: items = [] } = await raw.send(new QueryCommand({
    TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `h#${workflowId}` } }, ConsistentRead: true,
  }));
  return items;
}

function dynamoDamage(table: string): DamageHooks {
  const records = async (id: string) => (await itemsOf(table, id)).filter((item) => item.sk?.S !== 'head');
  const setBody = (id: string, sk: string, body: string) =>
    raw.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: `h#${id}` }, sk: { S: sk } }, UpdateExpression: 'SET body = :b', ExpressionAttributeValues: { ':b': { S: body } } }));
  const remove = async (id: string, keep: (sk: string) => boolean) => {
    for (const item of await itemsOf(table, id)) {
      if (!keep(item.sk!.S!)) await raw.send(new DeleteItemCommand({ TableName: table, Key: { pk: item.pk!, sk: item.sk! } }));
    }
  };
  return {
    truncateRecord: async (id) => {
      const last = (await records(id)).at(-1)!;
      await setBody(id, last.sk!.S!, last.body!.S!.slice(0, last.body!.S!.length / 2));
    },
    flipByte: async (id) => {
      const third = (await records(id)).find((item) => item.body?.S?.includes('"result":{"seq":3,'));
      assert.ok(third !== undefined);
      await setBody(id, third.sk!.S!, third.body!.S!.replace('"result":{"seq":3,', '"result":{"seq":7,'));
    },
    deleteHistory: (id) => remove(id, () => false),
    // A DynamoDB history has no body to empty: its record items deleted, its head left.
    emptyHistory: (id) => remove(id, (sk) => sk === 'head'),
    // What a crash between a commit's record puts and its head update leaves: a record the head does not count.
    tearTail: async (id) => {
      const { Item: head } = await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `h#${id}` }, sk: { S: 'head' } }, ConsistentRead: true }));
      const torn = JSON.stringify(record(5, 'torn'));
      await raw.send(new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `h#${id}` }, sk: { S: `r#${'5'.padStart(16, '0')}` }, body: { S: torn }, crc: { N: '0' }, c: { N: String(Number(head!.committed!.N) + 1) } },
      }));
    },
  };
}

describe('dynamodb store: one writer per history, batched deletes', () => {
  test('a second store writing the same history is refused; the first one\'s commits stand', async () => {
    const table = freshName('writers');
    const [first, second] = [await open(table), await open(table)];
    try {
      await first.history('w').commit({ append: [record(1)], remove: [] });
      assert.deepEqual(await second.history('w').load(), [record(1)]);
      await first.history('w').commit({ append: [record(2)], remove: [] });
      // The second store read the history before seq 2: its seq 2 meets the conditional put...
      await assert.rejects(second.history('w').commit({ append: [record(2, 'other')], remove: [] }), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /already stored/.test((error as Error).message));
      assert.deepEqual(await second.history('w').load(), [record(1), record(2)]);
      await first.history('w').commit({ append: [record(3)], remove: [1] });
      // ...and a new seq meets the head's condition (the commit counter moved); its record is taken back.
      await assert.rejects(second.history('w').commit({ append: [record(4, 'other')], remove: [] }), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /another writer/.test((error as Error).message));
      await first.history('w').commit({ append: [record(4)], remove: [] });
      assert.deepEqual(await first.history('w').load(), [record(2), record(3), record(4)]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('records removed by commits of many workflows at once are deleted in shared batches of up to 25', async () => {
    const store = await open(freshName('prune'));
    try {
      const ids = Array.from({ length: 50 }, (_, i) => `w${i}`);
      await Promise.all(ids.map((id) => store.history(id).commit({ append: [record(1, id), record(2, id)], remove: [] })));
      const before = store.batchDeletes;
      await Promise.all(ids.map((id) => store.history(id).commit({ append: [record(3, id)], remove: [1, 2] })));
      await store.close();
      // 100 deletions: 4 requests of 25, however the commits interleave.
      assert.equal(store.batchDeletes - before, 4);
      const again = await open(store.table);
      for (const id of ids) assert.deepEqual((await itemsOf(store.table, id)).map((item) => item.sk?.S), ['head', `r#${'3'.padStart(16, '0')}`]);
      assert.deepEqual(await again.history('w7').load(), [record(3, 'w7')]);
      await again.close();
    } finally {
      await store.close();
    }
  });

  test('of two stores taking over a gone owner at once, exactly one wins (the condition on the owner item, not this process)', async () => {
    const table = freshName('owners');
    const [first, second] = [await open(table), await open(table)];
    try {
      await first.acquireOwnership({ id: 'dead', pid: 2 ** 30 + 7, host: hostname(), acquiredAt: 1 });
      const racers = [newStoreOwner(), newStoreOwner()];
      const outcomes = await Promise.allSettled([first.acquireOwnership(racers[0]!), second.acquireOwnership(racers[1]!)]);
      assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
      const loser = outcomes.find((outcome) => outcome.status === 'rejected');
      assert.ok(isQuestError(loser?.reason, 'STORE_OWNED'));
      const winner = racers[outcomes.findIndex((outcome) => outcome.status === 'fulfilled')];
      assert.equal((await second.currentOwner())?.id, winner?.id);
    } finally {
      await first.close();
      await second.close();
    }
  });

  // What the aliases answer afterwards is in the conformance suite; here, what is left in the table.
  test('deleting a workflow leaves no item of it behind (its aliases\' marks included)', async () => {
    const store = await open(freshName('aliases'));
    try {
      await store.putWorkflow(entry('w', 1));
      await store.putAlias('a', 'w');
      await store.putAlias('b', 'w');
      await store.putAlias('b', 'v');
      await store.deleteWorkflow('w');
      assert.deepEqual(await itemsOf(store.table, 'w'), []);
    } finally {
      await store.close();
    }
  });

  test('inbox: after a crash between recording an outcome and removing the event, settling again keeps the first outcome', async () => {
    const store = await open(freshName('inbox'));
    try {
      const id = await store.postEvent({ workflowId: 'w', resource: 'q', identity: null, action: 'put', args: [1] });
      const sk = `o#${String(id).padStart(16, '0')}`;
      // What the first settle left before it died: the outcome, with the event still in the inbox.
      await raw.send(new PutItemCommand({ TableName: store.table, Item: { pk: { S: 'outcomes' }, sk: { S: sk }, status: { S: 'applied' }, settledAt: { N: String(Date.now()) } } }));
      assert.deepEqual((await store.takeEvents(10)).map((event) => event.id), [id]);
      await store.settleEvent(id, { status: 'rejected', code: 'X', message: 'second' });
      assert.deepEqual(await store.takeEvents(10), []);
      assert.equal((await store.eventOutcome(id))?.status, 'applied');
    } finally {
      await store.close();
    }
  });

  test('inbox: settling prunes outcomes older than a day', async () => {
    const store = await open(freshName('prune-outcomes'));
    try {
      await raw.send(new PutItemCommand({ TableName: store.table, Item: { pk: { S: 'outcomes' }, sk: { S: `o#${'0'.padStart(16, '0')}` }, status: { S: 'applied' }, settledAt: { N: String(Date.now() - 25 * 3600_000) } } }));
      const id = await store.postEvent({ workflowId: 'w', resource: 'q', identity: null, action: 'put', args: [] });
      await store.settleEvent(id, { status: 'applied' });
      await store.close();
      const { Items: outcomes = [] } = await raw.send(new QueryCommand({ TableName: store.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'outcomes' } }, ConsistentRead: true }));
      assert.deepEqual(outcomes.map((item) => item.sk?.S), [`o#${String(id).padStart(16, '0')}`]);
    } finally {
      await store.close();
    }
  });

  test('a missing table is a StorageError that says how to create it', async () => {
    await assert.rejects(
      DynamoStore.open({ table: freshName('missing'), endpoint: dynamo.endpoint, credentials: LOCAL_CREDENTIALS }),
      (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /does not exist.*createTable: true/.test((error as Error).message),
    );
  });

  test('a workflow entry of a running workflow makes its history expected from then on', async () => {
    const table = freshName('expected');
    const store = await open(table);
    await store.putWorkflow(entry('w', 1));
    await store.close();
    await raw.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'h#w' }, sk: { S: 'head' } } }));
    const again = await open(table);
    try {
      await assert.rejects(again.history('w').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
    } finally {
      await again.close();
    }
  });
});

describe('dynamodb store: opened read-only', () => {
  /** Every item of `table`, as stored. */
  async function scan(table: string) {
    const { Items: items = [] } = await raw.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
    return items.sort((a, b) => `${a.pk?.S}/${a.sk?.S}`.localeCompare(`${b.pk?.S}/${b.sk?.S}`));
  }

  test('a store opened read-only reads, and refuses every write and ownership with StorageError; the table is unchanged', async () => {
    const table = freshName('read-only');
    const writer = await open(table);
    await writer.putWorkflow(entry('w', 1));
    await writer.history('w').commit({ append: [record(1)], remove: [] });
    await writer.putAlias('a', 'w');
    await writer.close();
    const before = await scan(table);
    const reader = await DynamoStore.open({ table, endpoint: dynamo.endpoint, credentials: LOCAL_CREDENTIALS, readOnly: true });
    try {
      assert.deepEqual((await reader.listWorkflows()).map((stored) => stored.id), ['w']);
      assert.deepEqual((await reader.history('w').load()).map((r) => r.seq), [1]);
      assert.equal(await reader.getAlias('a'), 'w');
      const readOnly = (error: unknown) => isQuestError(error, 'STORAGE_FAILURE') && /open read-only/.test((error as Error).message);
      await assert.rejects(reader.putWorkflow(entry('v', 2)), readOnly);
      await assert.rejects(reader.history('w').commit({ append: [record(2)], remove: [] }), readOnly);
      await assert.rejects(reader.putAlias('b', 'w'), readOnly);
      await assert.rejects(reader.deleteWorkflow('w'), readOnly);
      await assert.rejects(reader.postEvent({ workflowId: 'w', resource: 'q', identity: null, action: 'put', args: [1] }), readOnly);
      await assert.rejects(reader.acquireOwnership(newStoreOwner()), readOnly);
    } finally {
      await reader.close();
    }
    assert.deepEqual(await scan(table), before, 'no item added, changed nor removed');
  });

  test('read-only leaves the caller\'s own client able to write, and cannot go with createTable', async () => {
    const table = freshName('read-only-client');
    await (await open(table)).close();
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    try {
      const reader = await DynamoStore.open({ table, client, readOnly: true });
      await assert.rejects(reader.putWorkflow(entry('w', 1)), (error: unknown) => isQuestError(error, 'STORAGE_FAILURE'));
      await reader.close();
      await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'other' }, sk: { S: 'x' } } }));
      assert.equal((await scan(table)).filter((item) => item.pk?.S === 'other').length, 1);
    } finally {
      client.destroy();
    }
    await assert.rejects(
      DynamoStore.open({ table, endpoint: dynamo.endpoint, credentials: LOCAL_CREDENTIALS, readOnly: true, createTable: true }),
      (error: unknown) => isQuestError(error, 'INVALID_ARGUMENT') && /read-only/.test((error as Error).message),
    );
  });
});
