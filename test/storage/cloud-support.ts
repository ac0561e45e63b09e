/**
 * Helpers of the S3 and DynamoDB tests: the local servers (cloud-servers.ts) started once per test file and
 * stopped after it, and names so that every test uses its own key prefix or table.
 */
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';

export { LOCAL_CREDENTIALS, TEST_BUCKET } from './cloud-locations.js';
export { startDynamo, startS3, type LocalDynamo, type LocalS3 } from './cloud-servers.js';

/** A server started now and stopped after the test file (registered at the top level of the importing file). */
export async function serverForFile<T extends { stop(): Promise<void> }>(start: () => Promise<T>): Promise<T> {
  const server = await start();
  after(() => server.stop());
  return server;
}

/** A name no other test uses: a key prefix or a table name. */
export function freshName(label: string): string {
  return `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
