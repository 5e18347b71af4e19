export * from "./propagation.js";
export * from "./setup.js";
