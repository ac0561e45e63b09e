/**
 * The client of a DynamoStore opened read-only (for inspection, as `quest list` opens it): it sends read
 * requests only, and refuses every other with StorageError before anything leaves the process. One guard
 * around the client rather than a check in each write of the store, so that no write path (entries,
 * histories, aliases, the inbox, ownership, a cleanup written later) can be forgotten.
 */
import { BatchGetItemCommand, DescribeTableCommand, GetItemCommand, QueryCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { StorageError } from '../../core/errors.js';

/** The requests that only read. */
const READ_COMMANDS: readonly (abstract new (...args: never[]) => unknown)[] = [BatchGetItemCommand, DescribeTableCommand, GetItemCommand, QueryCommand, ScanCommand];

/**
 * `client` as a read-only store sees it: `send` passes read requests on and rejects the others (StorageError
 * naming the request and `table`); everything else is the client's own. `client` itself is not changed (it
 * may be the caller's, used elsewhere for writing).
 */
export function readOnlyClient(client: DynamoDBClient, table: string): DynamoDBClient {
  const send = (command: Parameters<DynamoDBClient['send']>[0]): Promise<unknown> =>
    READ_COMMANDS.some((read) => command instanceof read) ? client.send(command) : Promise.reject(refusal(command, table));
  return new Proxy(client, {
    get(target, property) {
      if (property === 'send') return send;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function refusal(command: object, table: string): StorageError {
  const request = command.constructor.name.replace(/Command$/, '');
  return new StorageError(
    `Could not write to DynamoDB table ${JSON.stringify(table)} (${request}): the DynamoDB store is open read-only (for inspection); open it without readOnly to write.`,
  );
}
