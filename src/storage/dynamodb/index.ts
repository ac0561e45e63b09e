/**
 * `quest-ts/dynamodb`: the DynamoDB store (`@aws-sdk/client-dynamodb`, an optional peer dependency). See {@link DynamoStore}.
 *
 * @example
 * import { DynamoStore } from 'quest-ts/dynamodb';
 * const store = await DynamoStore.open({ table: 'quest' });
 */
export { DynamoStore, type DynamoStoreOptions } from './store.js';
export type { AwsConnectionOptions, AwsCredentials } from '../aws-options.js';
