import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The web app: Preact through Vite's own JSX transform (no framework plugin needed), built to
 * web/dist, which the gateway serves at `/`. `npm run dev:web` serves it with hot reload and
 * proxies the API to a running gateway (GATEWAY_URL, default http://127.0.0.1:8080).
 */
const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // protobuf-es needs BigInt; every browser with Connect streaming (fetch streams) has it.
    target: "es2022",
    // Modern browsers preload modules natively; the polyfill would be one more script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      "/api": gateway,
      "/health": gateway,
      "^/shop\\.": gateway,
    },
  },
});
