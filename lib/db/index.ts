export * from "./database.js";
export * from "./sql.js";
export { afterCommit } from "./after-commit.js";
export * from "./connection-errors.js";
export * from "./probe.js";
