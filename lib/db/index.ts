export * from "./database.js";
export * from "./sql.js";
export { afterCommit } from "./after-commit.js";
