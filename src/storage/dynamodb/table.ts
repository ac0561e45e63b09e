/**
 * The requests a DynamoStore makes of its table beyond single items: reading a whole partition (paged), and
 * deleting items in batches of 25 (BatchWriteItem), where deletions queued in the same turn by many
 * workflows share requests.
 */
import { BatchWriteItemCommand, QueryCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { StorageError } from '../../core/errors.js';
import type { Item, Key } from './items.js';

/** BatchWriteItem takes at most 25 requests. */
const BATCH = 25;
/** Unprocessed items (throttling) are sent again this many times, with a growing pause. */
const RETRIES = 8;

/** Every item of partition `pk` (sort key order), read consistently, page after page. */
export async function queryPartition(client: DynamoDBClient, table: string, pk: string, keysOnly = false): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await client.send(new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: pk } },
      ConsistentRead: true,
      ...(keysOnly ? { ProjectionExpression: 'pk, sk' } : {}),
      ...(start === undefined ? {} : { ExclusiveStartKey: start }),
    }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

/** Deletes items in BatchWriteItem requests; deletions asked for in the same turn share requests. */
export class BatchDeleter {
  private queued: Array<{ key: Key; done: (error?: unknown) => void }> = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** BatchWriteItem requests sent (tests and benchmarks). */
  requests = 0;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /** Delete `keys`; resolves when every one is deleted (absent items count as deleted). */
  delete(keys: readonly Key[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve();
    const done = keys.map((key) => new Promise<void>((resolve, reject) => {
      this.queued.push({ key, done: (error) => (error === undefined ? resolve() : reject(error)) });
    }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return Promise.all(done).then(() => undefined);
  }

  /** Resolves when every deletion asked for so far has been sent and answered. */
  async idle(): Promise<void> {
    while (this.scheduled || this.inFlight.size > 0) {
      if (this.scheduled) await new Promise((resolve) => setImmediate(resolve));
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private flush(): void {
    this.scheduled = false;
    const queued = this.queued;
    this.queued = [];
    // One key once per request: DynamoDB refuses a batch that names an item twice.
    for (let start = 0; start < queued.length;) {
      const batch: typeof queued = [];
      const seen = new Set<string>();
      for (; start < queued.length && batch.length < BATCH; start++) {
        const entry = queued[start]!;
        const id = `${entry.key.pk.S}\u0000${entry.key.sk.S}`;
        if (seen.has(id)) break;
        seen.add(id);
        batch.push(entry);
      }
      const sending = this.send(batch.map((entry) => ({ DeleteRequest: { Key: entry.key } }))).then(
        () => batch.forEach((entry) => entry.done()),
        (error: unknown) => batch.forEach((entry) => entry.done(error)),
      );
      this.inFlight.add(sending);
      void sending.finally(() => this.inFlight.delete(sending));
    }
  }

  private async send(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > RETRIES) throw new StorageError(`DynamoDB kept ${pending.length} deletion(s) unprocessed (throttled) after ${RETRIES} retries.`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      this.requests++;
      const answer = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
      pending = answer.UnprocessedItems?.[this.table] ?? [];
    }
  }
}
