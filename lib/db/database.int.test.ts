import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { defineEntity, p } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import { createTestDatabase, type TestDatabase, uniqueId } from "../../test/harness/index.js";
import { type Database, dropDatabase, ensureDatabase, openDatabase, serviceDatabaseUrl } from "./database.js";

const Widget = defineEntity({
  name: "Widget",
  tableName: "widgets",
  properties: {
    id: p.string().primary(),
    name: p.string(),
  },
});

class CreateWidgets extends Migration {
  override async up(): Promise<void> {
    this.addSql("CREATE TABLE widgets (id text PRIMARY KEY, name text NOT NULL)");
  }
}

const migrations = [{ name: "0001-widgets", class: CreateWidgets }];

describe("openDatabase", () => {
  let db: TestDatabase;
  let orm: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openDatabase({ url: db.url, entities: [Widget], migrations });
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it("applies checked-in migrations and maps entities", async () => {
    const em = orm.em.fork();
    em.create(Widget, { id: "w1", name: "sprocket" });
    await em.flush();
    const found = await orm.em.fork().findOneOrFail(Widget, "w1");
    expect(found.name).toBe("sprocket");
  });

  it("applies each migration once across restarts", async () => {
    const again = await openDatabase({ url: db.url, entities: [Widget], migrations });
    try {
      const rows = await again.em.getConnection().execute<{ name: string }[]>("SELECT name FROM mikro_orm_migrations");
      expect(rows.map((r: { name: string }) => r.name)).toEqual(["0001-widgets"]);
    } finally {
      await again.close(true);
    }
  });

  it("lets replicas that start together migrate once: both succeed, every migration applies once", async () => {
    // A migration that cannot run twice: a second application would fail on the table and the
    // unique row, so only serialised migrators both succeed.
    class CountRuns extends Migration {
      override async up(): Promise<void> {
        this.addSql("CREATE TABLE migration_runs (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())");
        this.addSql("INSERT INTO migration_runs (id) VALUES (1)");
        this.addSql("SELECT pg_sleep(0.3)"); // widen the window in which an unlocked peer would start too
      }
    }
    const list = [...migrations, { name: "0002-count-runs", class: CountRuns }];
    const fresh = await createTestDatabase();
    const opened: Database[] = [];
    try {
      const results = await Promise.allSettled([0, 1, 2].map(() => openDatabase({ url: fresh.url, entities: [Widget], migrations: list })));
      for (const r of results) if (r.status === "fulfilled") opened.push(r.value);
      expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok", "ok"]);
      const connection = opened[0].em.getConnection();
      const applied = await connection.execute<{ name: string }[]>("SELECT name FROM mikro_orm_migrations ORDER BY id");
      expect(applied.map((r: { name: string }) => r.name)).toEqual(["0001-widgets", "0002-count-runs"]);
      expect(await connection.execute("SELECT id FROM migration_runs")).toEqual([{ id: 1 }]);
    } finally {
      await Promise.all(opened.map((orm) => orm.close(true)));
      await fresh.drop();
    }
  });

  it("fails without applying anything when a migration fails", async () => {
    class Broken extends Migration {
      override async up(): Promise<void> {
        this.addSql("CREATE TABLE gadgets (id text PRIMARY KEY)");
        this.addSql("THIS IS NOT SQL");
      }
    }
    const other = await createTestDatabase();
    try {
      await expect(openDatabase({ url: other.url, entities: [Widget], migrations: [...migrations, { name: "0002-broken", class: Broken }] })).rejects.toThrow(
        /syntax error/,
      );
      const check = await openDatabase({ url: other.url, entities: [Widget], migrations: [] });
      const tables = await check.em
        .getConnection()
        .execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('widgets', 'gadgets')");
      await check.close(true);
      expect(tables).toEqual([]);
    } finally {
      await other.drop();
    }
  });
});

describe("ensureDatabase", () => {
  it("creates a missing database and tolerates concurrent callers", async () => {
    const url = serviceDatabaseUrl(process.env.ORDERMESH_TEST_DATABASE_URL ?? "", uniqueId("e"));
    await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);
    await ensureDatabase(url);
    await dropDatabase(url);
  });

  it("refuses database names that would need quoting", async () => {
    await expect(ensureDatabase("postgres://u:p@127.0.0.1:1/bad;name")).rejects.toThrow('database name "bad;name"');
  });
});
