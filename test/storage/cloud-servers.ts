/**
 * The local protocol servers of the S3 and DynamoDB tests and benchmark, from npm packages: s3rver (S3 over
 * HTTP, objects in a temp directory) and dynalite (DynamoDB over HTTP, in memory), each on 127.0.0.1 on an
 * ephemeral port. No test-runner imports: bench/cloud.ts starts them too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import S3rver from 's3rver';
import dynalite from 'dynalite';
import { TEST_BUCKET } from './cloud-locations.js';

/** A running local S3. */
export interface LocalS3 {
  endpoint: string;
  stop(): Promise<void>;
}

/** A running local DynamoDB. */
export interface LocalDynamo {
  endpoint: string;
  stop(): Promise<void>;
}

/** Start s3rver on 127.0.0.1 (ephemeral port) with {@link TEST_BUCKET}, keeping its objects in a temp directory. */
export async function startS3(): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'quest-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: TEST_BUCKET }] });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Start dynalite in memory on 127.0.0.1 (ephemeral port); tables are created at once. */
export async function startDynamo(): Promise<LocalDynamo> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

