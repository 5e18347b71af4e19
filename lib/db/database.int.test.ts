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
      const tables = await check.em.getConnection().execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('widgets', 'gadgets')");
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
