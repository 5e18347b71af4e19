import { execFile } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Where `npm run build:web` puts the app, and where the gateway looks for it by default. */
export const WEB_DIST = join(ROOT, "web", "dist");

const SOURCES = ["web/src", "web/public", "web/index.html", "web/vite.config.ts", "gen"].map((path) => join(ROOT, path));

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when web/dist is missing or older than a file it is built from. */
export function webBuildIsStale(): boolean {
  const index = join(WEB_DIST, "index.html");
  if (!existsSync(index)) return true;
  return statSync(index).mtimeMs < Math.max(...SOURCES.filter(existsSync).map(newestMtime));
}

/**
 * Builds the web app (as `npm run build:web`) when it is missing or stale. Builds into a
 * directory of its own and swaps it in, so two processes building at once (npm start and a
 * browser test) never see half a build. Returns whether it built.
 */
export async function ensureWebBuild(): Promise<boolean> {
  if (!webBuildIsStale()) return false;
  const out = join(ROOT, "web", `.build-${process.pid}-${Date.now()}`);
  const vite = join(ROOT, "node_modules", "vite", "bin", "vite.js");
  try {
    await exec(process.execPath, [vite, "build", "--config", join(ROOT, "web", "vite.config.ts"), "--outDir", out, "--logLevel", "warn"], {
      cwd: ROOT,
      timeout: 300_000,
    });
    rmSync(WEB_DIST, { recursive: true, force: true });
    try {
      renameSync(out, WEB_DIST);
    } catch (error) {
      // Another process swapped its build in first: theirs is as good as ours.
      if (!existsSync(join(WEB_DIST, "index.html"))) throw error;
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return true;
}
