import { runMain } from "../../lib/runtime/index.js";
import { readPaymentConfig, start } from "./service.js";

await runMain(() => start(readPaymentConfig()));
