/** A promise with its resolve and reject functions, for waits that Quest itself settles. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function createDeferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Quest rejects its own waits when a run stops, sometimes before anyone awaits them: that is never an
  // unhandled rejection. Awaiters still receive the error.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Resolves after every pending microtask (and I/O callback queued before it) has run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
