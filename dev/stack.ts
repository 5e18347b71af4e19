import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { signDevToken } from "../gateway/auth.js";
import { DEV_JWT_SECRET } from "../gateway/config.js";
import { freePort } from "./free-port.js";
import { startJaeger } from "./jaeger.js";
import { DEFAULT_BUCKET } from "./infra.js";
import { type Mesh, startMesh } from "./mesh.js";
import { type RunningNats, startNats } from "./nats.js";
import { type RunningPostgres, startPostgres } from "./postgres.js";
import { startS3 } from "./s3.js";
import { Supervisor, type SupervisorEvent } from "./supervisor.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface StackOptions {
  /** Where embedded infrastructure keeps its data (e.g. `.data`). */
  dataDir: string;
  /** Keep PostgreSQL's data when stopped (npm start); otherwise it is removed. */
  persistent?: boolean;
  /** Existing infrastructure to use instead of starting embedded servers. */
  databaseUrl?: string;
  natsUrl?: string;
  s3Endpoint?: string;
  /** The documented ports (gateway 8080, services 50051...) instead of free ones. */
  standardPorts?: boolean;
  gatewayPort?: number;
  /** How long each service may take to report SERVING (default 60 s; a loaded test machine needs more). */
  readyTimeoutMs?: number;
  /** Restart services and the gateway that die on their own, with backoff (npm start). */
  supervise?: boolean;
  /** Exits and restarts of supervised processes, and when a restarted one is ready again. */
  onSupervisorEvent?: (event: SupervisorEvent | { kind: "ready"; name: string }) => void;
  /** Extra environment for the services and the gateway (e.g. RATE_LIMIT_RPS for benchmarks). */
  env?: Record<string, string>;
  /**
   * Run Jaeger v2 from this binary and send every process's spans to it (unless env sets
   * OTEL_EXPORTER_OTLP_ENDPOINT, which wins). If it cannot start, the stack runs without it.
   */
  jaegerBin?: string;
  /** Each log line, by process ("postgres" ... "gateway"), and the stack's own progress lines. */
  onLog?: (process: string, line: string) => void;
  onProgress?: (message: string) => void;
  /** Load pg_stat_statements into the embedded PostgreSQL (benchmarks count statements). */
  statementStats?: boolean;
}

export interface Stack {
  gatewayUrl: string;
  databaseUrl: string;
  natsUrl: string;
  /** The Jaeger UI, when the stack runs Jaeger. */
  jaegerUrl?: string;
  mesh: Mesh;
  /** The embedded servers, when this stack started them (fault injection: kill and restart). */
  postgres?: RunningPostgres;
  nats?: RunningNats;
  /** A dev token (HS256, the gateway's dev secret unless JWT_SECRET is set). */
  token(subject: string, options?: { admin?: boolean; ttlSeconds?: number }): Promise<string>;
  /** Stops the gateway, drains the services, then stops the infrastructure. */
  stop(): Promise<void>;
}

async function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit"] });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`node ${args.join(" ")} exited with ${code}`);
}

