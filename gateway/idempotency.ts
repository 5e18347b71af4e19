import { createHash } from "node:crypto";
import { Code } from "../lib/errors.js";
import { GatewayError } from "./errors.js";

/**
 * Idempotency-Key support: the first request with a key runs and its response is kept; a replay
 * (same principal, same key, same request) gets that response again; the same key with another
 * request is refused (422); a replay while the first is still running is 409.
 *
 * Two backends: `KvIdempotencyStore` (idempotency-kv.ts) keeps the records in NATS JetStream
 * key-value, shared by every replica, so a retry that lands on another replica is replayed; it
 * is used whenever NATS_URL is set. This in-memory LRU (bounded by `maxKeys`, with a TTL) serves
 * a single gateway without NATS. In both, a request with a key that is still running elsewhere
 * is answered 409 ABORTED with Retry-After: 1 (not waited for), and a failed or non-2xx request
 * releases its key so that its retry runs. CreateOrder is additionally de-duplicated by the
 * order service itself (idempotency_keys), which the gateway passes the key to.
 */

/** The outcome of claiming a key: run the request, wait (409), or replay the stored response. */
export type Claim<T> = { state: "claimed"; reservation: Reservation<T> } | { state: "pending" } | { state: "done"; requestHash: string; value: T };

/** Where idempotency records live (in memory, or in NATS KV shared by all replicas). */
export interface IdempotencyBackend<T> {
  /** Atomically looks the key up and, if absent, claims it for this request. */
  claim(scope: string, key: string): Promise<Claim<T>>;
}

export type Lookup<T> = { state: "absent" } | { state: "pending" } | { state: "done"; requestHash: string; value: T };

interface Entry<T> {
  expiresAt: number;
  /** Undefined while the first request runs. */
  done?: { requestHash: string; value: T };
  /** Identifies the reservation, so a stale reservation cannot complete a newer one. */
  token: symbol;
}

export interface Reservation<T> {
  /** Stores the response of the first request. */
  complete(requestHash: string, value: T): void | Promise<void>;
  /** Forgets the key (the request failed in a way worth retrying, e.g. an upstream outage). */
  abandon(): void | Promise<void>;
}

export class IdempotencyStore<T> implements IdempotencyBackend<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #ttlMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: { ttlMs: number; maxKeys: number; now?: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxKeys = options.maxKeys;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  lookup(scope: string, key: string): Lookup<T> {
    const id = entryId(scope, key);
    const entry = this.#entries.get(id);
    if (!entry) return { state: "absent" };
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(id);
      return { state: "absent" };
    }
    return entry.done ? { state: "done", ...entry.done } : { state: "pending" };
  }

  async claim(scope: string, key: string): Promise<Claim<T>> {
    const found = this.lookup(scope, key);
    if (found.state !== "absent") return found;
    return { state: "claimed", reservation: this.reserve(scope, key) };
  }

  /** Marks the key as in progress. Call right after a lookup that said "absent". */
  reserve(scope: string, key: string): Reservation<T> {
    const id = entryId(scope, key);
    const token = Symbol(id);
    this.#evict();
    this.#entries.set(id, { expiresAt: this.#now() + this.#ttlMs, token });
    const mine = () => this.#entries.get(id)?.token === token;
    return {
      complete: (requestHash, value) => {
        if (!mine()) return;
        // Re-inserted: the map stays ordered by last write, which is what eviction relies on.
        this.#entries.delete(id);
        this.#entries.set(id, { expiresAt: this.#now() + this.#ttlMs, token, done: { requestHash, value } });
      },
      abandon: () => {
        if (mine()) this.#entries.delete(id);
      },
    };
  }

  #evict(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size < this.#maxKeys && entry.expiresAt > now) break;
      this.#entries.delete(id);
    }
  }
}

function entryId(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

/** SHA-256 (hex) over the parts of a request that must match for a replay. */
export function requestHash(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return hash.digest("hex");
}

export const IDEMPOTENCY_HEADER = "idempotency-key";

/** The Idempotency-Key header: 1 to 255 printable ASCII characters, or undefined when absent. */
export function idempotencyKey(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new GatewayError(Code.INVALID_ARGUMENT, "Idempotency-Key: must be 1 to 255 printable ASCII characters without spaces", {
      field: "Idempotency-Key",
    });
  }
  return value;
}

export function keyReused(): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, "Idempotency-Key: was already used with a different request", {
    field: "Idempotency-Key",
    httpStatus: 422,
  });
}

export function keyInProgress(): GatewayError {
  return new GatewayError(Code.ABORTED, "Idempotency-Key: a request with this key is still in progress; retry later", {
    field: "Idempotency-Key",
    retryAfterSeconds: 1,
  });
}
