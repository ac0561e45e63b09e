/** Bounded memories of the manager: what it deleted or finished lately, and the entries of recent outcomes. */

/** A bounded map: the oldest key leaves when a new one comes in beyond `capacity`. */
export class RecentMap<V> {
  private readonly items = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  set(id: string, value: V): void {
    this.items.delete(id);
    this.items.set(id, value);
    if (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as string);
  }

  get(id: string): V | undefined {
    return this.items.get(id);
  }

  has(id: string): boolean {
    return this.items.has(id);
  }

  delete(id: string): void {
    this.items.delete(id);
  }
}

/** A bounded set of ids: the oldest leaves when a new one comes in beyond `capacity`. */
export class RecentIds extends RecentMap<true> {
  add(id: string): void {
    this.set(id, true);
  }
}
