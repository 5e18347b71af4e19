import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";

/** Where Jaeger v2 listens by default: OTLP/HTTP on 4318 (OTLP/gRPC 4317), the UI on 16686. */
export const JAEGER_OTLP_ENDPOINT = "http://127.0.0.1:4318";
export const JAEGER_UI_URL = "http://127.0.0.1:16686";

/** How to get Jaeger, for `npm start` to print when there is none. */
export const JAEGER_HOWTO = [
  "no jaeger binary found, so traces are not collected. To see one trace per order in Jaeger:",
  "  download Jaeger v2 from https://www.jaegertracing.io/download/ and put `jaeger` on the PATH",
  "  (or set JAEGER_BIN=/path/to/jaeger), then npm start again; or run it in a container:",
  "  docker run --rm -p 16686:16686 -p 4318:4318 jaegertracing/jaeger:latest",
  "  and start with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 (any OTLP/HTTP collector works).",
].join("\n");

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The result of looking for Jaeger: a binary to run, or why there is none. */
export type JaegerLookup = { found: true; bin: string } | { found: false; reason: string };

/**
 * Finds the Jaeger binary: JAEGER_BIN when set (it must name an executable file; a wrong one
 * is reported, not silently replaced by another), else the first executable `jaeger` on PATH.
 */
export function findJaeger(env: NodeJS.ProcessEnv = process.env): JaegerLookup {
  const named = env.JAEGER_BIN?.trim();
  if (named) {
    return isExecutableFile(named) ? { found: true, bin: named } : { found: false, reason: `JAEGER_BIN=${named} is not an executable file` };
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "jaeger");
    if (isExecutableFile(candidate)) return { found: true, bin: candidate };
  }
  return { found: false, reason: "no jaeger on the PATH and JAEGER_BIN is not set" };
}

/**
 * The Jaeger UI's search for the traces of one order, by the `shop.order.id` tag every span
 * about an order carries. `orderId` may be a shell variable reference such as `$ORDER_ID`.
 */
export function jaegerOrderSearchUrl(uiUrl: string, orderId: string): string {
  // The UI takes its tags as URL-encoded JSON; the id is spliced in unencoded so `$ORDER_ID` still expands in a shell.
  const [open, close] = encodeURIComponent(JSON.stringify({ "shop.order.id": "ORDER" })).split("ORDER");
  return `${uiUrl}/search?service=gateway&lookback=1h&limit=20&tags=${open}${orderId}${close}`;
}

export interface RunningJaeger {
  readonly otlpEndpoint: string;
  readonly uiUrl: string;
  stop(): Promise<void>;
}

/**
 * Runs Jaeger v2 all-in-one (in-memory storage, its default configuration) and waits until
 * its UI answers. Throws when it exits or is not up within `timeoutMs`.
 */
export async function startJaeger(options: { bin: string; onLog?: (line: string) => void; timeoutMs?: number }): Promise<RunningJaeger> {
  const child: ChildProcess = spawn(options.bin, [], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", (line) => options.onLog?.(line));
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && !spawnError) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (spawnError) throw spawnError;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`jaeger exited (${child.exitCode ?? child.signalCode}); are ports 4318 and 16686 free?`);
    const up = await fetch(JAEGER_UI_URL).then(
      (res) => res.ok,
      () => false,
    );
    if (up) return { otlpEndpoint: JAEGER_OTLP_ENDPOINT, uiUrl: JAEGER_UI_URL, stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new Error("jaeger did not answer on 16686 in time");
}
