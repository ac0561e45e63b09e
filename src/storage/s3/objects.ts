/** The few S3 requests an S3Store makes, with what it needs of each answer. */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StorageError } from '../../core/errors.js';
import { awsErrorName, awsErrorStatus } from '../aws-options.js';

/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;

/** One bucket through one client; `readOnly`, every write is refused (StorageError) before any request. */
export class Bucket {
  constructor(
    private readonly client: S3Client,
    /** The bucket's name. */
    readonly name: string,
    private readonly readOnly = false,
  ) {}

  /** The object's bytes, or undefined when there is no such key. */
  async get(key: string): Promise<Uint8Array | undefined> {
    return (await this.getTagged(key))?.bytes;
  }

  /** The object's bytes and ETag, or undefined when there is no such key. */
  async getTagged(key: string): Promise<{ bytes: Uint8Array; etag: string | undefined } | undefined> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
      return { bytes: (await answer.Body?.transformToByteArray()) ?? new Uint8Array(), etag: answer.ETag };
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchKey' || awsErrorStatus(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Replace an object only while it is the version read (`If-Match: <etag>`): false when it changed since
   * (HTTP 412). A server that ignores the header (s3rver) replaces it and answers true.
   */
  async replace(key: string, body: Uint8Array | string, etag: string): Promise<boolean> {
    this.checkWritable(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, IfMatch: etag }));
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /** Write an object (replacing one with the same key). */
  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.checkWritable(key);
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body }));
  }

  /**
   * Create an object that must not exist yet (`If-None-Match: *`): false when the server says it does (HTTP
   * 412; 409 when another request creates it at the same moment). A server that ignores the header (s3rver)
   * replaces the object and answers true.
   */
  async create(key: string, body: Uint8Array | string): Promise<boolean> {
    this.checkWritable(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, IfNoneMatch: '*' }));
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /** Every key under `prefix`, in key order (page after page). */
  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    this.checkWritable(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
  }

  private checkWritable(key: string): void {
    if (this.readOnly) throw readOnlyError(this.name, key);
  }

  /** Delete `keys`, 1,000 per request (absent keys count as deleted). */
  async deleteMany(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) this.checkWritable(keys[0] as string);
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const answer = await this.client.send(new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true } }));
      const failed = answer.Errors ?? [];
      if (failed.length > 0) throw new StorageError(`S3 did not delete ${failed.length} object(s), first ${failed[0]?.Key}: ${failed[0]?.Message}`);
    }
  }
}

/** The error of a write to a bucket open read-only. */
function readOnlyError(bucket: string, key: string): StorageError {
  return new StorageError(`Could not write ${key} in bucket ${JSON.stringify(bucket)}: the S3 store is open read-only (for inspection); open it without readOnly to write.`);
}

/** A refused condition: 412 (the precondition failed) or 409 (a concurrent conditional write won). */
function isConflict(error: unknown): boolean {
  const status = awsErrorStatus(error);
  return status === 412 || status === 409 || awsErrorName(error) === 'PreconditionFailed';
}
