import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { defineEntity, p } from "@mikro-orm/core";
import { createTestDatabase, type TestDatabase } from "../../test/harness/index.js";
import { afterCommit } from "./after-commit.js";
import { type Database, openDatabase } from "./database.js";

const Dummy = defineEntity({ name: "Dummy", tableName: "dummies", properties: { id: p.string().primary() } });

describe("afterCommit", () => {
  let db: TestDatabase;
  let orm: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openDatabase({ url: db.url, entities: [Dummy], migrations: [] });
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it("runs after the commit, in order, and not before", async () => {
    const calls: string[] = [];
    await orm.em.fork().transactional(async (em) => {
      afterCommit(em, () => calls.push("first"));
      afterCommit(em, () => calls.push("second"));
      await em.execute("select 1");
      expect(calls).toEqual([]);
    });
    expect(calls).toEqual(["first", "second"]);
  });

  it("never runs for a transaction that rolls back, nor leaks into the next one", async () => {
    const calls: string[] = [];
    await expect(
      orm.em.fork().transactional(async (em) => {
        afterCommit(em, () => calls.push("rolled back"));
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    await orm.em.fork().transactional(async (em) => {
      afterCommit(em, () => calls.push("committed"));
    });
    expect(calls).toEqual(["committed"]);
  });

  it("runs at once outside a transaction, and a throwing hook does not fail the commit", async () => {
    const calls: string[] = [];
    afterCommit(orm.em.fork(), () => calls.push("now"));
    expect(calls).toEqual(["now"]);
    await orm.em.fork().transactional(async (em) => {
      afterCommit(em, () => {
        throw new Error("counter broke");
      });
      afterCommit(em, () => calls.push("still runs"));
    });
    expect(calls).toEqual(["now", "still runs"]);
  });

  it("runs a hook registered inside a savepoint after the outer commit, not at the savepoint's release", async () => {
    const calls: string[] = [];
    await orm.em.fork().transactional(async (em) => {
      await em.transactional(async (savepoint) => {
        afterCommit(savepoint, () => calls.push("committed"));
      });
      expect(calls).toEqual([]);
    });
    expect(calls).toEqual(["committed"]);
  });
});
