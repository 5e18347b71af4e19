import { ConfigError } from "../config.js";
import type { RunningService } from "./start-service.js";

/**
 * The body of every `services/<name>/main.ts`: starts the service, stops it on SIGINT/SIGTERM,
 * and exits 1 with a readable message when the configuration is wrong or start fails.
 */
export async function runMain(start: () => Promise<RunningService>): Promise<void> {
  let service: RunningService;
  try {
    service = await start();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    service.logger.info({ signal }, "shutting down");
    service.stop().then(
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
