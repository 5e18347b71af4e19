export * from "./propagation.js";
export * from "./setup.js";
export * from "./order-trace.js";
export * from "./span-failure.js";
