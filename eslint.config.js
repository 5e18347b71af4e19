import js from "@eslint/js";
import tseslint from "typescript-eslint";
import house from "./scripts/eslint-import-boundaries.mjs";

export default tseslint.config(
  { ignores: ["gen/**", "node_modules/**", "dist/**", ".data/**", ".jest-cache/**", "coverage/**", "web/dist/**", "web/.build-*/**", ".artifacts/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", globalThis: "readonly" },
    },
    plugins: { house },
    rules: {
      "house/import-boundaries": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
    },
  },
  {
    files: ["scripts/**", "bench/**", "test/harness/**", "**/*.test.ts"],
    rules: { "no-console": "off" },
  },
);
