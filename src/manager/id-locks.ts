/**
 * One-at-a-time execution per workflow id: start, cancel and delete of the same id never interleave (two
 * concurrent starts of one id must not both find it free), while different ids proceed in parallel.
 */

/**
 * Serializes operations per key.
 *
 * @example
 * const locks = new IdLocks();
 * await locks.run('order-1', async () => { ... });   // waits for earlier operations on 'order-1'
 */
export class IdLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Run `operation` after every earlier operation on `id` has ended; its result or error is passed through.
   * When the id is free, `operation` starts at once (its synchronous part runs before this returns).
   */
  run<T>(id: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id);
    // The common case (the id is free) costs two promises: the operation's and the tail's.
    const result = previous === undefined ? callOperation(operation) : previous.then(operation);
    const release = (): void => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    };
    const tail: Promise<void> = result.then(release, release);
    this.tails.set(id, tail);
    return result;
  }

  /**
   * Resolves once no operation on `id` is running or queued (as of this call); undefined when none is, so
   * that a caller need not await anything (`const busy = locks.idle(id); if (busy) await busy;`).
   */
  idle(id: string): Promise<void> | undefined {
    return this.tails.get(id);
  }

  /** Resolves once every operation running or queued now has ended. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}

/** `operation()`, a synchronous throw turned into a rejection. */
function callOperation<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}
