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
      await previous;
      return await operation();
    } finally {
      release();
      if (this.tails.get(id) === mine) this.tails.delete(id);
    }
  }

  /** Resolves once no operation on `id` is running or queued (as of this call). */
  async idle(id: string): Promise<void> {
    await this.tails.get(id);
  }

  /** Resolves once every operation running or queued now has ended. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
