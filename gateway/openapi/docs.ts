import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import { type NodeRequest, type NodeResponse, sendJson } from "../rest/http.js";

/**
 * `/openapi.json` and the API reference at `/docs` (Swagger UI from the swagger-ui-dist
 * package, served from node_modules: no CDN, so it works offline and the CSP can stay
 * 'self'-only). Both are public: the document holds nothing a client could not learn anyway.
 */

const require = createRequire(import.meta.url);

/** The swagger-ui-dist directory; resolved once, lazily, so a gateway without it still starts. */
let distDir: string | undefined;
function dist(): string {
  distDir ??= dirname(require.resolve("swagger-ui-dist/package.json"));
  return distDir;
}

/** The only files served from the package, with their types (nothing else there is reachable). */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/**
 * Swagger UI runs with scripts only from the gateway itself; it sets inline styles, hence
 * 'unsafe-inline' for styles alone. Nothing may frame the page or post it anywhere.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": DOCS_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>ordermesh REST API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// An external file rather than an inline script, so the CSP needs no 'unsafe-inline' for scripts.
// validatorUrl null: no badge fetched from validator.swagger.io (the CSP would block it anyway).
const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: false, validatorUrl: null });\n`;

function send(res: NodeResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  (res as ServerResponse).writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": contentType,
    "content-length": String(Buffer.byteLength(body)),
    ...extra,
  });
  res.end(body);
}

/** True when `pathname` is one of the documentation paths. */
export function isDocsPath(pathname: string): boolean {
  return pathname === "/openapi.json" || pathname === "/docs" || pathname.startsWith("/docs/");
}

/**
 * Answers a documentation request (call only when {@link isDocsPath}). `document` is built
 * once at start-up from the route table.
 */
export async function serveDocs(req: NodeRequest, res: NodeResponse, pathname: string, document: JsonObject): Promise<void> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    sendJson(res, 405, { error: { code: "unimplemented", message: `use GET ${pathname}` } }, { allow: "GET, HEAD" });
    return;
  }
  if (pathname === "/openapi.json") {
    sendJson(res, 200, document, { "cache-control": "no-cache", "access-control-allow-origin": "*" });
    return;
  }
  if (pathname === "/docs" || pathname === "/docs/") {
    send(res, 200, "text/html; charset=utf-8", PAGE, { "cache-control": "no-cache" });
    return;
  }
  const name = pathname.slice("/docs/".length);
  if (name === "init.js") {
    send(res, 200, "text/javascript; charset=utf-8", INIT, { "cache-control": "no-cache" });
    return;
  }
  const type = ASSETS[name];
  if (!type) {
    sendJson(res, 404, { error: { code: "not_found", message: `no route for ${pathname.slice(0, 200)}` } });
    return;
  }
  const file = join(dist(), name);
  const { size } = await stat(file);
  (res as ServerResponse).writeHead(200, {
    ...SECURITY_HEADERS,
    "content-type": type,
    "content-length": String(size),
    "cache-control": "public, max-age=86400",
  });
  if (method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(file)
    .on("error", () => res.destroy())
    .pipe(res as ServerResponse);
}
