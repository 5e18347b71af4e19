import { runMain } from "../../lib/runtime/index.js";
import { readOrderConfig, start } from "./service.js";

await runMain(() => start(readOrderConfig()));
