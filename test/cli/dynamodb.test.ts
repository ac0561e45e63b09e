/**
 * The CLI against DynamoDB (`--db dynamodb://<table>`, the endpoint and credentials from the AWS SDK's usual
 * environment), as against SQLite and PostgreSQL: `quest run` creates the table and runs a workflow to its
 * end; `quest list`, `result` and `resources` read without writing a single item; `quest send` posts to the
 * table's inbox; a missing table is reported, not created, by an inspection. Against dynalite on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { DynamoStore } from '../../src/storage/dynamodb/store.js';
import { startDynamo, type LocalDynamo } from '../storage/cloud-servers.js';
import { workflows } from './fixtures/workflows.js';
import { FIXTURE_MODULE, questWithEnv } from './support.js';

const credentials = { accessKeyId: 'quest-test', secretAccessKey: 'quest-test' };

describe('quest on DynamoDB', () => {
  let dynamo: LocalDynamo;
  let env: Record<string, string>;
  before(async () => {
    dynamo = await startDynamo();
    env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
  });
  after(() => dynamo.stop());

  const quest = (...args: string[]) => questWithEnv(env, ...args);
  const open = (table: string) => DynamoStore.open({ table, endpoint: dynamo.endpoint, region: 'us-east-1', credentials });

  /** Every item of `table`, to see that a command wrote none. */
  async function items(table: string): Promise<string> {
    const store = await open(table);
    try {
      const { Items = [] } = await store.client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
      return JSON.stringify(Items.map((item) => JSON.stringify(item)).sort());
    } finally {
      await store.close();
    }
  }

  test('quest run, list, result, resources and send work on a dynamodb:// table; the inspections write nothing', async () => {
    const db = 'dynamodb://quest-cli';
    const run = await quest('run', FIXTURE_MODULE, '--start', 'quick', 'q9', '{"x":1}', '--until-done', '--db', db);
    assert.equal(run.code, 0, run.stderr);
    const manager = await WorkflowManager.open({ store: await open('quest-cli'), workflows, inboxPollMs: 0 });
    try {
      await manager.start('collect', 'c1', 2);
      await manager.waitForResource('c1', 'words', null);
    } finally {
      await manager.close();
    }

    const before = await items('quest-cli');
    const list = await quest('list', '--json', '--db', db);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { id: string; state: string }[]).map(({ id, state }) => [id, state]).sort(), [['c1', 'running'], ['q9', 'completed']]);
    const result = await quest('result', 'q9', '--json', '--db', db);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as { result: unknown }).result, { x: 1 });
    const resources = await quest('resources', 'c1', '--json', '--db', db);
    assert.equal(resources.code, 0, resources.stderr);
    assert.deepEqual((JSON.parse(resources.stdout) as { resources: Array<{ name: string; kind: string }> }).resources.map(({ name, kind }) => [name, kind]), [['words', 'queue']]);
    assert.equal(await items('quest-cli'), before, 'list, result and resources read only');

    const sent = await quest('send', 'c1', 'words', 'put', 'hello', '--json', '--db', db);
    assert.equal(sent.code, 0, sent.stderr);
    const store = await open('quest-cli');
    try {
      assert.deepEqual((await store.takeEvents(10)).map(({ workflowId, resource, action, args }) => [workflowId, resource, action, args]), [['c1', 'words', 'put', ['hello']]]);
    } finally {
      await store.close();
    }
  });

  test('an inspection of a missing table says so and creates nothing', async () => {
    const missing = await quest('list', '--db', 'dynamodb://quest-cli-missing');
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /cannot open the database dynamodb:\/\/quest-cli-missing/);
    await assert.rejects(open('quest-cli-missing'), /quest-cli-missing/);
  });
});
