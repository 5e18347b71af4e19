import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { delimiter, join } from "node:path";

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

/** Starts `nats-server -js` on a random port with its store under `dir`; resolves once it accepts clients. */
export async function startNats(options: { dir: string; port?: number; timeoutMs?: number }): Promise<RunningNats> {
  const bin = findNatsServer();
  await mkdir(options.dir, { recursive: true });
  const args = (port: number) => ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", options.dir];
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
