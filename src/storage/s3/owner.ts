/**
 * The owner of an S3Store (StoreOwnership): one object, `owner.json` under the store's prefix, written with
 * conditions: created with `If-None-Match: *`, taken over with `If-Match` on the ETag of the gone owner's
 * object that was read. On AWS S3, of several processes taking over at once exactly one condition holds. On a
 * server that ignores the headers (s3rver; see S3Store.conditionalWrites), only the callers of one store
 * object are kept apart (calls are serialized), not processes.
 */
import { SerialQueue } from '../files/fs.js';
import { isStoreOwner, ownerIsGone, storeOwnedError } from '../owner.js';
import type { StoreOwner } from '../store.js';
import type { Bucket } from './objects.js';

/** Ownership of one S3Store. */
export class S3Ownership {
  private readonly queue = new SerialQueue();
  /** The owner id this store holds, if any. */
  private held: string | undefined;

  constructor(
    private readonly bucket: Bucket,
    /** The owner object's key. */
    private readonly key: string,
  ) {}

  acquire(owner: StoreOwner): Promise<void> {
    return this.queue.run(async () => {
      const read = await this.read();
      const current = read?.owner;
      if (current !== undefined && current.id !== owner.id && !ownerIsGone(current)) throw this.ownedBy(current);
      if (current?.id === owner.id) {
        this.held = owner.id;
        return;
      }
      const body = JSON.stringify(owner);
      const written = read === undefined || read.etag === undefined ? await this.bucket.create(this.key, body) : await this.bucket.replace(this.key, body, read.etag);
      if (!written) throw this.ownedBy((await this.read())?.owner ?? current ?? owner);
      this.held = owner.id;
    });
  }

  release(): Promise<void> {
    return this.queue.run(async () => {
      const held = this.held;
      if (held === undefined) return;
      // Only while it is still ours: a process that thought us gone may have taken over.
      if ((await this.read())?.owner?.id === held) await this.bucket.delete(this.key);
      this.held = undefined;
    });
  }

  async current(): Promise<StoreOwner | undefined> {
    return (await this.read())?.owner;
  }

  /** The owner object (its owner undefined when it is damaged: it names nobody), or undefined when absent. */
  private async read(): Promise<{ owner: StoreOwner | undefined; etag: string | undefined } | undefined> {
    const object = await this.bucket.getTagged(this.key);
    if (object === undefined) return undefined;
    let owner: unknown;
    try {
      owner = JSON.parse(Buffer.from(object.bytes).toString('utf8'));
    } catch {
      owner = undefined;
    }
    return { owner: isStoreOwner(owner) ? owner : undefined, etag: object.etag };
  }

  private ownedBy(owner: StoreOwner): Error {
    return storeOwnedError(`S3 bucket ${this.bucket.name} (${this.key})`, owner, `delete the object ${this.key}`);
  }
}
