import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { defineEntity, p } from "@mikro-orm/core";
import { createTestDatabase, type TestDatabase } from "../../test/harness/index.js";
import { afterCommit } from "./after-commit.js";
import { type Database, openDatabase } from "./database.js";
import { sql } from "./sql.js";
import { runTransaction } from "./transaction.js";

const Note = defineEntity({ name: "Note", tableName: "notes", properties: { id: p.string().primary(), body: p.string() } });

describe("runTransaction", () => {
  let db: TestDatabase;
  let orm: Database;

  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await openDatabase({ url: db.url, entities: [Note], migrations: [], poolMax: 2 });
    await orm.em.getKnex().raw("create table notes (id text primary key, body text not null)");
  });

  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  async function bodies(): Promise<string[]> {
    const rows = await sql<{ body: string }>(orm.em.fork(), "select body from notes order by id");
    return rows.map((row) => row.body);
  }

  it("commits sql(), raw and MikroORM writes together, unseen by others until the commit", async () => {
    let seenOutside: string[] = ["not read"];
    const txid = await runTransaction(orm, async (em) => {
      await sql(em, "insert into notes (id, body) values (?, ?)", ["a1", "from sql"]);
      em.create(Note, { id: "a2", body: "from the unit of work" }); // flushed by runTransaction
      const { rows } = await em.getTransactionContext<{ raw(text: string): Promise<{ rows: { txid: string }[] }> }>()!.raw("select txid_current() as txid");
      seenOutside = await bodies();
      return rows[0].txid;
    });
    expect(seenOutside).toEqual([]);
    expect(await bodies()).toEqual(["from sql", "from the unit of work"]);
    // Every statement ran in one transaction: the id it reported is over now.
    const [{ current }] = await sql<{ current: string }>(orm.em.fork(), "select txid_current()::text as current");
    expect(BigInt(current)).toBeGreaterThan(BigInt(txid));
    await sql(orm.em.fork(), "delete from notes");
  });

  it("rolls everything back when the work throws, runs afterCommit hooks only on commit, and refuses savepoints", async () => {
    const calls: string[] = [];
    await expect(
      runTransaction(orm, async (em) => {
        afterCommit(em, () => calls.push("rolled back"));
        await sql(em, "insert into notes (id, body) values (?, ?)", ["b1", "lost"]);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await bodies()).toEqual([]);
    await runTransaction(orm, async (em) => {
      afterCommit(em, () => calls.push("committed"));
      expect(calls).toEqual([]);
    });
    expect(calls).toEqual(["committed"]);
    await expect(runTransaction(orm, (em) => em.transactional(() => Promise.resolve()))).rejects.toThrow(/nested transactions/);
  });

  it("rolls back a failed statement and leaves the connection usable", async () => {
    await expect(runTransaction(orm, (em) => sql(em, "select * from no_such_table"))).rejects.toThrow(/no_such_table/);
    // poolMax is 2: both connections are handed out again and must not be stuck in an aborted transaction.
    await Promise.all([1, 2, 3].map((n) => runTransaction(orm, (em) => sql(em, "insert into notes (id, body) values (?, ?)", [`c${n}`, `ok ${n}`]))));
    expect(await bodies()).toEqual(["ok 1", "ok 2", "ok 3"]);
    await sql(orm.em.fork(), "delete from notes");
  });

  it("discards a connection that died in the transaction: the next transactions get working ones", async () => {
    await expect(runTransaction(orm, (em) => sql(em, "select pg_terminate_backend(pg_backend_pid())"))).rejects.toThrow();
    const results = await Promise.all([1, 2, 3].map(() => runTransaction(orm, (em) => sql<{ one: number }>(em, "select 1 as one"))));
    expect(results.map((rows) => rows[0].one)).toEqual([1, 1, 1]);
  });
});
