import { ConfigError } from "../config.js";
import { shutdownTelemetry } from "../telemetry/index.js";
import type { Logger } from "../log.js";

/** A started process: something that logs and can be stopped. */
export interface StoppableProcess {
  readonly logger: Logger;
  stop(): Promise<void>;
}

/**
 * The body of every process's `main.ts` (services and gateway): starts it, stops it on
 * SIGINT/SIGTERM, and exits 1 with a readable message when the configuration is wrong or the
 * start fails.
 */
export async function runMain(start: () => Promise<StoppableProcess>): Promise<void> {
  let running: StoppableProcess;
  try {
    running = await start();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  // Every handler catches its own errors; this is the net under the net, so that a missed
  // rejection is logged instead of taking every other request down with the process.
  process.on("unhandledRejection", (reason) => running.logger.error({ err: reason }, "unhandled rejection"));
  const shutdown = (signal: string) => {
    running.logger.info({ signal }, "shutting down");
    // The batch span processor still holds the last spans (the drain's among them): flush them.
    const stopped = running.stop().then(() => shutdownTelemetry());
    stopped.then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
}
