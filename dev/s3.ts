import { mkdir } from "node:fs/promises";
import S3rver from "s3rver";

export interface RunningS3 {
  /** Path-style endpoint, e.g. http://127.0.0.1:41234 (any access key is accepted). */
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts s3rver (an S3-compatible server on the filesystem) with `buckets` created. */
export async function startS3(options: { dir: string; port?: number; buckets?: string[] }): Promise<RunningS3> {
  await mkdir(options.dir, { recursive: true });
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    directory: options.dir,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => server.close(),
  };
}
