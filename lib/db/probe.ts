import pg from "pg";

/** A cheap, pool-independent check that the database answers: `select 1` on one kept connection. */
export interface DatabaseProbe {
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Keeps one connection of its own (not from the service's pool, so a pool exhausted by slow
 * requests does not read as an outage, and an outage is seen even with no traffic). A failed
 * query drops the connection; the next check connects anew.
 */
export function databaseProbe(url: string, connectTimeoutMs = 2_000): DatabaseProbe {
  let client: pg.Client | undefined;
  let closed = false;
  const drop = () => {
    const old = client;
    client = undefined;
    old?.end().catch(() => undefined);
  };
  return {
    async check() {
      if (closed) throw new Error("probe closed");
      try {
        if (!client) {
          const fresh = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, application_name: "health-probe" });
          // A connection that dies between checks must not crash the process.
          fresh.on("error", () => {
            if (client === fresh) drop();
          });
          client = fresh;
          await fresh.connect();
        }
        await client.query("select 1");
      } catch (error) {
        drop();
        throw error;
      }
    },
    async close() {
      closed = true;
      const old = client;
      client = undefined;
      await old?.end().catch(() => undefined);
    },
  };
}
