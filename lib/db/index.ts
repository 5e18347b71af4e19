export * from "./database.js";
export { afterCommit } from "./after-commit.js";
