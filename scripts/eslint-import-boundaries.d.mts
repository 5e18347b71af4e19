import type { ESLint } from "eslint";

/** The house ESLint plugin: `import-boundaries` (see the .mjs). */
declare const plugin: ESLint.Plugin;
export default plugin;
