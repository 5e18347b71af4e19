import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface GatewayProcessOptions {
  port: number;
  metricsPort: number;
  /** Environment on top of this process's: upstream addresses, NATS_URL, EVENTS_PREFIX, OTLP... */
  env: Record<string, string>;
  onLog?: (line: string) => void;
  /** How long it may take to answer GET /health with 200 (default 60 s). */
  readyTimeoutMs?: number;
}

export interface GatewayProcess {
  readonly url: string;
  readonly metricsUrl: string;
  /** SIGTERM (the gateway drains), then waits for the exit. */
  stop(): Promise<void>;
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with code ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("gateway did not become healthy in time");
}

/** Runs the gateway as a child process (`node --import tsx gateway/main.ts`) and waits until it is healthy. */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "gateway/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, GATEWAY_PORT: String(options.port), METRICS_PORT: String(options.metricsPort), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => options.onLog?.(line));
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const url = `http://127.0.0.1:${options.port}`;
  try {
    await waitHealthy(url, child, options.readyTimeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, metricsUrl: `http://127.0.0.1:${options.metricsPort}`, stop };
}
