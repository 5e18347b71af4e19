import { runMain } from "../../lib/runtime/index.js";
import { readNotificationConfig, start } from "./service.js";

await runMain(() => start(readNotificationConfig()));
