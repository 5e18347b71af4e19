import { describe, expect, it } from "@jest/globals";
import { Code, ServiceError } from "../errors.js";
import { Breaker, throughBreaker } from "./breaker.js";
import { backoffMs, RetryBudget } from "./retry-budget.js";
import { UpstreamCallError } from "./status.js";

const down = () => Promise.reject(new ServiceError(Code.UNAVAILABLE, "down"));
const up = () => Promise.resolve("ok");

/** A breaker on a fake clock; it opens after 4 calls at > 50% failures. */
function breaker(options: { halfOpenProbes?: number } = {}) {
  let now = 0;
  const b = new Breaker("inventory", { volumeThreshold: 4, resetTimeoutMs: 10, rollingWindowMs: 1_000, ...options }, undefined, () => now);
  return { b, advance: (ms: number) => (now += ms) };
}

async function openIt(b: Breaker) {
  for (let i = 0; i < 4; i++) await throughBreaker(b, down).catch(() => undefined);
  expect(b.opened).toBe(true);
}

async function halfOpen(b: Breaker) {
  await new Promise<void>((resolve) => b.once("halfOpen", () => resolve()));
}

describe("Breaker", () => {
  it("refuses while open with a local UNAVAILABLE that no breaker counts", async () => {
    const { b } = breaker();
    await openIt(b);
    const refused = await throughBreaker(b, up).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: Code.UNAVAILABLE, message: "inventory unavailable (circuit open)", local: true });
    b.shutdown();
  });

  it("lets a bounded number of trial calls through while half-open, and one failed trial does not reopen it", async () => {
    const { b } = breaker({ halfOpenProbes: 2 });
    await openIt(b);
    await halfOpen(b);
    const waiting: (() => void)[] = [];
    const slow = () => new Promise<string>((resolve) => waiting.push(() => resolve("late")));
    const first = throughBreaker(b, slow);
    const second = throughBreaker(b, slow);
    // A third caller is refused: only two trials at once.
    await expect(throughBreaker(b, up)).rejects.toMatchObject({ message: "inventory unavailable (circuit open)" });
    for (const release of waiting) release();
    await Promise.all([first, second]);
    expect(b.closed).toBe(true);

    await openIt(b);
    await halfOpen(b);
    await expect(throughBreaker(b, down)).rejects.toMatchObject({ message: "down" });
    expect(b.halfOpen).toBe(true);
    await expect(throughBreaker(b, down)).rejects.toMatchObject({ message: "down" });
    expect(b.opened).toBe(true);
    b.shutdown();
  });

  it("starts a fresh window when it closes, so the outage's failures cannot reopen it", async () => {
    const { b } = breaker();
    await openIt(b);
    await halfOpen(b);
    await throughBreaker(b, up);
    expect(b.closed).toBe(true);
    expect(b.stats.failures).toBe(0);
    // One failure right after recovery: 1 of 1, but under the volume threshold.
    await throughBreaker(b, down).catch(() => undefined);
    expect(b.closed).toBe(true);
    b.shutdown();
  });

  it("ignores errors blamed on the upstream's own dependency and errors raised locally", async () => {
    const { b } = breaker();
    const blamed = new UpstreamCallError(Code.UNAVAILABLE, "inventory unavailable", undefined, "order", "inventory");
    const local = new UpstreamCallError(Code.UNAVAILABLE, "too many calls in flight", undefined, "order", undefined, true);
    for (let i = 0; i < 10; i++) {
      await throughBreaker(b, () => Promise.reject(blamed)).catch(() => undefined);
      await throughBreaker(b, () => Promise.reject(local)).catch(() => undefined);
    }
    expect(b.closed).toBe(true);
    expect(b.stats.failures).toBe(0);
    b.shutdown();
  });

  it("forgets failures older than the rolling window", async () => {
    const { b, advance } = breaker();
    for (let i = 0; i < 3; i++) await throughBreaker(b, down).catch(() => undefined);
    advance(1_500);
    await throughBreaker(b, down).catch(() => undefined);
    expect(b.closed).toBe(true);
    expect(b.stats.failures).toBe(1);
    b.shutdown();
  });
});

describe("RetryBudget", () => {
  it("allows retries while healthy and stops them during a sustained outage, until successes refill it", () => {
    const budget = new RetryBudget(10, 0.5);
    const allowed = Array.from({ length: 10 }, () => budget.onRetryableFailure());
    // 10 tokens, retries only above 5: the first four failures may retry, then none.
    expect(allowed.filter(Boolean)).toHaveLength(4);
    expect(budget.onRetryableFailure()).toBe(false);
    for (let i = 0; i < 20; i++) budget.onSuccess();
    expect(budget.onRetryableFailure()).toBe(true);
  });

  it("spreads backoffs with full jitter under an exponential cap", () => {
    expect(backoffMs(1, 50, 1_000, () => 0.999)).toBe(49);
    expect(backoffMs(4, 50, 1_000, () => 0.5)).toBe(200);
    expect(backoffMs(10, 50, 1_000, () => 0.999)).toBe(999);
    expect(backoffMs(3, 50, 1_000, () => 0)).toBe(0);
  });
});