async function waitHealthy(url: string, gateway: Supervisor, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void gateway.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`gateway exited with code ${exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("gateway did not become healthy in time");
}

/**
 * The whole system on one machine: PostgreSQL, NATS JetStream and S3 (embedded unless URLs are
 * given), the dev data, the seven services and the gateway as child processes. `npm start`, the
 * benchmarks and the start test all run this.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => console.error(error));
  };
  const progress = options.onProgress ?? (() => {});
  try {
    await mkdir(options.dataDir, { recursive: true });
    let { databaseUrl, natsUrl, s3Endpoint } = options;
    let postgres: RunningPostgres | undefined;
    let nats: RunningNats | undefined;
    if (!databaseUrl) {
      progress(`starting embedded PostgreSQL (${join(options.dataDir, "postgres")})`);
      // Durable like a deployment: npm start and the benchmarks must not lose acknowledged work.
      const pg = await startPostgres({
        dir: join(options.dataDir, "postgres"),
        persistent: options.persistent,
        durable: true,
        statementStats: options.statementStats,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
      postgres = pg;
    }
    if (!natsUrl) {
      progress("starting nats-server with JetStream");
      nats = await startNats({ dir: join(options.dataDir, "nats") });
      stops.push(nats.stop);
      natsUrl = nats.url;
    }
    if (!s3Endpoint) {
      progress("starting s3rver");
      const s3 = await startS3({ dir: join(options.dataDir, "s3"), buckets: [DEFAULT_BUCKET] });
      stops.push(s3.stop);
      s3Endpoint = s3.endpoint;
    }

    let env = options.env ?? {};
    let jaegerUrl: string | undefined;
    if (options.jaegerBin && !env.OTEL_EXPORTER_OTLP_ENDPOINT) {
      progress(`starting Jaeger (${options.jaegerBin})`);
      try {
        const jaeger = await startJaeger({ bin: options.jaegerBin, onLog: (line) => options.onLog?.("jaeger", line) });
        // Stopped last of the processes (stops run in reverse), so the services' final spans get there.
        stops.push(jaeger.stop);
        env = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint };
        jaegerUrl = jaeger.uiUrl;
      } catch (error) {
        progress(`Jaeger did not start, running without it: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    progress("loading the dev data (kept if already there)");
    await runNode(["--import", "tsx", "scripts/seed.ts"], { DATABASE_URL: databaseUrl, LOG_LEVEL: "warn" });

    progress("starting the seven services");
    const mesh = await startMesh({
      databaseUrl,
      natsUrl,
      s3Endpoint,
      standardPorts: options.standardPorts,
      readyTimeoutMs: options.readyTimeoutMs,
      env,
      supervise: options.supervise,
      onSupervisorEvent: options.onSupervisorEvent,
      onLog: (service, line) => options.onLog?.(service, line),
    });
    stops.push(() => mesh.stop());

    progress("starting the gateway");
    const port = options.gatewayPort ?? (options.standardPorts ? 8080 : await freePort());
    const metricsPort = String(options.standardPorts ? 9464 : await freePort());
    const gatewayUrl = `http://127.0.0.1:${port}`;
    const gateway: Supervisor = new Supervisor({
      name: "gateway",
      spawn: () =>
        spawn(process.execPath, ["--import", "tsx", "gateway/main.ts"], {
          cwd: ROOT,
          env: {
            ...process.env,
            ...mesh.addresses(),
            LISTEN_HOST: process.env.LISTEN_HOST || "127.0.0.1",
            GATEWAY_PORT: String(port),
            METRICS_PORT: metricsPort,
            NATS_URL: natsUrl,
            ...env,
          },
          stdio: ["ignore", "pipe", "pipe"],
        }),
      restart: options.supervise,
      onLine: (line) => options.onLog?.("gateway", line),
      onEvent: (event) => {
        options.onSupervisorEvent?.(event);
        if (event.kind === "restarted") {
          waitHealthy(gatewayUrl, gateway, options.readyTimeoutMs ?? 60_000).then(
            () => options.onSupervisorEvent?.({ kind: "ready", name: "gateway" }),
            () => undefined,
          );
        }
      },
    });
    gateway.start();
    stops.push(() => gateway.terminate("SIGTERM", 15_000));
    await waitHealthy(gatewayUrl, gateway, options.readyTimeoutMs ?? 60_000);

    let stopping: Promise<void> | undefined;
    return {
      gatewayUrl,
      databaseUrl,
      natsUrl,
      jaegerUrl,
      mesh,
      postgres,
      nats,
      token: (subject, tokenOptions = {}) =>
        signDevToken({
          sub: subject,
          admin: tokenOptions.admin,
          ttlSeconds: tokenOptions.ttlSeconds ?? 24 * 3600,
          secret: process.env.JWT_SECRET || DEV_JWT_SECRET,
        }),
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
