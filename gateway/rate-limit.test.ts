import { describe, expect, it } from "@jest/globals";
import { RateLimiter, retryAfterSeconds } from "./rate-limit.js";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("RateLimiter (token buckets)", () => {
  it("allows a burst, then refuses with the time until the next token", () => {
    const time = clock();
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3, now: time.now });
    expect([1, 2, 3].map(() => limiter.take("a").ok)).toEqual([true, true, true]);
    const refused = limiter.take("a");
    expect(refused).toEqual({ ok: false, retryAfterMs: 500 });
    time.advance(499);
    expect(limiter.take("a").ok).toBe(false);
    time.advance(1);
    expect(limiter.take("a").ok).toBe(true);
  });

  it("refills at the configured rate, never above the burst", () => {
    const time = clock();
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, now: time.now });
    for (let i = 0; i < 5; i++) limiter.take("a");
    time.advance(60_000);
    const results = Array.from({ length: 6 }, () => limiter.take("a").ok);
    expect(results).toEqual([true, true, true, true, true, false]);
  });

  it("keeps one bucket per key", () => {
    const time = clock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, now: time.now });
    expect(limiter.take("alice").ok).toBe(true);
    expect(limiter.take("alice").ok).toBe(false);
    expect(limiter.take("bob").ok).toBe(true);
  });

  it("is disabled by a rate of 0", () => {
    const limiter = new RateLimiter({ ratePerSecond: 0, burst: 1 });
    expect(Array.from({ length: 100 }, () => limiter.take("a").ok).every(Boolean)).toBe(true);
    expect(limiter.size).toBe(0);
  });

  it("bounds its memory: full buckets and then the least recently used are evicted", () => {
    const time = clock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 100, now: time.now });
    for (let i = 0; i < 1_000; i++) limiter.take(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
    // A drained bucket that is still remembered keeps refusing.
    limiter.take("hot");
    limiter.take("hot");
    expect(limiter.take("hot").ok).toBe(false);
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });
});
