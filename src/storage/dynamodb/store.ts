/**
 * DynamoDB storage: a Quest store in one DynamoDB table (items.ts describes its items), for serverless and
 * cloud deployments. Histories: history.ts.
 */
import {
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError, StorageError } from '../../core/errors.js';
import type { EventInbox, EventOutcome, EventVerdict, InboxEvent, PostedEvent, Store, WorkflowEntry, WorkflowState } from '../store.js';
import { RecordHistory } from '../record-history.js';
import { storageError } from '../storage-error.js';
import { CloudStore } from '../cloud-store.js';
import { awsErrorName, clientConfig, type AwsConnectionOptions } from '../aws-options.js';
import { WORKFLOWS, aliasKey, aliasMarkKey, entryKey, historyPartition, num } from './items.js';
import { DynamoHistories } from './history.js';
import { DynamoOwnership } from './owner.js';
import { DynamoInbox } from './inbox.js';
import { queryPartition } from './table.js';
import { readOnlyClient } from './read-only.js';

/** Options of {@link DynamoStore.open}. */
export interface DynamoStoreOptions extends AwsConnectionOptions {
  /** The table (partition key `pk`, sort key `sk`, both strings). Default: env QUEST_DYNAMODB_TABLE. */
  table?: string;
  /** Create the table (on-demand capacity) when it does not exist (default false: a missing table is an error). */
  createTable?: boolean;
  /** A client of yours (then endpoint, region and credentials are ignored; close() leaves it open). */
  client?: DynamoDBClient;
  /**
   * Open for inspection: the store sends read requests only (DescribeTable, GetItem, Query), and every write
   * (an entry, a history, an alias, the inbox, ownership) is refused with StorageError before any request is
   * made. Not with `createTable` (InvalidArgumentError).
   */
  readOnly?: boolean;
}

/**
 * A {@link Store} in one DynamoDB table. Open it with {@link DynamoStore.open}.
 *
 * - One item per history record, keyed by workflow and seq; a commit writes its records with conditional
 *   puts and then moves the history's head with a conditional update, so two writers can never both append
 *   the same position, and a commit counts whole or not at all (see history.ts).
 * - Removed records are deleted in BatchWriteItem requests shared by every workflow committing at the time.
 * - Damage (a changed record, deleted records, the deleted history of a running workflow) is a
 *   CorruptHistoryError on load; a commit torn by a crash is ignored and cleaned up.
 * - Not atomic across items: `deleteWorkflow` removes the entry first, then aliases and records (a crash in
 *   between leaves records no entry points at; deleting again removes them).
 *
 * One owner at a time ({@link StoreOwnership}): an owner item written with conditions, so of several
 * processes taking over a gone owner at once exactly one wins; an owner on another host is never taken over.
 * It has an inbox of outside events ({@link EventInbox}, inbox.ts): a manager polls it every `inboxPollMs`
 * (one Query each time).
 *
 * @example
 * const store = await DynamoStore.open({ table: 'quest', region: 'eu-west-1' });
 * const manager = await WorkflowManager.open({ store, workflows: { order } });
 */
export class DynamoStore extends CloudStore implements Store, EventInbox {
  protected readonly histories: DynamoHistories;
  protected readonly ownership: DynamoOwnership;
  private readonly inbox: DynamoInbox;

  private constructor(
    /** The client the store sends its requests with. */
    readonly client: DynamoDBClient,
    ownsClient: boolean,
    /** The table. */
    readonly table: string,
  ) {
    super(`DynamoDB store (table ${JSON.stringify(table)})`, ownsClient ? client : undefined);
    this.histories = new DynamoHistories(client, table);
    this.ownership = new DynamoOwnership(client, table);
    this.inbox = new DynamoInbox(client, table, this.histories.deleter);
  }

  /** Where the store is, for messages (and `quest --db`): `dynamodb://<table>`. */
  get path(): string {
    return `dynamodb://${this.table}`;
  }

  /**
   * Connect and check (or create, with `createTable`) the table; with `readOnly`, for reading only. Rejects
   * with StorageError when it cannot be reached or does not exist, InvalidArgumentError for bad options.
   *
   * @example
   * const store = await DynamoStore.open({ table: 'quest', endpoint: 'http://127.0.0.1:8000', createTable: true });
   */
  static async open(options: DynamoStoreOptions = {}): Promise<DynamoStore> {
    const table = options.table ?? process.env.QUEST_DYNAMODB_TABLE;
    if (table === undefined || !/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
      throw new InvalidArgumentError(
        `DynamoStore needs a table name of 3 to 255 letters, digits, '_', '-' or '.' (option table or env QUEST_DYNAMODB_TABLE; got ${JSON.stringify(table)}).`,
      );
    }
    if (options.readOnly === true && options.createTable === true) {
      throw new InvalidArgumentError('DynamoStore cannot both create its table and be read-only: open it without readOnly to create the table, or without createTable to inspect it.');
    }
    const ownClient = options.client ?? new DynamoDBClient(clientConfig(options, 'DynamoStore'));
    const client = options.readOnly === true ? readOnlyClient(ownClient, table) : ownClient;
    try {
      await prepareTable(client, table, options.createTable === true);
    } catch (error) {
      if (options.client === undefined) ownClient.destroy();
      throw storageError(`open the DynamoDB store (table ${JSON.stringify(table)}). Are the region, credentials and endpoint right?`, error);
    }
    return new DynamoStore(client, options.client === undefined, table);
  }

  /** BatchWriteItem requests sent to delete records (for tests and benchmarks). */
  get batchDeletes(): number {
    return this.histories.deleter.requests;
  }

