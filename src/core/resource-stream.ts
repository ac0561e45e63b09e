/**
 * Resource streams: for one identity, a fresh snapshot of the resources it can see each time one of them is
 * opened, acted on or closed. A stream follows one run of the workflow and ends when that run ends (it
 * finishes, fails or is suspended); see Historian.resourceStream for which run and the other ways it ends.
 */
import { createDeferred, type Deferred } from './deferred.js';
import type { Json } from './serializer.js';

/** One resource as an identity sees it. */
export interface ResourceInfo {
  name: string;
  /** `null` for public resources. */
  identity: string | null;
  /** 'queue', 'state', 'event' or 'identityQueue'. */
  kind: string;
  /** A JSON view of the resource's content (queue size and first items, state value, event flag). */
  view: Json;
}

/** What changed, and the resources visible to the stream's identity after the change. */
export interface ResourceSnapshot {
  change: 'initial' | 'open' | 'act' | 'close';
  /** The resource that changed (absent in the initial snapshot). */
  resource?: { name: string; identity: string | null };
  resources: ResourceInfo[];
}

/** A buffered async iterable of snapshots for one identity. */
export class ResourceStream implements AsyncIterableIterator<ResourceSnapshot> {
  private readonly buffer: ResourceSnapshot[] = [];
  private waiting: Deferred<IteratorResult<ResourceSnapshot>> | undefined;
  private ended = false;

  constructor(readonly identity: string | null, private readonly onClose: (stream: ResourceStream) => void) {}

  /** Deliver a snapshot (called by the historian). */
  push(snapshot: ResourceSnapshot): void {
    if (this.ended) return;
    if (this.waiting !== undefined) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting.resolve({ value: snapshot, done: false });
    } else {
      this.buffer.push(snapshot);
    }
  }

  /** End the stream: buffered snapshots are still delivered, then iteration ends. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose(this);
    this.waiting?.resolve({ value: undefined, done: true });
    this.waiting = undefined;
  }

  next(): Promise<IteratorResult<ResourceSnapshot>> {
    const next = this.buffer.shift();
    if (next !== undefined) return Promise.resolve({ value: next, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    this.waiting = createDeferred();
    return this.waiting.promise;
  }

  return(): Promise<IteratorResult<ResourceSnapshot>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
