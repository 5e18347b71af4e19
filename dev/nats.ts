import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { freePort } from "./free-port.js";

export interface RunningNats {
  url: string;
  stop(): Promise<void>;
  /** SIGKILLs the server (fault injection) and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port and store; resolves once it accepts clients. */
  restart(): Promise<void>;
}

/** Finds nats-server: $NATS_SERVER_BIN, then PATH, then /usr/sbin (Debian installs it there). */
export function findNatsServer(): string {
  const explicit = process.env.NATS_SERVER_BIN;
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`NATS_SERVER_BIN=${explicit} does not exist`);
    return explicit;
  }
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(
    "nats-server not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install nats-server`; " +
      "macOS: `brew install nats-server`; or download from https://github.com/nats-io/nats-server/releases) " +
      "or set NATS_SERVER_BIN to its path.",
  );
}

interface NatsProcess {
  url: string;
  exited: Promise<void>;
  child: ReturnType<typeof spawn>;
}

async function spawnNats(bin: string, args: string[], timeoutMs: number): Promise<NatsProcess> {
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("nats-server did not start within the deadline")), timeoutMs);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n${output.slice(-2000)}`));
    }
    const onExit = (code: number | null) => fail(new Error(`nats-server exited with code ${code}`));
    child.once("error", fail);
    child.once("exit", onExit);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      output += chunk;
      const port = /Listening for client connections on [^\s]+:(\d+)/.exec(output)?.[1];
      if (port && /Server is ready/.test(output)) {
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(`nats://127.0.0.1:${port}`);
      }
    });
  });
  // Keep draining stderr so a chatty server never blocks on a full pipe.
  child.stderr!.resume();
  return { url, exited, child };
}

export interface NatsOptions {
  dir: string;
  port?: number;
  timeoutMs?: number;
  /** Server name (unique within a cluster; JetStream clustering requires one). */
  name?: string;
  /** Join a cluster: this server's route port, the cluster's name and every member's route URL. */
  cluster?: { name: string; port: number; routes: string[] };
}

/** Starts `nats-server -js` on a random port with its store under `dir`; resolves once it accepts clients. */
export async function startNats(options: NatsOptions): Promise<RunningNats> {
  const bin = findNatsServer();
  await mkdir(options.dir, { recursive: true });
  const args = (port: number) => {
    const list = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", options.dir];
    if (options.name) list.push("--server_name", options.name);
    if (options.cluster) {
      const { name, port: routePort, routes } = options.cluster;
      list.push("--cluster_name", name, "--cluster", `nats://127.0.0.1:${routePort}`, "--routes", routes.join(","));
    }
    return list;
  };
  const timeoutMs = options.timeoutMs ?? 15_000;
  let server = await spawnNats(bin, args(options.port ?? -1), timeoutMs);
  // A restart keeps the port, so clients reconnect to the URL they have.
  const port = Number(new URL(server.url).port);
  return {
    url: server.url,
    async stop() {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGTERM");
      await server.exited;
    },
    async kill() {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
      await server.exited;
    },
    async restart() {
      if (server.child.exitCode === null && server.child.signalCode === null) throw new Error("nats-server is still running");
      server = await spawnNats(bin, args(port), timeoutMs);
    },
  };
}

export interface NatsClusterMember extends RunningNats {
  name: string;
}

export interface RunningNatsCluster {
  /** The members' client URLs, comma-separated (a NATS_URL value). */
  url: string;
  members: NatsClusterMember[];
  stop(): Promise<void>;
}

/**
 * Starts a JetStream cluster of `size` nats-server processes on loopback, each with its own
 * store under `dir`, client and route ports, and routes to every member. Resolves once every
 * member accepts clients; JetStream elects its meta leader shortly after (wait for it).
 */
export async function startNatsCluster(options: { dir: string; size?: number; name?: string; timeoutMs?: number }): Promise<RunningNatsCluster> {
  const size = options.size ?? 3;
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
  const settled = await Promise.allSettled(
    ports.map((p, i) =>
      startNats({
        dir: join(options.dir, `n${i}`),
        port: p.client,
        name: `n${i}`,
        timeoutMs: options.timeoutMs,
        cluster: { name: options.name ?? "ordermesh", port: p.route, routes },
      }),
    ),
  );
  const started = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(started.map((m) => m.stop()));
    throw failed.reason;
  }
  const members = started.map((m, i) => ({ ...m, name: `n${i}` }));
  return {
    url: members.map((m) => m.url).join(","),
    members,
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}
