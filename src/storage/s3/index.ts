/**
 * `quest-ts/s3`: the S3 store (`@aws-sdk/client-s3`, an optional peer dependency). See {@link S3Store}.
 *
 * @example
 * import { S3Store } from 'quest-ts/s3';
 * const store = await S3Store.open({ bucket: 'my-app', prefix: 'quest/' });
 */
export { S3Store, type S3StoreOptions } from './store.js';
export type { AwsConnectionOptions, AwsCredentials } from '../aws-options.js';
