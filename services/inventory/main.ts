import { runMain } from "../../lib/runtime/index.js";
import { readInventoryConfig, start } from "./service.js";

await runMain(() => start(readInventoryConfig()));
