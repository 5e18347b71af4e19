import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { type RunningNats, startNats } from "./nats.js";
import { type RunningPostgres, startPostgres } from "./postgres.js";
import { type RunningS3, startS3 } from "./s3.js";

export interface Infra {
  databaseUrl: string;
  natsUrl: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

/** Default bucket for invoices and uploads. */
export const DEFAULT_BUCKET = "ordermesh";

/**
 * Starts PostgreSQL, NATS JetStream and S3 side by side under `root`. If any fails, the others
 * are stopped before the error is thrown, so a failed start leaves no process behind.
 */
export async function startInfra(options: { root: string; persistent?: boolean; buckets?: string[] }): Promise<Infra> {
  // mkdtemp makes 0700 directories; the unprivileged postgres user must be able to enter it.
  await chmod(options.root, 0o755);
  const started = await Promise.allSettled([
    startPostgres({ dir: join(options.root, "postgres"), persistent: options.persistent }),
    startNats({ dir: join(options.root, "nats") }),
    startS3({ dir: join(options.root, "s3"), buckets: options.buckets ?? [DEFAULT_BUCKET] }),
  ]);
  const stops = started.flatMap((r) => (r.status === "fulfilled" ? [r.value.stop] : []));
  const stopAll = async () => {
    await Promise.allSettled(stops.map((stop) => stop()));
  };
  const failures = started.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failures.length > 0) {
    await stopAll();
    throw new Error(`test infrastructure failed to start:\n${failures.map((e) => e.message).join("\n")}`);
  }
  const [pg, nats, s3] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [RunningPostgres, RunningNats, RunningS3];
  return { databaseUrl: pg.url, natsUrl: nats.url, s3Endpoint: s3.endpoint, stop: stopAll };
}
