import { createHash, createHmac } from "node:crypto";
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** What a signature needs to know about the caller (an SDK credential identity fits). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3PutSettings {
  /** S3-compatible endpoint; undefined for AWS S3 in `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  /** Resolved before every request: static keys, or a (memoizing) provider such as the SDK's default chain. */
  credentials: () => Promise<S3Credentials>;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  /** Attempts per PUT, the first included; only transient failures are tried again. */
  maxAttempts: number;
}

export interface S3PutRequest {
  key: string;
  body: Buffer;
  contentType: string;
  /** x-amz-meta-* headers: ASCII keys and values only. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

/** S3 refused a request: `code` is its error code (e.g. SignatureDoesNotMatch), `status` the HTTP status. */
export class S3ResponseError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "S3ResponseError";
  }
}

const SERVICE = "s3";
const RETRYABLE_NETWORK = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN"]);

/**
 * PutObject as one SigV4-signed HTTP PUT over kept-alive connections: what the invoice path
 * needs of S3, without the SDK's middleware stack (3-3.6 ms of CPU per PUT in profiles). The
 * payload is signed by its SHA-256 and carries a Content-MD5, so S3 rejects a body damaged on
 * the way. Throws S3ResponseError for a refusal and the network error for a failed exchange,
 * after retrying connection resets, timeouts, throttling and 5xx up to `maxAttempts`.
 */
export class S3Put {
  readonly #settings: S3PutSettings;
  readonly #origin: URL;
  readonly #pathPrefix: string;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  // The signing key changes once a day (and with the secret): derived once, not per request.
  #signingKey?: { day: string; secret: string; key: Buffer };

  constructor(settings: S3PutSettings) {
    this.#settings = settings;
    const endpoint = new URL(settings.endpoint ?? `https://s3.${settings.region}.amazonaws.com`);
    // Virtual-hosted style needs the bucket in a DNS name: a name with dots breaks TLS wildcards.
    const pathStyle = settings.forcePathStyle || settings.bucket.includes(".");
    if (!pathStyle) endpoint.hostname = `${settings.bucket}.${endpoint.hostname}`;
    this.#origin = endpoint;
    this.#pathPrefix = `${endpoint.pathname.replace(/\/$/, "")}${pathStyle ? `/${settings.bucket}` : ""}`;
    const https = endpoint.protocol === "https:";
    this.#agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.#request = https ? httpsRequest : httpRequest;
  }

  /** Stores `body` at `key`, replacing what was there. */
  async put({ key, body, contentType, metadata = {}, signal }: S3PutRequest): Promise<void> {
    const credentials = await this.#settings.credentials();
    const path = `${this.#pathPrefix}/${encodeKey(key)}`;
    const payloadHash = createHash("sha256").update(body).digest("hex");
    const headers: Record<string, string> = {
      host: this.#origin.host,
      "content-length": String(body.length),
      "content-md5": createHash("md5").update(body).digest("base64"),
      "content-type": contentType,
      "x-amz-content-sha256": payloadHash,
    };
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;

    for (let attempt = 1; ; attempt++) {
      try {
        // Signed per attempt: the date is part of the signature and S3 allows 15 minutes of skew.
        const signed = { ...headers, ...this.#sign("PUT", path, headers, payloadHash, credentials, new Date()) };
        return await this.#send(path, signed, body, signal);
      } catch (error) {
        if (signal?.aborted || attempt >= this.#settings.maxAttempts || !isTransient(error)) throw error;
        await delay(50 * 2 ** attempt * Math.random(), signal);
      }
    }
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    this.#agent.destroy();
  }

  /** The x-amz-date and authorization headers of a request (AWS Signature Version 4). */
  #sign(
    method: string,
    path: string,
    headers: Record<string, string>,
    payloadHash: string,
    credentials: S3Credentials,
    now: Date,
  ): { "x-amz-date": string; authorization: string } {
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${this.#settings.region}/${SERVICE}/aws4_request`;
    // Header names are lower case already; content-length need not be signed.
    const all: Record<string, string> = { ...headers, "x-amz-date": amzDate };
    const names = Object.keys(all)
      .filter((name) => name !== "content-length")
      .sort();
    const canonicalHeaders = names.map((name) => `${name}:${all[name].trim().replace(/\s+/g, " ")}\n`).join("");
    const signedHeaders = names.join(";");
    const canonicalRequest = [method, path, "", canonicalHeaders, signedHeaders, payloadHash].join("\n");
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
    const signature = createHmac("sha256", this.#keyFor(day, credentials.secretAccessKey)).update(stringToSign).digest("hex");
    return {
      "x-amz-date": amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
  }

  #keyFor(day: string, secret: string): Buffer {
    const cached = this.#signingKey;
    if (cached?.day === day && cached.secret === secret) return cached.key;
    const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), this.#settings.region), SERVICE), "aws4_request");
    this.#signingKey = { day, secret, key };
    return key;
  }

  #send(path: string, headers: Record<string, string>, body: Buffer, signal?: AbortSignal): Promise<void> {
    const { connectTimeoutMs, socketTimeoutMs } = this.#settings;
    return new Promise<void>((resolve, reject) => {
      const req = this.#request(
        { protocol: this.#origin.protocol, hostname: this.#origin.hostname, port: this.#origin.port, method: "PUT", path, headers, agent: this.#agent, signal },
        (res) => {
          readBody(res).then((text) => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${status}`;
            const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "";
            reject(new S3ResponseError(code, status, `S3 refused PUT ${path}: ${code}, HTTP ${status}${message ? ` (${message})` : ""}`));
          }, reject);
        },
      );
      req.setTimeout(socketTimeoutMs, () => req.destroy(timeoutError(`no response within ${socketTimeoutMs} ms`)));
      req.once("socket", (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(timeoutError(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
        socket.once("connect", () => clearTimeout(timer));
        socket.once("close", () => clearTimeout(timer));
      });
      req.once("error", reject);
      req.end(body);
    });
  }
}

/** The key as a URI path: every byte but unreserved characters and "/" percent-encoded, as SigV4 for S3 requires. */
function encodeKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/%2F/g, "/")
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.once("error", reject);
  });
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: "ETIMEDOUT" });
}

/** Worth another attempt: a dropped or timed-out connection (a kept-alive socket the server just closed), throttling, 5xx. */
function isTransient(error: unknown): boolean {
  if (error instanceof S3ResponseError) return error.status >= 500 || error.status === 429 || error.code === "SlowDown" || error.code === "RequestTimeout";
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && RETRYABLE_NETWORK.has(code);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
