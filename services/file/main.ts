import { runMain } from "../../lib/runtime/index.js";
import { readFileConfig, start } from "./service.js";

await runMain(() => start(readFileConfig()));
