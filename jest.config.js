/** Jest 30 in native ESM mode; TypeScript compiled by @swc/jest (types are checked by `npm run typecheck`). */
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "es6" } },
    ],
  },
  // Sources import with `.js` suffixes (NodeNext); jest resolves the `.ts` file behind them.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testMatch: ["<rootDir>/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/.data/", "/dist/"],
  globalSetup: "<rootDir>/test/harness/global-setup.mjs",
  globalTeardown: "<rootDir>/test/harness/global-teardown.mjs",
  // Two cores: two workers, recycled when ESM module leaks push them past 512 MB.
  maxWorkers: 2,
  workerIdleMemoryLimit: "512MB",
  cacheDirectory: "<rootDir>/.jest-cache",
  testTimeout: 30_000,
};
