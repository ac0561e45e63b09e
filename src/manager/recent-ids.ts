/** A bounded set of ids, for the manager's memory of what it deleted or finished lately. */

/** A bounded set of ids: the oldest leaves when a new one comes in beyond `capacity`. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
