import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/**
 * Browser tests of the web app: Debian's Chromium driven by playwright-core (no browser
 * download), the app built by Vite when its build is missing or older than its sources.
 */

const exec = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const WEB_DIST = join(ROOT, "web", "dist");
export const SCREENSHOTS = join(ROOT, ".artifacts", "screenshots");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds web/ (npm run build:web) unless web/dist is newer than everything it is built from. */
export async function ensureWebBuild(): Promise<void> {
  const index = join(WEB_DIST, "index.html");
  const sources = [join(ROOT, "web", "src"), join(ROOT, "web", "public"), join(ROOT, "web", "index.html"), join(ROOT, "web", "vite.config.ts"), join(ROOT, "gen")];
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...sources.filter(existsSync).map(newestMtime))) return;
  const vite = join(ROOT, "node_modules", "vite", "bin", "vite.js");
  await exec(process.execPath, [vite, "build", "--config", join(ROOT, "web", "vite.config.ts"), "--logLevel", "warn"], { cwd: ROOT, timeout: 180_000 });
}

export interface Browser {
  context: BrowserContext;
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium with a fresh profile, headless, with no traffic of its own (the machine has no internet). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), "ordermesh-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.setDefaultTimeout(20_000);
  return {
    context,
    async newPage(options = {}) {
      const page = await context.newPage();
      if (options.width) await page.setViewportSize({ width: options.width, height: options.height ?? 844 });
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as .artifacts/screenshots/<name>.png (git-ignored). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
