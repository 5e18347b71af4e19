import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import type { ServerResponse } from "node:http";
import type { NodeRequest, NodeResponse } from "./rest/http.js";

/**
 * The web app (web/, built by `npm run build:web`) as the gateway serves it at `/`.
 *
 * The build is small, so it is read into memory once at start, with gzip and brotli variants.
 * Vite puts content-hashed files under `assets/`: they are immutable for a year. Everything
 * else (index.html first of all) is `no-cache` with an ETag, so a new build shows up on the next
 * load. Every answer carries a strict Content-Security-Policy: scripts, styles and API calls
 * only from this origin, no inline code, no framing.
 */

/** Where `npm run build:web` writes the app, relative to this file. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../web/dist", import.meta.url));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json)|image\/svg\+xml)/;
/** A build this large is not the web app; refuse it rather than hold it all in memory. */
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The built web app in memory; `handles` says which paths are its files. */
export class StaticSite {
  readonly #assets: Map<string, Asset>;

  private constructor(assets: Map<string, Asset>) {
    this.#assets = assets;
  }

  /**
   * Reads the build in `dir`. Undefined when there is no build (no index.html): the gateway
   * then answers `/` with a 404 that says how to build it.
   */
  static load(dir: string): StaticSite | undefined {
    try {
      if (!statSync(join(dir, "index.html")).isFile()) return undefined;
    } catch {
      return undefined;
    }
    const assets = new Map<string, Asset>();
    let total = 0;
    for (const file of walk(dir)) {
      const body = readFileSync(file);
      total += body.length;
      if (total > MAX_TOTAL_BYTES) throw new Error(`the web build in ${dir} is larger than ${MAX_TOTAL_BYTES} bytes`);
      const path = `/${relative(dir, file).split(sep).join("/")}`;
      const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
      const compress = COMPRESSIBLE.test(type) && body.length >= 512;
      assets.set(path, {
        body,
        type,
        gzip: compress ? gzipSync(body, { level: 9 }) : undefined,
        br: compress ? brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } }) : undefined,
        etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
        // Vite names everything under assets/ by its content hash.
        cacheControl: path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      });
    }
    const index = assets.get("/index.html");
    if (index) assets.set("/", index);
    return new StaticSite(assets);
  }

  /** True when `pathname` is one of the app's files (or `/`). */
  handles(pathname: string): boolean {
    return this.#assets.has(pathname);
  }

  /** Answers a request for one of the app's files: GET and HEAD, conditional, compressed. */
  serve(req: NodeRequest, res: NodeResponse, pathname: string): void {
    const asset = this.#assets.get(pathname)!;
    const out = res as ServerResponse;
    const method = req.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      const body = JSON.stringify({ error: { code: "unimplemented", message: `method ${method} is not allowed on ${pathname}; use GET, HEAD` } });
      out.writeHead(405, { ...SECURITY_HEADERS, allow: "GET, HEAD", "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      out.end(body);
      return;
    }
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": asset.type,
      "cache-control": asset.cacheControl,
      etag: asset.etag,
      vary: "accept-encoding",
    };
    if (matchesEtag(req.headers["if-none-match"], asset.etag)) {
      out.writeHead(304, headers);
      out.end();
      return;
    }
    const accepted = String(req.headers["accept-encoding"] ?? "");
    let body = asset.body;
    if (asset.br && acceptsEncoding(accepted, "br")) {
      body = asset.br;
      headers["content-encoding"] = "br";
    } else if (asset.gzip && acceptsEncoding(accepted, "gzip")) {
      body = asset.gzip;
      headers["content-encoding"] = "gzip";
    }
    headers["content-length"] = String(body.length);
    out.writeHead(200, headers);
    out.end(method === "HEAD" ? undefined : body);
  }
}

/** The answer for `/` when no build exists: a clear 404 instead of a blank page. */
export function sendNotBuilt(res: NodeResponse, dir: string): void {
  const body = Buffer.from(`The web app is not built (no ${dir}/index.html). Run \`npm run build:web\`, then restart the gateway.\n`);
  (res as ServerResponse).writeHead(404, {
    ...SECURITY_HEADERS,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.length),
    "cache-control": "no-store",
  });
  res.end(body);
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

function matchesEtag(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = Array.isArray(header) ? header.join(",") : header;
  return value
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === etag || tag === "*");
}

/** Whether Accept-Encoding allows `coding` (absent or with a q-value above 0). */
export function acceptsEncoding(header: string, coding: string): boolean {
  for (const part of header.toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (name.trim() !== coding) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
