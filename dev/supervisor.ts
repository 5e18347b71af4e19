import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** What a supervisor reports about its child besides log lines. */
export type SupervisorEvent =
  | { kind: "exited"; name: string; code: number | null; signal: NodeJS.Signals | null; restartInMs: number; restarts: number }
  | { kind: "restarted"; name: string; restarts: number };

export interface SupervisorOptions {
  name: string;
  /** Spawns the child (stdout and stderr piped). */
  spawn(): ChildProcess;
  /** Restart the child when it exits on its own (default false: it stays down). */
  restart?: boolean;
  /** First restart delay, doubled after each further crash up to maxBackoffMs (default 1 s, 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that ran this long before it died starts the backoff over (default 60 s). */
  healthyAfterMs?: number;
  onLine?(line: string): void;
  onEvent?(event: SupervisorEvent): void;
}

/**
 * One child process, optionally restarted with exponential backoff when it dies on its own (a
 * crash, an OOM kill, a SIGKILL from outside). Stops asked for through `terminate()` are never
 * followed by a restart.
 */
export class Supervisor {
  #child?: ChildProcess;
  #exited: Promise<number | null> = Promise.resolve(null);
  #startedAt = 0;
  #restarts = 0;
  #crashesInARow = 0;
  #timer?: NodeJS.Timeout;
  /** True between terminate() and the next start(): exits are expected. */
  #held = true;

  constructor(private readonly options: SupervisorOptions) {}

  /** The current child's exit (code, or null when killed by a signal). */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  get running(): boolean {
    const child = this.#child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** Starts the child (again) and re-enables restarts. */
  start(): void {
    clearTimeout(this.#timer);
    this.#held = false;
    this.#launch();
  }

  /** Sends `signal`, then SIGKILL after `graceMs`; resolves once the child has exited. No restart follows. */
  async terminate(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    this.#held = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #launch(): void {
    const child = this.options.spawn();
    this.#child = child;
    this.#startedAt = Date.now();
    this.#exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        resolve(code);
        this.#onExit(child, code, signal);
      }),
    );
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.options.onLine?.(line));
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.#child || this.#held || !this.options.restart) return;
    const ranMs = Date.now() - this.#startedAt;
    this.#crashesInARow = ranMs >= (this.options.healthyAfterMs ?? 60_000) ? 1 : this.#crashesInARow + 1;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, (this.options.initialBackoffMs ?? 1_000) * 2 ** (this.#crashesInARow - 1));
    this.options.onEvent?.({ kind: "exited", name: this.options.name, code, signal, restartInMs: delay, restarts: this.#restarts });
    this.#timer = setTimeout(() => {
      if (this.#held) return;
      this.#restarts++;
      this.#launch();
      this.options.onEvent?.({ kind: "restarted", name: this.options.name, restarts: this.#restarts });
    }, delay);
  }
}
