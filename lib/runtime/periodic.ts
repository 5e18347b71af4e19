import type { Logger } from "../log.js";
import type { Worker } from "./start-service.js";

/**
 * Runs `task` every `intervalMs` (measured from the end of the previous run, so runs never
 * overlap) until stopped; a failing run is logged and the next one still comes. `stop()` waits
 * for a run in progress. For sweepers that several replicas may run at once (their queries use
 * SKIP LOCKED or are idempotent).
 */
export function startPeriodic(name: string, intervalMs: number, task: () => Promise<void>, logger: Logger): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function tick(): Promise<void> {
    try {
      await task();
    } catch (error) {
      logger.error({ err: error, worker: name }, "periodic task failed");
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), intervalMs);
  }

  timer = setTimeout(() => (running = tick()), intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
