import { randomBytes } from "node:crypto";
import { dropDatabase, ensureDatabase, serviceDatabaseUrl } from "../../lib/db/database.js";

/** Infrastructure started once per run by global-setup.mjs. */
export function testInfra(): { databaseUrl: string; natsUrl: string; s3Endpoint: string } {
  const databaseUrl = process.env.ORDERMESH_TEST_DATABASE_URL;
  const natsUrl = process.env.ORDERMESH_TEST_NATS_URL;
  const s3Endpoint = process.env.ORDERMESH_TEST_S3_ENDPOINT;
  if (!databaseUrl || !natsUrl || !s3Endpoint) {
    throw new Error("test infrastructure is not running: run the tests through jest (npm test), which starts it");
  }
  return { databaseUrl, natsUrl, s3Endpoint };
}

/** A short random id, safe in database, stream and subject names. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}${randomBytes(5).toString("hex")}`;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database for one suite (or one test); drop it in afterAll. */
export async function createTestDatabase(prefix = "t"): Promise<TestDatabase> {
  const url = serviceDatabaseUrl(testInfra().databaseUrl, uniqueId(prefix));
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after
 * `timeoutMs` with `message` and the last value seen. Use instead of sleeping.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 25, message = "condition" }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
