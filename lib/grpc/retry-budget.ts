/**
 * A retry budget per upstream, as a token bucket (the scheme of gRPC's retry throttling): it
 * holds up to `maxTokens`; every failed attempt worth retrying takes one, every success gives
 * back `tokenRatio`. Retries are allowed only while more than half the tokens are left. So while
 * an upstream is healthy retries are free, and while it is failing they stop at about
 * `tokenRatio` retries per success instead of multiplying the load on it.
 */
export class RetryBudget {
  #tokens: number;

  constructor(
    private readonly maxTokens = 10,
    private readonly tokenRatio = 0.1,
  ) {
    if (!(maxTokens > 0) || !(tokenRatio > 0)) throw new Error("maxTokens and tokenRatio must be positive");
    this.#tokens = maxTokens;
  }

  get tokens(): number {
    return this.#tokens;
  }

  /** An attempt succeeded (or failed in a way that proves the upstream works). */
  onSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.tokenRatio);
  }

  /** An attempt failed in a way worth retrying; true if a retry is within the budget. */
  onRetryableFailure(): boolean {
    this.#tokens = Math.max(0, this.#tokens - 1);
    return this.#tokens > this.maxTokens / 2;
  }
}

/** Retry settings of a client (off unless maxAttempts > 1). */
export interface RetryOptions {
  /** Attempts per call including the first (default 1: no retries). Where the mesh retries (Istio), keep 1. */
  maxAttempts?: number;
  /** Cap of the first backoff; each later one doubles it, up to maxDelayMs (default 50 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Size of the retry budget's bucket (default 10) and the tokens a success gives back (default 0.1). */
  budgetTokens?: number;
  budgetRatio?: number;
}

/** "Full jitter" backoff before retry number `retry` (1-based): uniform in [0, min(max, base * 2^(retry-1))]. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (retry - 1)));
}
