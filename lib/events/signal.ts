/**
 * Wakes every waiter at once: workers sleeping until work arrives, or until room frees up.
 * Unlike `Sleeper` (one sleeper, used for back-off), any number may wait; a notify with no
 * waiter is not remembered, so check the condition before waiting.
 */
export class Signal {
  private waiters = new Set<() => void>();
  private closed = false;

  /** Resolves on the next `notify()`, on `close()`, or after `ms`, whichever comes first. */
  wait(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  notify(): void {
    for (const done of [...this.waiters]) done();
  }

  /** Wakes everyone now and every later `wait()` at once. */
  close(): void {
    this.closed = true;
    this.notify();
  }
}
