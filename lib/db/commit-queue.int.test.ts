import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createTestDatabase, type TestDatabase } from "../../test/harness/index.js";
import { CommitQueue } from "./commit-queue.js";
import { type Database, type EntityManager, openDatabase } from "./database.js";
import { sql } from "./sql.js";
import { runTransaction } from "./transaction.js";

describe("CommitQueue", () => {
  let db: TestDatabase;
  let orm: Database;
  let writes: string[][];
  let queue: CommitQueue<string[]>;

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openDatabase({ url: db.url, entities: [], migrations: [] });
    await orm.em.getKnex().raw("create table lines (body text primary key)");
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  beforeEach(async () => {
    await sql(orm.em.fork(), "delete from lines");
    writes = [];
    queue = new CommitQueue<string[]>(
      () => [],
      async (em, bodies) => {
        writes.push([...bodies]);
        await sql(em, "insert into lines (body) select unnest(?::text[])", [bodies]);
      },
    );
  });

  async function bodies(): Promise<string[]> {
    const rows = await sql<{ body: string }>(orm.em.fork(), "select body from lines order by body");
    return rows.map((row) => row.body);
  }

  // Both ways a transaction is opened must behave alike.
  const transactions: [string, <T>(work: (em: EntityManager) => Promise<T>) => Promise<T>][] = [
    ["em.transactional()", (work) => orm.em.fork().transactional(work)],
    ["runTransaction()", (work) => runTransaction(orm, work)],
  ];

  describe.each(transactions)("in %s", (_name, transaction) => {
    it("writes everything a transaction queued once, just before it commits", async () => {
      await transaction(async (em) => {
        expect(queue.peek(em)).toBeUndefined();
        queue.of(em).push("a");
        queue.of(em).push("b");
        expect(queue.peek(em)).toEqual(["a", "b"]);
        expect(writes).toEqual([]);
      });
      expect(writes).toEqual([["a", "b"]]);
      expect(await bodies()).toEqual(["a", "b"]);
    });

    it("keeps each transaction's queue apart, and the next transaction starts empty", async () => {
      await Promise.all([transaction(async (em) => queue.of(em).push("one")), transaction(async (em) => queue.of(em).push("two"))]);
      await transaction(async (em) => expect(queue.peek(em)).toBeUndefined());
      expect(writes.sort()).toEqual([["one"], ["two"]]);
    });

    it("drops the queue of a transaction that rolls back, and rolls back the transaction whose write fails", async () => {
      await expect(
        transaction(async (em) => {
          queue.of(em).push("dropped");
          throw new Error("the work failed");
        }),
      ).rejects.toThrow("the work failed");
      expect(writes).toEqual([]);
      await expect(
        transaction(async (em) => {
          await sql(em, "insert into lines (body) values ('x')");
          queue.of(em).push("x");
        }),
      ).rejects.toThrow(/duplicate key/);
      expect(await bodies()).toEqual([]);
    });
  });

  it("has no queue outside a transaction, and makes none", () => {
    const em = orm.em.fork();
    expect(queue.peek(em)).toBeUndefined();
    expect(() => queue.of(em)).toThrow(/inside a transaction/);
  });
});
