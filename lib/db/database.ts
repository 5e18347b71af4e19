import { type EntitySchema, type MigrationObject, MikroORM } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { PostgreSqlDriver } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "../log.js";
import { afterCommitSubscriber } from "./after-commit.js";
import { beforeCommitSubscriber } from "./before-commit.js";

export type { EntityManager } from "@mikro-orm/postgresql";
export type Database = MikroORM<PostgreSqlDriver>;

export interface DatabaseOptions {
  /** postgres://user:pass@host:port/dbname; the database is created when missing. */
  url: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- schemas of unrelated entity types
  entities: EntitySchema<any, any>[];
  /** Migrations in order. A static list, not a glob: globs silently find nothing under bundlers and jest. */
  migrations: MigrationObject[];
  poolMax?: number;
  logger?: Logger;
}

/**
 * Opens the service's database with MikroORM, creating the database if needed, and applies
 * pending migrations (all in one transaction) before returning. A service never runs against
 * a schema it does not know. Replicas starting together take turns (withMigrationLock): the
 * first applies the migrations, the others find nothing left to do.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  await ensureDatabase(options.url);
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: options.url,
    entities: options.entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolMax ?? 10 },
    // Each request forks its own EntityManager; a shared global one would mix identity maps.
    allowGlobalContext: false,
    forceUtcTimezone: true,
    ignoreUndefinedInQuery: true,
    debug: false,
    // knex otherwise inlines bound values into error messages, and error messages reach logs.
    driverOptions: { compileSqlOnError: false },
    // MikroORM prints to the console by default; keep every line in the structured log instead.
    colors: false,
    logger: (message) => options.logger?.debug({ orm: message }, "mikro-orm"),
    migrations: {
      migrationsList: options.migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      tableName: "mikro_orm_migrations",
    },
  });
  orm.em.getEventManager().registerSubscriber(beforeCommitSubscriber);
  orm.em.getEventManager().registerSubscriber(afterCommitSubscriber);
  try {
    const applied = await withMigrationLock(options.url, () => orm.getMigrator().up());
    if (applied.length > 0) options.logger?.info({ migrations: applied.map((m) => m.name) }, "migrations applied");
  } catch (error) {
    await orm.close(true);
    throw error;
  }
  return orm;
}

/**
 * Key of the PostgreSQL advisory lock that serialises migrations. Advisory locks are scoped to
 * the current database, so one constant serves every service's own database.
 */
export const MIGRATION_LOCK_KEY = 0x6f6d5f6d6967n; // "om_mig"

/**
 * Runs `work` while holding the database's migration lock: a session-level advisory lock on a
 * connection of its own, so the lock is released when `work` ends, and by the server when the
 * process dies holding it (a crashed replica never blocks the next one). Waiting replicas
 * block in pg_advisory_lock, without polling.
 */
export async function withMigrationLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "ordermesh-migrations" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
    try {
      return await work();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist yet (idempotent, race-safe). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`database name "${name}" must match [A-Za-z0-9_-]+`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
        // 42P04 duplicate_database, 23505: another process created it between check and create.
        if (error.code !== "42P04" && error.code !== "23505") throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/** Drops the database named in `url`, closing other sessions first (tests). */
export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The database URL for one service: `base` with its database name replaced. */
export function serviceDatabaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}
