import { runMain } from "../../lib/runtime/index.js";
import { readDeliveryConfig, start } from "./service.js";

await runMain(() => start(readDeliveryConfig()));
