import { FileService } from "../../gen/shop/file/v1/file_pb.js";
import { bool, ConfigError, type EnvReader, int, optionalStr, readConfig, str, url } from "../../lib/config.js";
import { createLogger } from "../../lib/log.js";
import { readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { fileConsumers } from "./consumers.js";
import { DEFAULT_CONTENT_TYPES, mediaTypeOf } from "./domain/upload-rules.js";
import { entities } from "./entities.js";
import { Files } from "./migrations/0001-files.js";
import { InvoicesFromConfirmation } from "./migrations/0002-invoices-from-confirmation.js";
import { fileRpc } from "./rpc.js";
import { ObjectStore, type S3Settings } from "./storage.js";

const MiB = 1024 * 1024;

export interface FileConfig extends RuntimeConfig {
  s3: S3Settings;
  /** Largest upload accepted (FILE_MAX_BYTES, default 10 MiB); uploads are buffered in memory. */
  maxFileBytes: number;
  /** Media types uploads may have (FILE_CONTENT_TYPES, comma-separated). */
  allowedContentTypes: string[];
}

/** A comma-separated list of media types, each canonicalized (lower case, no parameters). */
function mediaTypes(name: string, fallback: readonly string[]): EnvReader<string[]> {
  return (env) => {
    const raw = str(name, fallback.join(","))(env);
    const entries = raw
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    const bad = entries.filter((entry) => !mediaTypeOf(entry));
    if (entries.length === 0 || bad.length > 0) {
      throw new ConfigError([`${name} must be a comma-separated list of media types such as text/plain, got "${raw}"`]);
    }
    return [...new Set(entries.map((entry) => mediaTypeOf(entry) as string))];
  };
}

/**
 * Runtime settings plus S3 and upload rules. S3_ENDPOINT unset means AWS S3 with the SDK's
 * default credential chain; set (s3rver, MinIO), path-style addressing and the S3RVER/S3RVER
 * keys are the defaults.
 */
export function readFileConfig(env: NodeJS.ProcessEnv = process.env): FileConfig {
  const { endpoint } = readConfig({ endpoint: (e) => (optionalStr("S3_ENDPOINT")(e) ? url("S3_ENDPOINT", ["http:", "https:"])(e) : undefined) }, env);
  const local = endpoint !== undefined;
  const settings = readConfig(
    {
      region: str("S3_REGION", "us-east-1"),
      bucket: str("S3_BUCKET", "ordermesh"),
      accessKeyId: local ? str("S3_ACCESS_KEY_ID", "S3RVER") : optionalStr("S3_ACCESS_KEY_ID"),
      secretAccessKey: local ? str("S3_SECRET_ACCESS_KEY", "S3RVER") : optionalStr("S3_SECRET_ACCESS_KEY"),
      forcePathStyle: bool("S3_FORCE_PATH_STYLE", local),
      ensureBucket: bool("S3_ENSURE_BUCKET", true),
      connectTimeoutMs: int("S3_CONNECT_TIMEOUT_MS", 3_000, { min: 1 }),
      socketTimeoutMs: int("S3_SOCKET_TIMEOUT_MS", 30_000, { min: 1 }),
      maxAttempts: int("S3_MAX_ATTEMPTS", 3, { min: 1, max: 10 }),
      maxFileBytes: int("FILE_MAX_BYTES", 10 * MiB, { min: 1, max: 100 * MiB }),
      allowedContentTypes: mediaTypes("FILE_CONTENT_TYPES", DEFAULT_CONTENT_TYPES),
    },
    env,
  );
  if ((settings.accessKeyId === undefined) !== (settings.secretAccessKey === undefined)) {
    throw new ConfigError(["S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together"]);
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(settings.bucket)) {
    throw new ConfigError([`S3_BUCKET must be a valid bucket name (3-63 lower-case letters, digits, "." and "-"), got "${settings.bucket}"`]);
  }
  const { accessKeyId, secretAccessKey, maxFileBytes, allowedContentTypes, ...s3 } = settings;
  return {
    ...readRuntimeConfig("file", env),
    s3: { ...s3, endpoint, credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined },
    maxFileBytes,
    allowedContentTypes,
  };
}

export const migrations = [
  { name: "file-0001-files", class: Files },
  { name: "file-0002-invoices-from-confirmation", class: InvoicesFromConfirmation },
];

/**
 * Starts the file service: uploads and downloads, file metadata, and the invoice of every confirmed
 * order. Fails at start when the bucket is unusable (see ObjectStore.ensureBucket).
 */
export async function start(config: FileConfig, options: StartOptions = {}): Promise<RunningService> {
  const logger = options.logger ?? createLogger("file");
  const store = new ObjectStore(config.s3, logger);
  await store.ensureBucket().catch((error: unknown) => {
    store.destroy();
    throw error;
  });
  return startService(
    {
      name: "file",
      entities,
      migrations,
      rpc: ({ orm }) => [serve(FileService, fileRpc({ orm, store, maxFileBytes: config.maxFileBytes, allowedContentTypes: config.allowedContentTypes }))],
      consumers: () => fileConsumers({ store }),
      // Once nothing can use it any more: in-flight downloads and invoices still need S3.
      closeAfterStop: [{ name: "S3 client", close: () => store.destroy() }],
    },
    config,
    { ...options, logger },
  );
}
