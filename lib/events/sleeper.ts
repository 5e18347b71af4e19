/**
 * A sleep that can be cut short: `wake()` ends the current (or next) idle sleep early, for
 * "work arrived" signals; `cancel()` ends every sleep for good, for shutdown. Back-off sleeps
 * pass `wakeable: false` so a burst of work signals cannot turn a back-off into a busy loop.
 */
export class Sleeper {
  private woken = false;
  private cancelled = false;
  private current?: { resolve: () => void; timer: NodeJS.Timeout; wakeable: boolean };

  sleep(ms: number, { wakeable = true }: { wakeable?: boolean } = {}): Promise<void> {
    if (this.cancelled) return Promise.resolve();
    if (wakeable && this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(), ms);
      this.current = { resolve, timer, wakeable };
    });
  }

  wake(): void {
    if (this.current?.wakeable) this.finish();
    else this.woken = true;
  }

  cancel(): void {
    this.cancelled = true;
    this.finish();
  }

  private finish(): void {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    clearTimeout(current.timer);
    if (current.wakeable) this.woken = false;
    current.resolve();
  }
}
