/**
 * Group commit: callers hand in items one at a time, and every item that arrives while a write
 * is under way (or in the same turn of the event loop) goes into the next write, together. Under load that is one transaction (and one
 * commit flush) for many items; alone, an item is written at once, without waiting for others.
 */
export class GroupWriter<Item, Result> {
  private pending: { item: Item; resolve(result: Result): void; reject(error: unknown): void }[] = [];
  private writing = false;

  /** `write` gets a group and answers one result per item, in order; if it throws, every item of the group fails with that error. */
  constructor(private readonly write: (items: readonly Item[]) => Promise<Result[]>) {}

  /** Resolves with the item's result once the group it went into is written. */
  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.writing) return;
      this.writing = true;
      // One turn of the event loop first: items finishing in the same turn share the write.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        try {
          const results = await this.write(group.map((entry) => entry.item));
          if (results.length !== group.length) throw new Error(`GroupWriter: ${results.length} results for ${group.length} items`);
          group.forEach((entry, i) => entry.resolve(results[i]));
        } catch (error) {
          for (const entry of group) entry.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
