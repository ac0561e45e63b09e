/**
 * How the tests name a cloud store to another process (the crash test's child): `<endpoint>#<prefix or table>`,
 * with the credentials and bucket the local servers take. No test-runner imports: the child is no test file.
 */
import type { Store } from '../../src/storage/store.js';
import { S3Store } from '../../src/storage/s3/index.js';
import { DynamoStore } from '../../src/storage/dynamodb/index.js';

/** The credentials s3rver accepts (its defaults); dynalite accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** The bucket every S3 test writes to (each test under its own prefix). */
export const TEST_BUCKET = 'quest-test';

/** `<endpoint>#<name>`. */
export function cloudLocation(endpoint: string, name: string): string {
  return `${endpoint}#${name}`;
}

/** Open the store at a location made by {@link cloudLocation}: `s3` (name: the prefix) or `dynamodb` (name: the table). */
export function openCloudStore(backend: 's3' | 'dynamodb', location: string): Promise<Store> {
  const hash = location.indexOf('#');
  const [endpoint, name] = [location.slice(0, hash), location.slice(hash + 1)];
  if (backend === 's3') return S3Store.open({ bucket: TEST_BUCKET, prefix: name, endpoint, credentials: LOCAL_CREDENTIALS });
  return DynamoStore.open({ table: name, endpoint, credentials: LOCAL_CREDENTIALS, createTable: true });
}
