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

  /** Run `operation` after every earlier operation on `id` has ended; its result or error is passed through. */
  async run<T>(id: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tails.set(id, mine);
    try {
      // No await when the id is free (the common case): a promise and a turn fewer per start.
      if (previous !== undefined) await previous;
      return await operation();
    } finally {
      release();
      if (this.tails.get(id) === mine) this.tails.delete(id);
    }
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
