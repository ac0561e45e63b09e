/**
 * The owner of a DynamoStore (StoreOwnership): one item (`pk = sk = 'owner'`) holding the owner's record,
 * written with conditions: created only when absent, taken over only from the very owner that was read (its
 * id), removed only by its holder. Of several processes taking over a gone owner at once, exactly one
 * condition holds. Calls of one store object are also serialized, so its own racers see each other.
 */
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SerialQueue } from '../files/fs.js';
import { awsErrorName } from '../aws-options.js';
import { isStoreOwner, ownerIsGone, storeOwnedError } from '../owner.js';
import type { StoreOwner } from '../store.js';
import { key } from './items.js';

const OWNER_KEY = key('owner', 'owner');

/** Ownership of one DynamoStore's table. */
export class DynamoOwnership {
  private readonly queue = new SerialQueue();
  /** The owner id this store holds, if any. */
  private held: string | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  acquire(owner: StoreOwner): Promise<void> {
    return this.queue.run(async () => {
      const current = await this.read();
      if (current !== undefined && current.id !== owner.id && !ownerIsGone(current)) throw this.ownedBy(current);
      if (current?.id === owner.id) {
        this.held = owner.id;
        return;
      }
      try {
        await this.client.send(new PutItemCommand({
          TableName: this.table,
          Item: { ...OWNER_KEY, ownerId: { S: owner.id }, body: { S: JSON.stringify(owner) } },
          ...(current === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'ownerId = :seen', ExpressionAttributeValues: { ':seen': { S: current.id } } }),
        }));
      } catch (error) {
        if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
        // Another process wrote itself first: it is the owner now.
        const winner = await this.read();
        throw this.ownedBy(winner ?? current ?? owner);
      }
      this.held = owner.id;
    });
  }

  release(): Promise<void> {
    return this.queue.run(async () => {
      const held = this.held;
      if (held === undefined) return;
      try {
        await this.client.send(new DeleteItemCommand({
          TableName: this.table, Key: OWNER_KEY, ConditionExpression: 'ownerId = :mine', ExpressionAttributeValues: { ':mine': { S: held } },
        }));
      } catch (error) {
        // Taken over already (this process was thought gone): the item is someone else's now.
        if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
      }
      this.held = undefined;
    });
  }

  current(): Promise<StoreOwner | undefined> {
    return this.read();
  }

  private async read(): Promise<StoreOwner | undefined> {
    const { Item: item } = await this.client.send(new GetItemCommand({ TableName: this.table, Key: OWNER_KEY, ConsistentRead: true }));
    let owner: unknown;
    try {
      owner = JSON.parse(item?.body?.S ?? 'null');
    } catch {
      owner = undefined;
    }
    // A damaged item names nobody: treat it as no owner rather than locking everyone out for good.
    return isStoreOwner(owner) ? owner : undefined;
  }

  private ownedBy(owner: StoreOwner): Error {
    return storeOwnedError(`DynamoDB table ${this.table}`, owner, `delete the item pk = sk = "owner" of table ${this.table}`);
  }
}
