import { runMain } from "../../lib/runtime/index.js";
import { readAnalyticsConfig, start } from "./service.js";

await runMain(() => start(readAnalyticsConfig()));
