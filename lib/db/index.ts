export * from "./database.js";
export * from "./connection-errors.js";
export * from "./probe.js";
