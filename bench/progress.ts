/**
 * A progress line once a second: rewritten in place (\r) on a terminal, one plain line per
 * tick otherwise (CI logs, pipes).
 */
export class Progress {
  private timer?: NodeJS.Timeout;
  private width = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly line: (elapsedS: number) => string,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  start(intervalMs = 1_000): this {
    this.timer = setInterval(() => this.print(), intervalMs);
    this.timer.unref();
    return this;
  }

  /** Prints the line once more and ends it. */
  stop(): void {
    clearInterval(this.timer);
    this.print();
    if (this.tty) this.out.write("\n");
  }

  private print(): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const text = `[${this.label}] ${elapsed.toFixed(0).padStart(3)}s ${this.line(elapsed)}`;
    if (this.tty) {
      this.out.write(`\r${text.padEnd(this.width)}`);
      this.width = text.length;
    } else {
      this.out.write(`${text}\n`);
    }
  }
}

/** Counts events per second over a sliding window of whole seconds (for "current rate"). */
export class RateMeter {
  private readonly buckets = new Map<number, number>();

  mark(now = Date.now()): void {
    const second = Math.floor(now / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + 1);
    if (this.buckets.size > 10) this.buckets.delete(Math.min(...this.buckets.keys()));
  }

  /** Events in the last complete second. */
  rate(now = Date.now()): number {
    return this.buckets.get(Math.floor(now / 1000) - 1) ?? 0;
  }
}
