import type { Readable } from "node:stream";
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { Code, ServiceError } from "../../lib/errors.js";
import { type Breaker, createBreaker, type BreakerOptions } from "../../lib/grpc/index.js";
import { throughBreaker } from "../../lib/grpc/index.js";
import type { Logger } from "../../lib/log.js";
import { S3Put, S3ResponseError } from "./s3-put.js";

/** How to reach the bucket (S3_* settings). */
export interface S3Settings {
  /** S3-compatible endpoint (s3rver, MinIO); undefined for AWS S3 itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Static credentials; undefined means the SDK's default chain (env, profile, IRSA, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  forcePathStyle: boolean;
  /** Create the bucket at start when it is missing (off where the bucket is provisioned elsewhere). */
  ensureBucket: boolean;
  /** Give up connecting after this long (a blackholed endpoint otherwise hangs until the OS gives up). */
  connectTimeoutMs: number;
  /** Close a socket idle for this long in the middle of a request. */
  socketTimeoutMs: number;
  /** SDK attempts per operation, the first included. */
  maxAttempts: number;
  breaker?: BreakerOptions;
}

export interface PutOptions {
  contentType: string;
  /** x-amz-meta-* headers: ASCII keys and values only. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * The bucket, through one circuit breaker ("s3"): S3 and network failures become UNAVAILABLE
 * ServiceErrors, which the breaker counts, so a dead S3 fails fast instead of tying up every
 * upload, download and invoice for the length of a timeout; a missing object is NOT_FOUND and
 * a cancelled call CANCELLED, which it does not count.
 */
export class ObjectStore {
  readonly bucket: string;
  readonly breaker: Breaker;
  readonly #client: S3Client;
  readonly #put: S3Put;
  readonly #settings: S3Settings;

  constructor(settings: S3Settings, logger?: Logger) {
    this.#settings = settings;
    this.bucket = settings.bucket;
    this.#client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      credentials: settings.credentials,
      forcePathStyle: settings.forcePathStyle,
      maxAttempts: settings.maxAttempts,
      // ARCHITECTURE section 2: with the SDK's default (WHEN_SUPPORTED) uploads are sent with
      // aws-chunked encoding and a trailing checksum, and S3-compatible servers (s3rver, older
      // MinIO) store the chunk framing as part of the object.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { connectionTimeout: settings.connectTimeoutMs, socketTimeout: settings.socketTimeoutMs },
    });
    const fixed = settings.credentials;
    // PutObject, the hot path (every invoice), goes around the SDK; with no static keys it signs
    // with whatever the SDK's default chain resolves (env, profile, IRSA; memoized by the SDK).
    this.#put = new S3Put({
      ...settings,
      credentials: fixed ? () => Promise.resolve(fixed) : () => this.#client.config.credentials(),
    });
    this.breaker = createBreaker("s3", settings.breaker, logger);
  }

  /** Where the bucket lives, for messages. */
  get location(): string {
    return `s3 bucket "${this.bucket}"${this.#settings.endpoint ? ` at ${this.#settings.endpoint}` : ""}`;
  }

  /**
   * Makes sure the bucket exists (HeadBucket, CreateBucket when it is missing), unless
   * `ensureBucket` is off. Throws an Error naming the bucket and endpoint when S3 cannot be
   * reached or refuses: a service that cannot store files should not start.
   */
  async ensureBucket(): Promise<void> {
    if (!this.#settings.ensureBucket) return;
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (!isNotFound(error)) throw new Error(`${this.location} is not usable: ${describe(error)}`, { cause: error });
    }
    try {
      await this.#client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
      throw new Error(`${this.location} is missing and could not be created: ${describe(error)}`, { cause: error });
    }
  }

  /** Stores `body` at `key` (replacing what was there), with a Content-MD5 that S3 verifies. */
  async put(key: string, body: Buffer, options: PutOptions): Promise<void> {
    await this.#run(key, options.signal, (signal) => this.#put.put({ key, body, contentType: options.contentType, metadata: options.metadata, signal }));
  }

  /**
   * Opens the object at `key` for reading. The breaker covers opening it (until the response
   * headers); the caller reads the stream and must destroy it when it stops early.
   */
  async open(key: string, signal?: AbortSignal): Promise<Readable> {
    const output = await this.#run(key, signal, (abortSignal) => this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }));
    if (!output.Body) throw new ServiceError(Code.UNAVAILABLE, `object storage returned no content for ${key}`);
    // In Node the SDK's streaming body is an http.IncomingMessage.
    return output.Body as Readable;
  }

  /** Removes the object at `key`; a missing object is not an error. */
  async delete(key: string): Promise<void> {
    await this.#run(key, undefined, (abortSignal) => this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }));
  }

  /** Closes the SDK's sockets and the breaker; later calls fail with UNAVAILABLE. */
  destroy(): void {
    this.breaker.shutdown();
    this.#put.destroy();
    this.#client.destroy();
  }

  async #run<T>(key: string, signal: AbortSignal | undefined, operation: (abortSignal?: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted) throw cancelled(signal);
    return throughBreaker(this.breaker, async () => {
      try {
        return await operation(signal);
      } catch (error) {
        throw toStorageError(error, key, signal);
      }
    });
  }
}

/** The ServiceError for a failed S3 call (see ObjectStore). */
export function toStorageError(error: unknown, key: string, signal?: AbortSignal): ServiceError {
  if (error instanceof ServiceError) return error;
  if (signal?.aborted) return cancelled(signal);
  if (isNotFound(error)) return new ServiceError(Code.NOT_FOUND, `object ${key} not found in storage`);
  // Everything else says the storage cannot do its job now: refused or reset connections,
  // timeouts, 5xx, throttling, a missing bucket or credentials it does not accept.
  return new ServiceError(Code.UNAVAILABLE, `object storage unavailable (${describe(error)})`);
}

function cancelled(signal: AbortSignal): ServiceError {
  return signal.reason instanceof ServiceError ? signal.reason : new ServiceError(Code.CANCELLED, "call cancelled");
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  if (name === "NoSuchKey" || name === "NotFound") return true;
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404 && name !== "NoSuchBucket";
}

/** A short reason without request details: the error's code and HTTP status, or its network code. */
function describe(error: unknown): string {
  if (error instanceof S3ServiceException) return `${error.name}, HTTP ${error.$metadata.httpStatusCode ?? "?"}`;
  if (error instanceof S3ResponseError) return `${error.code}, HTTP ${error.status}`;
  const { code, name, message } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === "string") return code;
  // The SDK wraps errors from another realm (jest's vm contexts) as plain messages: "... connect ECONNREFUSED ...".
  const fromMessage = typeof message === "string" ? /\b(E[A-Z]{3,})\b/.exec(message)?.[1] : undefined;
  if (fromMessage) return fromMessage;
  return typeof name === "string" && name !== "Error" ? name : "network error";
}
