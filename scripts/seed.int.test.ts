import { afterAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { dropDatabase, serviceDatabaseUrl } from "../lib/db/index.js";
import { testInfra } from "../test/harness/index.js";

const run = promisify(execFile);

async function count(database: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: serviceDatabaseUrl(testInfra().databaseUrl, database) });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

describe("npm run seed", () => {
  afterAll(async () => {
    for (const name of ["ordermesh_inventory", "ordermesh_order"]) await dropDatabase(serviceDatabaseUrl(testInfra().databaseUrl, name));
  });

  it("loads five products and the dev customer, and keeps them on a second run", async () => {
    const env = { ...process.env, DATABASE_URL: testInfra().databaseUrl, LOG_LEVEL: "warn" };
    for (let i = 0; i < 2; i++) {
      await run(process.execPath, ["--import", "tsx", "scripts/seed.ts"], { env, cwd: new URL("..", import.meta.url).pathname });
      expect(await count("ordermesh_inventory", "products")).toBe(5);
      expect(await count("ordermesh_order", "customers")).toBe(1);
    }
  }, 60_000);
});
