import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { isServing } from "./health-check.js";
import { Supervisor, type SupervisorEvent } from "./supervisor.js";

export const SERVICES = ["order", "inventory", "payment", "notification", "file", "delivery", "analytics"] as const;
export type MeshService = (typeof SERVICES)[number];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface MeshOptions {
  /** Superuser URL of the PostgreSQL server; each service gets database `<databasePrefix><service>`. */
  databaseUrl: string;
  natsUrl: string;
  s3Endpoint: string;
  databasePrefix?: string;
  eventsPrefix?: string;
  /** Which services to run (default all seven). */
  services?: readonly MeshService[];
  /** Extra environment for every service, and per service. */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<MeshService, Record<string, string>>>;
  /** Each log line of each service (default: dropped, but the last lines are kept for errors). */
  onLog?: (service: MeshService, line: string) => void;
  /** How long a service may take to report SERVING (default 60 s). */
  readyTimeoutMs?: number;
  /** Use the documented ports (order 50051 ... analytics 50057, metrics 9465 ... 9471) instead of free ones. */
  standardPorts?: boolean;
  /**
   * Restart a service that dies on its own, with backoff (npm start). Services stopped through
   * `kill()` stay down until `restart()`.
   */
  supervise?: boolean;
  /** Exits and restarts of supervised services, and when a restarted one is SERVING again. */
  onSupervisorEvent?: (event: SupervisorEvent | { kind: "ready"; name: string }) => void;
}

interface Member {
  service: MeshService;
  grpcPort: number;
  metricsPort: number;
  process: Supervisor;
  recent: string[];
}

export interface Mesh {
  /** host:port of a service's gRPC server. */
  address(service: MeshService): string;
  /** http://host:port of a service's /metrics and /healthz. */
  metricsUrl(service: MeshService): string;
  /** The environment a client of the mesh needs (ORDER_ADDR, INVENTORY_ADDR, ...). */
  addresses(): Record<string, string>;
  /** The pid of a running service (e.g. to kill it from outside, as a crash would). */
  pid(service: MeshService): number | undefined;
  /** Sends `signal` (default SIGKILL) to a service and waits until it has exited; it stays down. */
  kill(service: MeshService, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a stopped service again on the same ports and waits until it is SERVING; a start
   * that exits (its database is still recovering, say) is launched again with backoff until
   * `readyTimeoutMs`, as a restart policy would.
   */
  restart(service: MeshService): Promise<void>;
  /** SIGTERM to every service (they drain), SIGKILL to any still running after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

function serviceDatabaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Runs services as real child processes (`node --import tsx services/<name>/main.ts`), each on
 * free ports with its own database, wired to each other through `<NAME>_ADDR`, and waits until
 * each reports SERVING on grpc.health.v1. Used by `npm start` and the end-to-end tests.
 */
export async function startMesh(options: MeshOptions): Promise<Mesh> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMeshOnce(options);
    } catch (error) {
      // Another process took a port between our check and the child's bind: new ports, again.
      const lostRace = !options.standardPorts && /EADDRINUSE/.test(String(error));
      if (!lostRace || attempt === 3) throw error;
    }
  }
}

async function startMeshOnce(options: MeshOptions): Promise<Mesh> {
  const services = options.services ?? SERVICES;
  const members = new Map<MeshService, Member>();
  for (const service of services) {
    const n = SERVICES.indexOf(service) + 1;
    const [grpcPort, metricsPort] = options.standardPorts ? [50050 + n, 9464 + n] : [await freePort(), await freePort()];
    const member: Member = {
      service,
      grpcPort,
      metricsPort,
      recent: [],
      process: new Supervisor({
        name: service,
        spawn: () =>
          spawn(process.execPath, ["--import", "tsx", `services/${service}/main.ts`], {
            cwd: ROOT,
            env: envOf(member),
            stdio: ["ignore", "pipe", "pipe"],
          }),
        restart: options.supervise,
        onLine: (line) => {
          member.recent.push(line);
          if (member.recent.length > 50) member.recent.shift();
          options.onLog?.(service, line);
        },
        onEvent: (event) => {
          options.onSupervisorEvent?.(event);
          // Said once the restarted service is ready, so a reader knows the outage is over.
          if (event.kind === "restarted") {
            waitReady(member).then(
              () => options.onSupervisorEvent?.({ kind: "ready", name: service }),
              () => undefined,
            );
          }
        },
      }),
    };
    members.set(service, member);
  }
  const addresses = Object.fromEntries([...members.values()].map((m) => [`${m.service.toUpperCase()}_ADDR`, `127.0.0.1:${m.grpcPort}`]));

  function envOf(member: Member): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...addresses,
      // Loopback unless the caller says otherwise: a dev machine should not expose its services.
      LISTEN_HOST: process.env.LISTEN_HOST || "127.0.0.1",
      GRPC_PORT: String(member.grpcPort),
      METRICS_PORT: String(member.metricsPort),
      DATABASE_URL: serviceDatabaseUrl(options.databaseUrl, `${options.databasePrefix ?? "ordermesh_"}${member.service}`),
      NATS_URL: options.natsUrl,
      S3_ENDPOINT: options.s3Endpoint,
      ...(options.eventsPrefix ? { EVENTS_PREFIX: options.eventsPrefix } : {}),
      // Node 20 is supported here; the SDK warns about its own future plans on every start.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      ...options.env,
      ...options.serviceEnv?.[member.service],
    };
  }

  async function waitReady(member: Member, deadline = Date.now() + (options.readyTimeoutMs ?? 60_000)): Promise<void> {
    let exitCode: number | null | undefined;
    void member.process.exited.then((code) => (exitCode = code));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) break;
      if (await isServing(`127.0.0.1:${member.grpcPort}`, 500)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const why = exitCode !== undefined ? `exited with code ${exitCode}` : "did not report SERVING in time";
    throw new Error(`${member.service} ${why}; its last log lines:\n${member.recent.slice(-15).join("\n")}`);
  }

  const mesh: Mesh = {
    address: (service) => `127.0.0.1:${members.get(service)!.grpcPort}`,
    metricsUrl: (service) => `http://127.0.0.1:${members.get(service)!.metricsPort}`,
    addresses: () => ({ ...addresses }),
    pid: (service) => members.get(service)!.process.pid,
    async kill(service, signal = "SIGKILL") {
      await members.get(service)!.process.terminate(signal, 10_000);
    },
    async restart(service) {
      const member = members.get(service)!;
      await member.process.terminate("SIGTERM", 10_000);
      const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
      for (let attempt = 1; ; attempt++) {
        // Under supervision the supervisor may have launched it again already.
        if (!member.process.running) member.process.start();
        try {
          await waitReady(member, deadline);
          return;
        } catch (error) {
          // A start that failed on a dependency still down is tried again; one that hangs is not.
          if (member.process.running || Date.now() >= deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** (attempt - 1), 4_000)));
        }
      }
    },
    async stop(graceMs = 15_000) {
      await Promise.all([...members.values()].map((m) => m.process.terminate("SIGTERM", graceMs)));
    },
  };

  for (const member of members.values()) member.process.start();
  try {
    // Services start in parallel; they need each other only per call, through breakers.
    await Promise.all([...members.values()].map((member) => waitReady(member)));
  } catch (error) {
    await mesh.stop(2_000);
    throw error;
  }
  return mesh;
}
