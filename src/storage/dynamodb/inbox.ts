/**
 * The inbox of outside events of a DynamoStore (the EventInbox capability), in three partitions of its table:
 *
 * - `inbox-counter` / `counter`: the last id given (`UpdateItem ADD`, atomic), so ids increase and are never reused;
 * - `inbox` / `e#<id, 16 digits>`: the pending events (`workflowId`, `postedAt`, `body`);
 * - `outcomes` / `o#<id, 16 digits>`: the outcomes of settled events (`status`, `code`, `message`, `settledAt`,
 *   and `expiresAt` in seconds, for DynamoDB's time-to-live if you enable it on that attribute).
 *
 * Settling writes the outcome first (only if none exists: the first settle wins), then deletes the event. A
 * crash in between leaves the event pending with an outcome: the next manager applies it again (delivery is at
 * least once) and its settle keeps the first outcome. Each settle also deletes up to 25 of the oldest outcomes
 * older than {@link EVENT_OUTCOME_RETENTION_MS}.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StorageError } from '../../core/errors.js';
import { awsErrorName } from '../aws-options.js';
import { EVENT_OUTCOME_RETENTION_MS, type EventOutcome, type EventVerdict, type InboxEvent, type PostedEvent } from '../store.js';
import { key, num, type Item, type Key } from './items.js';
import type { BatchDeleter } from './table.js';

const COUNTER = key('inbox-counter', 'counter');
const INBOX = 'inbox';
const OUTCOMES = 'outcomes';
/** Outcomes looked at for pruning per settle. */
const PRUNE_BATCH = 25;

const eventKey = (id: number): Key => key(INBOX, `e#${String(id).padStart(16, '0')}`);
const outcomeKey = (id: number): Key => key(OUTCOMES, `o#${String(id).padStart(16, '0')}`);

/** The inbox of one DynamoStore. */
export class DynamoInbox {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly deleter: BatchDeleter,
  ) {}

  async post(event: InboxEvent): Promise<number> {
    const { workflowId, resource, identity, action, args, ttlMs } = event;
    // Serialized before anything is written: later changes to `args` do not count, and bad data writes nothing.
    const body = JSON.stringify({ resource, identity, action, args, ...(ttlMs === undefined ? {} : { ttlMs }) });
    const { Attributes: counter } = await this.client.send(new UpdateItemCommand({
      TableName: this.table, Key: COUNTER, UpdateExpression: 'ADD #last :one',
      ExpressionAttributeNames: { '#last': 'last' }, ExpressionAttributeValues: { ':one': num(1) }, ReturnValues: 'UPDATED_NEW',
    }));
    const id = Number(counter?.last?.N);
    await this.client.send(new PutItemCommand({
      TableName: this.table,
      Item: { ...eventKey(id), workflowId: { S: workflowId }, postedAt: num(Date.now()), body: { S: body } },
    }));
    return id;
  }

  async take(limit: number, afterId: number): Promise<PostedEvent[]> {
    const wanted = Math.max(0, Math.floor(limit));
    const events: PostedEvent[] = [];
    let start: Item | undefined;
    while (events.length < wanted) {
      const page = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk > :after',
        ExpressionAttributeValues: { ':pk': { S: INBOX }, ':after': eventKey(afterId).sk },
        ConsistentRead: true,
        Limit: wanted - events.length,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }));
      events.push(...(page.Items ?? []).map(parseEvent));
      start = page.LastEvaluatedKey;
      if (start === undefined) break;
    }
    return events;
  }

  async settle(id: number, verdict: EventVerdict): Promise<void> {
    const now = Date.now();
    await this.prune(now);
    const { Item: event } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: eventKey(id), ConsistentRead: true }));
    if (event === undefined) return;
    const rejected = verdict.status === 'rejected' ? verdict : undefined;
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.table,
        Item: {
          ...outcomeKey(id), status: { S: verdict.status }, settledAt: num(now), expiresAt: num(Math.ceil((now + EVENT_OUTCOME_RETENTION_MS) / 1000)),
          ...(rejected === undefined ? {} : { code: { S: rejected.code }, message: { S: rejected.message } }),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (error) {
      // Settled already (by another manager, or by one that died before deleting the event): the first outcome stays.
      if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
    }
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: eventKey(id) }));
  }

  async outcome(id: number): Promise<EventOutcome | undefined> {
    const { Item: settled } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: outcomeKey(id), ConsistentRead: true }));
    if (settled !== undefined) {
      const settledAt = Number(settled.settledAt?.N);
      if (settledAt < Date.now() - EVENT_OUTCOME_RETENTION_MS) return undefined;
      if (settled.status?.S === 'applied') return { status: 'applied', settledAt };
      return { status: 'rejected', code: settled.code?.S ?? 'UNKNOWN', message: settled.message?.S ?? '', settledAt };
    }
    const { Item: pending } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: eventKey(id), ConsistentRead: true }));
    return pending === undefined ? undefined : { status: 'pending' };
  }

  /** Delete outcomes settled longer ago than the retention among the oldest few. */
  private async prune(now: number): Promise<void> {
    const { Items: oldest = [] } = await this.client.send(new QueryCommand({
      TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: OUTCOMES } }, Limit: PRUNE_BATCH,
    }));
    const expired = oldest.filter((item) => Number(item.settledAt?.N) < now - EVENT_OUTCOME_RETENTION_MS);
    await this.deleter.delete(expired.map((item) => key(OUTCOMES, item.sk!.S!)));
  }
}

function parseEvent(item: Item): PostedEvent {
  const id = Number(item.sk?.S?.slice(2));
  let body: Omit<InboxEvent, 'workflowId'>;
  try {
    body = JSON.parse(item.body?.S ?? '') as typeof body;
  } catch {
    throw new StorageError(`event ${id} of the inbox is not JSON`);
  }
  return {
    id,
    postedAt: Number(item.postedAt?.N),
    workflowId: item.workflowId?.S ?? '',
    resource: body.resource,
    identity: body.identity,
    action: body.action,
    args: body.args,
    ...(body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs }),
  };
}
