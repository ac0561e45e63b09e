/**
 * What the S3 and DynamoDB stores share: every call goes through `request` (refused once closing, failures
 * wrapped as StorageError naming what was asked), ownership and history records are delegated to their
 * backend's objects, and `close()` waits for the writes in flight, releases ownership, then destroys the
 * client the store made.
 */
import type { HistoryChange } from '../core/history.js';
import type { HistoryRecord } from '../core/records.js';
import { StorageError } from '../core/errors.js';
import type { StoreOwner, StoreOwnership } from './store.js';
import type { RecordStore } from './record-history.js';
import { storageError } from './storage-error.js';

/** A cloud store's histories (S3Histories, DynamoHistories). */
export interface CloudHistories {
  load(workflowId: string): Promise<readonly HistoryRecord[]>;
  commit(workflowId: string, change: HistoryChange): Promise<void>;
  clear(workflowId: string): Promise<void>;
  /** Resolves once the writes in flight are done. */
  idle(): Promise<void>;
}

/** A cloud store's owner record (S3Ownership, DynamoOwnership). */
export interface CloudOwnership {
  acquire(owner: StoreOwner): Promise<void>;
  release(): Promise<void>;
  current(): Promise<StoreOwner | undefined>;
}

/**
 * The base of S3Store and DynamoStore.
 *
 * @example
 * class S3Store extends CloudStore { ... super(`S3 store (bucket "quest")`, ownsClient ? client : undefined) }
 */
export abstract class CloudStore implements StoreOwnership, RecordStore {
  private closing: Promise<void> | undefined;
  protected abstract readonly histories: CloudHistories;
  protected abstract readonly ownership: CloudOwnership;

  /**
   * `description`: the store in messages ("S3 store (bucket "quest")"); `ownedClient`: the client the store
   * made, destroyed by close() (undefined for a client of the caller's, left open).
   */
  protected constructor(private readonly description: string, private readonly ownedClient: { destroy(): void } | undefined) {}

  acquireOwnership(owner: StoreOwner): Promise<void> {
    return this.request('take ownership of the store', () => this.ownership.acquire(owner));
  }

  releaseOwnership(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    return this.request('release ownership of the store', () => this.ownership.release());
  }

  currentOwner(): Promise<StoreOwner | undefined> {
    return this.request('read the owner of the store', () => this.ownership.current());
  }

  /**
   * Wait for the writes in flight, release ownership, then close the client the store made. Later calls fail
   * with StorageError; closing twice is fine.
   */
  close(): Promise<void> {
    this.closing ??= this.histories.idle()
      .then(() => this.ownership.release())
      .then(() => this.closedCleanly())
      .catch((error: unknown) => {
        throw storageError(`close the ${this.description}`, error);
      })
      .finally(() => this.ownedClient?.destroy());
    return this.closing;
  }

  /** @internal See CloudHistories.load. */
  loadRecords(workflowId: string): Promise<readonly HistoryRecord[]> {
    return this.request(`read the history of workflow ${JSON.stringify(workflowId)}`, () => this.histories.load(workflowId));
  }

  /** @internal See CloudHistories.commit. */
  commitRecords(workflowId: string, change: HistoryChange): Promise<void> {
    return this.request(`write the history of workflow ${JSON.stringify(workflowId)}`, () => this.histories.commit(workflowId, change));
  }

  /** @internal See CloudHistories.clear. */
  clearRecords(workflowId: string): Promise<void> {
    return this.request(`clear the history of workflow ${JSON.stringify(workflowId)}`, () => this.histories.clear(workflowId));
  }

  /** The last step of close(), once ownership is released (nothing by default). */
  protected closedCleanly(): Promise<void> {
    return Promise.resolve();
  }

  /** Run `call` unless the store is closing; its failure becomes a StorageError saying `what` failed. */
  protected async request<T>(what: string, call: () => Promise<T>): Promise<T> {
    this.checkOpen();
    try {
      return await call();
    } catch (error) {
      throw storageError(what, error);
    }
  }

  protected checkOpen(): void {
    if (this.closing !== undefined) throw new StorageError(`The ${this.description} is closed.`);
  }
}
