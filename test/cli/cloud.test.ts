/**
 * The CLI against the cloud stores, as against SQLite and PostgreSQL, with the endpoints and credentials from
 * the AWS SDK's usual environment, against dynalite and s3rver on 127.0.0.1:
 * - `--db dynamodb://<table>`: `quest run` creates the table and runs a workflow to its end; `list`, `result`
 *   and `resources` read without writing an item (the store opened read-only); `send` posts to the table's
 *   inbox; a missing table is reported, not created, by an inspection;
 * - `--db s3://<bucket>/<prefix>`: the same, the inspections opening the store read-only (no write request,
 *   not even the probe of conditional writes); `send` says the store has no inbox, and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { DynamoStore } from '../../src/storage/dynamodb/store.js';
import { S3Store } from '../../src/storage/s3/store.js';
import type { Store } from '../../src/storage/store.js';
import { LOCAL_CREDENTIALS, TEST_BUCKET } from '../storage/cloud-locations.js';
import { startDynamo, startS3, type LocalDynamo, type LocalS3 } from '../storage/cloud-servers.js';
import { workflows } from './fixtures/workflows.js';
import { FIXTURE_MODULE, questWithEnv, type QuestRun } from './support.js';

/** The credentials s3rver accepts (dynalite takes any). */
const credentials = LOCAL_CREDENTIALS;
const AWS_ENV = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey };

/** One cloud backend as the CLI tests use it. */
interface Backend {
  /** The `--db` of `name` (a table, or a prefix in the test bucket). */
  db(name: string): string;
  /** The store of `name`, opened in this process for writing. */
  open(name: string): Promise<Store>;
  /** Everything stored under `name`, to see that a command wrote nothing. */
  contents(name: string): Promise<string>;
  /** `quest ...args` with this backend's environment. */
  quest(...args: string[]): Promise<QuestRun>;
}

/** `use` the store `opened` opens, then close it. */
async function closing<S extends Store, T>(opened: Promise<S>, use: (store: S) => Promise<T>): Promise<T> {
  const store = await opened;
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** Start a manager of the fixture workflows on `store`, start collect c1 (waiting on its queue words), close it. */
async function startCollect(store: Store): Promise<void> {
  const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
  try {
    await manager.start('collect', 'c1', 2);
    await manager.waitForResource('c1', 'words', null);
  } finally {
    await manager.close();
  }
}

/** What `list`, `result` and `resources` print of the database `name`, checking that they wrote nothing. */
async function inspectWithoutWriting(backend: Backend, name: string): Promise<void> {
  const db = backend.db(name);
  const before = await backend.contents(name);
  const list = await backend.quest('list', '--json', '--db', db);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { id: string; state: string }[]).map(({ id, state }) => [id, state]).sort(), [['c1', 'running'], ['q9', 'completed']]);
  const result = await backend.quest('result', 'q9', '--json', '--db', db);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual((JSON.parse(result.stdout) as { result: unknown }).result, { x: 1 });
  const resources = await backend.quest('resources', 'c1', '--json', '--db', db);
  assert.equal(resources.code, 0, resources.stderr);
  assert.deepEqual((JSON.parse(resources.stdout) as { resources: Array<{ name: string; kind: string }> }).resources.map(({ name, kind }) => [name, kind]), [['words', 'queue']]);
  assert.equal(await backend.contents(name), before, 'list, result and resources read only');
}

/** `quest run` a quick workflow to its end, then start c1 from this process: the database every test inspects. */
async function prepare(backend: Backend, name: string): Promise<void> {
  const run = await backend.quest('run', FIXTURE_MODULE, '--start', 'quick', 'q9', '{"x":1}', '--until-done', '--db', backend.db(name));
  assert.equal(run.code, 0, run.stderr);
  await startCollect(await backend.open(name));
}

describe('quest on DynamoDB', () => {
  let dynamo: LocalDynamo;
  let backend: Backend;
  before(async () => {
    dynamo = await startDynamo();
    const open = (table: string) => DynamoStore.open({ table, endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
    backend = {
      db: (table) => `dynamodb://${table}`,
      open,
      contents: (table) =>
        closing(open(table), async (store) => {
          const { Items = [] } = await store.client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
          return JSON.stringify(Items.map((item) => JSON.stringify(item)).sort());
        }),
      quest: (...args) => questWithEnv({ ...AWS_ENV, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint }, ...args),
    };
  });
  after(() => dynamo.stop());

  test('quest run, list, result, resources and send work on a dynamodb:// table; the inspections write nothing', async () => {
    await prepare(backend, 'quest-cli');
    await inspectWithoutWriting(backend, 'quest-cli');
    const sent = await backend.quest('send', 'c1', 'words', 'put', 'hello', '--json', '--db', backend.db('quest-cli'));
    assert.equal(sent.code, 0, sent.stderr);
    const events = await closing(backend.open('quest-cli') as Promise<DynamoStore>, (store) => store.takeEvents(10));
    assert.deepEqual(events.map(({ workflowId, resource, action, args }) => [workflowId, resource, action, args]), [['c1', 'words', 'put', ['hello']]]);
  });

  test('an inspection of a missing table says so and creates nothing', async () => {
    const missing = await backend.quest('list', '--db', 'dynamodb://quest-cli-missing');
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /cannot open the database dynamodb:\/\/quest-cli-missing/);
    await assert.rejects(backend.open('quest-cli-missing'), /quest-cli-missing/);
  });
});

describe('quest on S3', () => {
  let s3: LocalS3;
  let backend: Backend;
  before(async () => {
    s3 = await startS3();
    const open = (prefix: string) => S3Store.open({ bucket: TEST_BUCKET, prefix, endpoint: s3.endpoint, credentials });
    backend = {
      db: (prefix) => `s3://${TEST_BUCKET}/${prefix}`,
      open,
      // Read-only, so that looking writes nothing either (not even the probe of conditional writes).
      contents: (prefix) =>
        closing(S3Store.open({ bucket: TEST_BUCKET, prefix, endpoint: s3.endpoint, credentials, readOnly: true }), async (store) => {
          const entries = await store.listWorkflows();
          const histories = await Promise.all(entries.map(async (entry) => [entry.id, await store.history(entry.id).load()]));
          const { Contents = [] } = await store.client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: prefix }));
          return JSON.stringify({ entries, histories, keys: Contents.map((object) => [object.Key, object.ETag]) });
        }),
      quest: (...args) => questWithEnv({ ...AWS_ENV, AWS_ENDPOINT_URL_S3: s3.endpoint }, ...args),
    };
  });
  after(() => s3.stop());

  test('quest run, list, result and resources work on an s3:// prefix; the inspections write nothing; send says there is no inbox', async () => {
    await prepare(backend, 'cli/');
    await inspectWithoutWriting(backend, 'cli/');
    const before = await backend.contents('cli/');
    const sent = await backend.quest('send', 'c1', 'words', 'put', 'hello', '--db', backend.db('cli/'));
    assert.equal(sent.code, 2, sent.stderr);
    assert.match(sent.stderr, /has no inbox/);
    assert.equal(await backend.contents('cli/'), before, 'the refused send wrote nothing');
  });
});
