import { runMain } from "../lib/runtime/main.js";
import { readGatewayConfig } from "./config.js";
import { start } from "./server.js";

// The gateway process: config from the environment, start, stop on SIGINT/SIGTERM.
await runMain(() => start(readGatewayConfig()));
