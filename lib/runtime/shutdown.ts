import type { Logger } from "../log.js";

/** Something to close on shutdown; `name` says what failed in the log line of a failure. */
export interface Closer {
  readonly name: string;
  close(): unknown;
}

/**
 * Closes what a process opened: phase by phase in the order the phases were declared, and
 * within a phase the last added first (what was opened later may use what was opened before).
 * Each closer runs once. One that throws or rejects is logged and the others still run, so a
 * failing client never leaves a database connection open. `close()` may be called any number
 * of times, from a failed start and from stop alike: every call returns the same promise.
 */
export class Shutdown<Phase extends string> {
  readonly #phases = new Map<Phase, Closer[]>();
  #closing: Promise<void> | undefined;

  constructor(
    phases: readonly Phase[],
    private readonly logger: Logger,
  ) {
    for (const phase of phases) this.#phases.set(phase, []);
  }

  /** Registers `closer` in `phase`. After `close()` began it is closed at once instead. */
  add(phase: Phase, closer: Closer): void {
    const list = this.#phases.get(phase);
    if (!list) throw new Error(`unknown shutdown phase "${phase}"`);
    if (this.#closing) void this.#run(closer);
    else list.push(closer);
  }

  /** Closes everything registered; resolves when all closers settled, never rejects. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const list of this.#phases.values()) {
        for (const closer of list.splice(0).reverse()) await this.#run(closer);
      }
    })();
    return this.#closing;
  }

  async #run(closer: Closer): Promise<void> {
    try {
      await closer.close();
    } catch (error) {
      this.logger.error({ err: error, closing: closer.name }, "error while stopping");
    }
  }
}
