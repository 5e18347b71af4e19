/**
 * Token buckets: each key holds up to `burst` tokens and regains `ratePerSecond` per second; a
 * request takes one. A refused request learns how long until a token is back (Retry-After).
 * In-memory and per process: with several gateway replicas each enforces its own share.
 */

export type Clock = () => number;

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export interface RateLimiterOptions {
  /** Tokens regained per second; 0 disables the limiter (every take succeeds). */
  ratePerSecond: number;
  /** Bucket capacity: the largest burst allowed after a quiet period. */
  burst: number;
  /** Buckets kept at most; idle (full) buckets go first, then the least recently used. */
  maxKeys?: number;
  now?: Clock;
}

export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: Clock;
  /** Map order is recency order: a key is re-inserted on every take. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions) {
    if (options.burst < 1) throw new Error("burst must be at least 1");
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#rate > 0;
  }

  /** Number of buckets held (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string): TakeResult {
    if (!this.enabled) return { ok: true };
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.#rate) / 1000);
    bucket.at = now;
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.#rate) };
  }

  /**
   * Drops buckets that have refilled completely (they equal a fresh one), then the least
   * recently used, down to 90% of the limit so that eviction runs only now and then.
   */
  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.#rate) / 1000 >= this.#burst) this.#buckets.delete(key);
    }
    const target = Math.floor(this.#maxKeys * 0.9) - 1;
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}

/** Retry-After in whole seconds (at least 1) for a refusal. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
