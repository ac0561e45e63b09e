/** Bounded memories of the manager: what it deleted or finished lately, and the entries of recent outcomes. */

/**
 * A bounded map that keeps at least the `capacity` keys set last, and at most twice that many: keys go in
 * generations of `capacity`, and the generation before the last is dropped whole when a new one begins.
 *
 * Why not one Map that deletes its oldest key at each insertion beyond capacity: V8 leaves a deleted entry as a
 * hole until the table is rebuilt, so `keys().next()` walks every hole left at the front, thousands of them in
 * steady state (10 µs per insertion at a capacity of 10,000: the cost of a whole short workflow).
 */
export class RecentMap<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  set(id: string, value: V): void {
    this.previous.delete(id);
    this.current.set(id, value);
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  get(id: string): V | undefined {
    return this.current.get(id) ?? this.previous.get(id);
  }

  has(id: string): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  delete(id: string): void {
    this.current.delete(id);
    this.previous.delete(id);
  }
}

/** A bounded set of ids (at least the `capacity` added last, at most twice that many). */
export class RecentIds extends RecentMap<true> {
  add(id: string): void {
    this.set(id, true);
  }
}
