/**
 * Jest 30 in native ESM mode; TypeScript compiled by @swc/jest (types are checked by `npm run typecheck`).
 *
 * Two projects: `unit` (every *.test.ts that is not *.int.test.ts: no Postgres, NATS or S3, runs
 * in seconds) and `integration` (*.int.test.ts, against the infrastructure its global setup
 * starts once per run). Jest runs a project's global setup only when one of its tests is
 * selected, so `npm run test:unit` never starts infrastructure. `npm test` runs both.
 */
const shared = {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "es6" } }],
  },
  // Sources import with `.js` suffixes (NodeNext); jest resolves the `.ts` file behind them.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testPathIgnorePatterns: ["/node_modules/", "/.data/", "/dist/"],
  cacheDirectory: "<rootDir>/.jest-cache",
};

export default {
  projects: [
    {
      ...shared,
      displayName: "unit",
      testMatch: ["<rootDir>/**/*.test.ts"],
      testPathIgnorePatterns: [...shared.testPathIgnorePatterns, "\\.int\\.test\\.ts$"],
    },
    {
      ...shared,
      displayName: "integration",
      testMatch: ["<rootDir>/**/*.int.test.ts"],
      globalSetup: "<rootDir>/test/harness/global-setup.mjs",
      globalTeardown: "<rootDir>/test/harness/global-teardown.mjs",
    },
  ],
  // Two cores: two workers, recycled when ESM module leaks push them past 512 MB.
  maxWorkers: 2,
  workerIdleMemoryLimit: "512MB",
  testTimeout: 30_000,
  // Line coverage over the code that ships (`npm run test:coverage`, and `npm test` through it).
  coverageProvider: "v8",
  collectCoverageFrom: ["lib/**/*.ts", "services/**/*.ts", "gateway/**/*.ts", "!**/*.test.ts", "!**/testing/**", "!**/test-support.ts"],
  coverageReporters: ["text-summary", "json-summary"],
  coverageThreshold: { global: { lines: 80 } },
};
