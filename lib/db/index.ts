export * from "./database.js";
export * from "./sql.js";
export { afterCommit, outermostTransaction } from "./after-commit.js";
export { beforeCommit } from "./before-commit.js";
export { CommitQueue } from "./commit-queue.js";
export * from "./connection-errors.js";
export * from "./probe.js";
export { runTransaction } from "./transaction.js";
