import { ConfigError } from "../lib/config.js";
import { readGatewayConfig } from "./config.js";
import { start } from "./server.js";

// The gateway process: config from the environment, start, stop on SIGINT/SIGTERM.
let gateway: Awaited<ReturnType<typeof start>>;
try {
  gateway = await start(readGatewayConfig());
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
// Every request path catches its own errors; this is the net under the net, so that a missed
// rejection is logged instead of taking every other request down with the process.
process.on("unhandledRejection", (reason) => gateway.logger.error({ err: reason }, "unhandled rejection"));
const shutdown = (signal: string) => {
  gateway.logger.info({ signal }, "shutting down");
  gateway.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once("SIGINT", () => shutdown("SIGINT"));
process.once("SIGTERM", () => shutdown("SIGTERM"));
