import { existsSync, lstatSync, realpathSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { othersCanReach, reachableDataDir } from "./postgres-as-root.js";
import { startPostgres } from "./postgres.js";

/**
 * A checkout in a directory other users cannot enter (a clone under /root, mode 0700): as root,
 * PostgreSQL runs as the postgres user, who must still reach the data directory.
 */
describe("embedded PostgreSQL in a private directory", () => {
  const cleanup: string[] = [];

  afterAll(async () => {
    for (const path of cleanup) await rm(path, { recursive: true, force: true });
  });

  async function privateDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "ordermesh-private-"));
    await chmod(dir, 0o700);
    cleanup.push(dir);
    return dir;
  }

  it("sees which paths other users can reach", async () => {
    const dir = await privateDir();
    expect(othersCanReach(join(dir, "data"))).toBe(false);
    expect(othersCanReach(join(tmpdir(), "anything"))).toBe(true);
  });

  it("moves an unreachable data directory where it can be reached, behind a symlink, and finds it again", async () => {
    const wanted = join(await privateDir(), ".data", "postgres");
    const actual = await reachableDataDir(wanted);
    cleanup.push(dirname(actual));
    expect(actual).not.toBe(wanted);
    expect(othersCanReach(actual)).toBe(true);
    expect(lstatSync(wanted).isSymbolicLink()).toBe(true);
    expect(await reachableDataDir(wanted)).toBe(actual);
  });

  (process.getuid?.() === 0 ? it : it.skip)(
    "starts as root from a private directory",
    async () => {
      const dir = join(await privateDir(), ".data", "postgres");
      const server = await startPostgres({ dir });
      cleanup.push(dirname(realpathSync(dir)));
      try {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
        await client.end();
      } finally {
        await server.stop();
      }
      expect(existsSync(join(dir, "PG_VERSION"))).toBe(false);
    },
    120_000,
  );
});
