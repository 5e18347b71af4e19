import type { Logger } from "../log.js";
import { startPeriodic } from "./periodic.js";

/** One thing a service cannot serve without (its database, NATS), and a cheap way to ask it. */
export interface DependencyCheck {
  readonly name: string;
  /** Resolves if the dependency answers; rejects (or does not settle in time) if not. */
  check(): Promise<void>;
}

export interface DependencyWatch {
  /** Names of the dependencies whose last check failed. */
  readonly failing: readonly string[];
  stop(): Promise<void>;
}

/**
 * Checks every dependency each `intervalMs` (in the background, never per request), each within
 * `timeoutMs`, and calls `onChange` with the failing ones whenever that set changes. The first
 * round runs at once. Services turn this into NOT_SERVING on grpc.health.v1 and /healthz, so a
 * load balancer stops sending calls that could only fail, and back to SERVING when it recovers.
 */
export function watchDependencies(
  checks: readonly DependencyCheck[],
  options: { intervalMs: number; timeoutMs?: number; logger: Logger; onChange(failing: readonly string[]): void },
): DependencyWatch {
  const timeoutMs = options.timeoutMs ?? Math.max(500, Math.min(options.intervalMs, 3_000));
  let failing: readonly string[] = [];
  const round = async () => {
    const results = await Promise.all(checks.map(async (dependency) => ({ name: dependency.name, error: await within(dependency.check(), timeoutMs) })));
    const now = results.filter((r) => r.error !== undefined);
    const names = now.map((r) => r.name);
    if (names.join() === failing.join()) return;
    for (const r of now)
      if (!failing.includes(r.name)) options.logger.warn({ dependency: r.name, err: r.error }, "dependency unreachable: reporting NOT_SERVING");
    for (const name of failing) if (!names.includes(name)) options.logger.info({ dependency: name }, "dependency reachable again");
    failing = names;
    options.onChange(failing);
  };
  const first = round().catch((error: unknown) => options.logger.error({ err: error }, "dependency check failed"));
  const worker = startPeriodic("dependency-watch", options.intervalMs, round, options.logger);
  return {
    get failing() {
      return failing;
    },
    async stop() {
      await first;
      await worker.stop();
    },
  };
}

/** undefined if `promise` resolves within `ms`, else the reason it did not. */
async function within(promise: Promise<void>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => undefined,
        (error: unknown) => error ?? new Error("failed"),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
