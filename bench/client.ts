import { Agent, request as httpRequest } from "node:http";

/**
 * A small JSON client for the gateway's REST routes over HTTP/1.1 keep-alive.
 *
 * Two transports: node:http with a keep-alive Agent (the default) and the global fetch (undici).
 * Measured on Node 20 against a trivial local server, 64 concurrent POSTs: node:http about
 * 60-75 µs of client CPU per request, fetch about 450-520 µs, so node:http leaves far more
 * of the machine to the mesh under test.
 */

export type Transport = "http" | "fetch";

export interface ClientOptions {
  /** Sockets kept open to the gateway; at least the number of concurrent callers. */
  maxSockets: number;
  transport?: Transport;
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** Attempts while the answer is transient (see isTransient); default 1. Only for requests that are safe to repeat. */
  attempts?: number;
}

/** A request that did not answer 2xx: `code` is the REST error code, `http_<status>` or a transport error code. */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly body?: unknown,
    /** Seconds, from a Retry-After header. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** Shedding or an overloaded upstream (503), rate limiting (429), a lost connection or a client timeout: worth another attempt. */
export function isTransient(error: unknown): boolean {
  const code = errorCode(error);
  return (
    ["unavailable", "deadline_exceeded", "resource_exhausted", "client_timeout", "socket hang up"].includes(code) ||
    code.startsWith("econn") ||
    code === "epipe"
  );
}

/** How long to wait before attempt `attempt + 1`: the server's Retry-After if any, else exponential, with jitter; at most 5 s. */
export function retryDelayMs(error: unknown, attempt: number): number {
  const hinted = error instanceof RequestError && error.retryAfter !== undefined ? error.retryAfter * 1000 : 0;
  const base = Math.max(hinted, Math.min(5_000, 100 * 2 ** (attempt - 1)));
  return Math.min(5_000, base) * (0.5 + Math.random() / 2);
}

/** The error code used for counting: the gateway's code (`invalid_argument`, `unavailable`, ...) or a transport code. */
export function errorCode(error: unknown): string {
  if (error instanceof RequestError) return error.code;
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof code === "string") return code.toLowerCase();
  if ((error as Error)?.name === "TimeoutError" || (error as Error)?.name === "AbortError") return "client_timeout";
  return "client_error";
}

function toError(status: number, text: string, retryAfter?: string | null): RequestError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const error = (body as { error?: { code?: string; message?: string } })?.error;
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  return new RequestError(error?.code ?? `http_${status}`, status, error?.message ?? `HTTP ${status}`, body, Number.isFinite(seconds) ? seconds : undefined);
}

function buildPath(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

interface Answer {
  status: number;
  text: string;
  retryAfter?: string | null;
}

export class GatewayClient {
  readonly baseUrl: string;
  private readonly agent?: Agent;
  private readonly url: URL;
  private readonly transport: Transport;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: ClientOptions) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.url = new URL(this.baseUrl);
    if (this.url.protocol !== "http:") throw new Error(`only http:// gateways are supported, got ${baseUrl}`);
    this.transport = options.transport ?? "http";
    this.timeoutMs = options.timeoutMs ?? 30_000;
    if (this.transport === "http") {
      this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: "lifo" });
    }
  }

  /** Sends a request, repeated while transient up to `options.attempts`; the parsed JSON body of a 2xx answer, else RequestError. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, options);
      } catch (error) {
        if (attempt >= (options.attempts ?? 1) || !isTransient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs(error, attempt)));
      }
    }
  }

  /** Sends one request; resolves with the parsed JSON body of a 2xx answer, rejects with RequestError otherwise. */
  async once<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) headers["content-type"] = "application/json";
    const target = buildPath(path, options.query);
    const { status, text, retryAfter } =
      this.transport === "http" ? await this.viaHttp(method, target, headers, payload) : await this.viaFetch(method, target, headers, payload);
    if (status < 200 || status >= 300) throw toError(status, text, retryAfter);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T = unknown>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, options);
  }

  post<T = unknown>(path: string, body: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>("POST", path, { ...options, body });
  }

  close(): void {
    this.agent?.destroy();
  }

  private viaHttp(method: string, path: string, headers: Record<string, string>, payload?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
      const req = httpRequest(
        { host: this.url.hostname, port: this.url.port || 80, method, path, headers, agent: this.agent, timeout: this.timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const retryAfter = res.headers["retry-after"];
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString("utf8"),
              retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("request timed out"), { code: "client_timeout" })));
      req.on("error", reject);
      req.end(payload);
    });
  }

  private async viaFetch(method: string, path: string, headers: Record<string, string>, payload?: string): Promise<Answer> {
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    return { status: res.status, text: await res.text(), retryAfter: res.headers.get("retry-after") };
  }
}

/** Every item of a paged list route (`next_page_token`), page by page. */
export async function listAll<T>(client: GatewayClient, path: string, key: string, options: RequestOptions = {}, pageSize = 100): Promise<T[]> {
  const out: T[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.get<Record<string, unknown>>(path, { ...options, query: { ...options.query, page_size: pageSize, page_token: pageToken } });
    out.push(...((page[key] as T[] | undefined) ?? []));
    pageToken = (page.next_page_token as string | undefined) || undefined;
  } while (pageToken);
  return out;
}

/** Runs `fn` over `items` with at most `concurrency` calls at once; results in input order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(workers);
  return results;
}
