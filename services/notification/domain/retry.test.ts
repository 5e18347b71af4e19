import { describe, expect, it } from "@jest/globals";
import { afterFailure, MAX_RETRY_DELAY_MS, retryDelayMs } from "./retry.js";

describe("retry", () => {
  it("doubles the wait after every failed attempt, up to a cap", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 1000))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(40, 1000)).toBe(MAX_RETRY_DELAY_MS);
  });

  it("retries transient failures until the last attempt", () => {
    const failure = { maxAttempts: 4, permanent: false, retryBaseMs: 100 };
    expect(afterFailure({ ...failure, attempts: 1 })).toEqual({ kind: "retry", delayMs: 100 });
    expect(afterFailure({ ...failure, attempts: 3 })).toEqual({ kind: "retry", delayMs: 400 });
    expect(afterFailure({ ...failure, attempts: 4 })).toEqual({ kind: "give_up", why: "no success after 4 attempts" });
  });

  it("gives up a permanent failure at once", () => {
    expect(afterFailure({ attempts: 1, maxAttempts: 4, permanent: true, retryBaseMs: 100 })).toEqual({ kind: "give_up", why: "permanent failure" });
  });
});