  history(workflowId: string): RecordHistory {
    this.checkOpen();
    return new RecordHistory(this, workflowId);
  }

  async putWorkflow(entry: WorkflowEntry): Promise<void> {
    await this.request(`save workflow ${JSON.stringify(entry.id)}`, async () => {
      const body = JSON.stringify(entry);
      // A running workflow's history must exist from now on (its head), so that losing it is seen as damage.
      if (entry.state === 'running') await this.histories.ensureHead(entry.id);
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: { ...entryKey(entry.id), body: { S: body }, state: { S: entry.state }, startedAt: num(entry.startedAt) },
      }));
    });
  }

  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.request(`read workflow ${JSON.stringify(workflowId)}`, async () => {
      const { Item: item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: entryKey(workflowId), ConsistentRead: true }));
      return item?.body?.S === undefined ? undefined : (JSON.parse(item.body.S) as WorkflowEntry);
    });
  }

  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.request('list workflows', async () => {
      const items = await queryPartition(this.client, this.table, WORKFLOWS);
      const entries = items
        .filter((item) => state === undefined || item.state?.S === state)
        .map((item) => JSON.parse(item.body?.S ?? 'null') as WorkflowEntry);
      return entries.sort((a, b) => a.startedAt - b.startedAt);
    });
  }

  deleteWorkflow(workflowId: string): Promise<void> {
    return this.request(`delete workflow ${JSON.stringify(workflowId)}`, async () => {
      // The entry first: without it, what is left of the history is no longer expected (nor damage).
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: entryKey(workflowId) }));
      // The aliases that were pointed at it left a mark in its partition; those still pointing at it go.
      const partition = await queryPartition(this.client, this.table, historyPartition(workflowId), true);
      const marked = partition.map((item) => item.sk?.S ?? '').filter((sortKey) => sortKey.startsWith('a#'));
      await Promise.all(marked.map((sortKey) => this.deleteAliasItem(sortKey.slice(2), workflowId)));
      await this.histories.remove(workflowId);
    });
  }

  putAlias(alias: string, workflowId: string): Promise<void> {
    return this.request(`save alias ${JSON.stringify(alias)}`, async () => {
      // The mark first, so that deleting the workflow finds every alias that may point at it.
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: aliasMarkKey(workflowId, alias) }));
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: { ...aliasKey(alias), target: { S: workflowId } } }));
    });
  }

  deleteAlias(alias: string, workflowId: string): Promise<void> {
    return this.request(`delete alias ${JSON.stringify(alias)}`, async () => {
      await this.deleteAliasItem(alias, workflowId);
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: aliasMarkKey(workflowId, alias) }));
    });
  }

  getAlias(alias: string): Promise<string | undefined> {
    return this.request(`read alias ${JSON.stringify(alias)}`, async () => {
      const { Item: item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: aliasKey(alias), ConsistentRead: true }));
      return item?.target?.S;
    });
  }

  postEvent(event: InboxEvent): Promise<number> {
    return this.request(`post an event for workflow ${JSON.stringify(event.workflowId)}`, () => this.inbox.post(event));
  }

  takeEvents(limit: number, afterId = 0): Promise<PostedEvent[]> {
    return this.request('read the inbox', () => this.inbox.take(limit, afterId));
  }

  settleEvent(id: number, verdict: EventVerdict): Promise<void> {
    return this.request(`settle event ${id} of the inbox`, () => this.inbox.settle(id, verdict));
  }

  eventOutcome(id: number): Promise<EventOutcome | undefined> {
    return this.request(`read the outcome of event ${id}`, () => this.inbox.outcome(id));
  }

  private async deleteAliasItem(alias: string, workflowId: string): Promise<void> {
    try {
      await this.client.send(new DeleteItemCommand({
        TableName: this.table, Key: aliasKey(alias), ConditionExpression: '#target = :target', ExpressionAttributeNames: { '#target': 'target' }, ExpressionAttributeValues: { ':target': { S: workflowId } },
      }));
    } catch (error) {
      // It points elsewhere (or nowhere): nothing to do.
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
  }
}

/** Check that `table` exists (create it when asked to), with the key schema the store needs. */
async function prepareTable(client: DynamoDBClient, table: string, create: boolean): Promise<void> {
  try {
    const { Table: description } = await client.send(new DescribeTableCommand({ TableName: table }));
    const keys = (description?.KeySchema ?? []).map((element) => `${element.AttributeName}:${element.KeyType}`).join(',');
    if (keys !== 'pk:HASH,sk:RANGE') {
      throw new StorageError(`DynamoDB table ${JSON.stringify(table)} has the key schema ${keys}; Quest needs pk (HASH, string) and sk (RANGE, string). Use another table.`);
    }
    return;
  } catch (error) {
    if (awsErrorName(error) !== 'ResourceNotFoundException') throw error;
    if (!create) throw new StorageError(`DynamoDB table ${JSON.stringify(table)} does not exist. Create it (pk string HASH, sk string RANGE) or pass createTable: true.`);
  }
  await client.send(new CreateTableCommand({
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
  await untilActive(client, table);
}

/** Wait until a table just created is ACTIVE: DescribeTable after 20 ms, then twice as long each time (at most 1 s), for up to 2 minutes. */
async function untilActive(client: DynamoDBClient, table: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 1000)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    const { Table: description } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (description?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new StorageError(`DynamoDB table ${JSON.stringify(table)} is still ${description?.TableStatus ?? 'missing'} two minutes after it was created.`);
  }
}
