import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { defineEntity, p } from "@mikro-orm/core";
import { createTestDatabase, type TestDatabase } from "../../test/harness/index.js";
import { afterCommit } from "./after-commit.js";
import { beforeCommit } from "./before-commit.js";
import { type Database, type EntityManager, openDatabase } from "./database.js";
import { sql } from "./sql.js";
import { runTransaction } from "./transaction.js";

const Line = defineEntity({ name: "Line", tableName: "lines", properties: { id: p.string().primary(), body: p.string() } });

describe("beforeCommit", () => {
  let db: TestDatabase;
  let orm: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openDatabase({ url: db.url, entities: [Line], migrations: [] });
    await orm.em.getKnex().raw("create table lines (id text primary key, body text not null)");
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  beforeEach(async () => {
    await sql(orm.em.fork(), "delete from lines");
  });

  async function bodies(): Promise<string[]> {
    const rows = await sql<{ body: string }>(orm.em.fork(), "select body from lines order by id");
    return rows.map((row) => row.body);
  }

  const insert = (em: EntityManager, id: string, body: string) => sql(em, "insert into lines (id, body) values (?, ?)", [id, body]);

  // Both ways a transaction is opened must behave alike.
  const transactions: [string, <T>(work: (em: EntityManager) => Promise<T>) => Promise<T>][] = [
    ["em.transactional()", (work) => orm.em.fork().transactional(work)],
    ["runTransaction()", (work) => runTransaction(orm, work)],
  ];

  describe.each(transactions)("in %s", (_name, transaction) => {
    it("runs after the work and before the commit, in order, and its writes commit with the work's", async () => {
      const calls: string[] = [];
      await transaction(async (em) => {
        beforeCommit(em, async () => {
          // Inside the transaction: it sees the work's row, others do not yet.
          calls.push(`first sees ${(await sql<{ body: string }>(em, "select body from lines")).map((r) => r.body).join()}`);
          calls.push(`outside sees ${(await bodies()).length}`);
          await insert(em, "b", "from the hook");
        });
        beforeCommit(em, async () => {
          calls.push("second");
          // A hook may queue another: it still runs before the commit.
          beforeCommit(em, async () => {
            calls.push("queued by a hook");
            await insert(em, "c", "from a hook's hook");
          });
        });
        afterCommit(em, () => calls.push("after commit"));
        await insert(em, "a", "from the work");
        expect(calls).toEqual([]);
      });
      expect(calls).toEqual(["first sees from the work", "outside sees 0", "second", "queued by a hook", "after commit"]);
      expect(await bodies()).toEqual(["from the work", "from the hook", "from a hook's hook"]);
    });

    it("rolls the whole transaction back when a hook throws, and runs no later hook nor afterCommit", async () => {
      const calls: string[] = [];
      await expect(
        transaction(async (em) => {
          await insert(em, "a", "from the work");
          beforeCommit(em, async () => {
            await insert(em, "b", "from the hook");
            throw new Error("hook failed");
          });
          beforeCommit(em, async () => {
            calls.push("later hook");
          });
          afterCommit(em, () => calls.push("after commit"));
        }),
      ).rejects.toThrow("hook failed");
      expect(calls).toEqual([]);
      expect(await bodies()).toEqual([]);
    });

    it("never runs for a transaction that rolls back, nor leaks into the next one", async () => {
      const calls: string[] = [];
      await expect(
        transaction(async (em) => {
          beforeCommit(em, async () => {
            calls.push("rolled back");
          });
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      await transaction(async (em) => {
        beforeCommit(em, async () => {
          calls.push("committed");
        });
      });
      expect(calls).toEqual(["committed"]);
    });
  });

  it("runs a hook queued inside a savepoint at the outer commit, not at the savepoint's release", async () => {
    const calls: string[] = [];
    await orm.em.fork().transactional(async (em) => {
      await em.transactional(async (savepoint) => {
        beforeCommit(savepoint, async () => {
          calls.push("hook");
          await insert(savepoint, "b", "from the hook");
        });
      });
      expect(calls).toEqual([]);
      await insert(em, "a", "after the savepoint");
    });
    expect(calls).toEqual(["hook"]);
    expect(await bodies()).toEqual(["after the savepoint", "from the hook"]);
  });

  it("refuses to run outside a transaction", () => {
    expect(() => beforeCommit(orm.em.fork(), () => Promise.resolve())).toThrow(/inside a transaction/);
  });
});
