import { describe, expect, it } from "@jest/globals";
import { Code } from "../lib/errors.js";
import { IdempotencyStore, idempotencyKey, keyReused, requestHash } from "./idempotency.js";

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("IdempotencyStore", () => {
  it("keeps the first response per scope and key", () => {
    const store = new IdempotencyStore<string>({ ttlMs: 60_000, maxKeys: 10 });
    expect(store.lookup("alice", "k1")).toEqual({ state: "absent" });
    const reservation = store.reserve("alice", "k1");
    expect(store.lookup("alice", "k1")).toEqual({ state: "pending" });
    reservation.complete("hash-1", "response-1");
    expect(store.lookup("alice", "k1")).toEqual({ state: "done", requestHash: "hash-1", value: "response-1" });
    // Keys are per principal: Bob's k1 is another key.
    expect(store.lookup("bob", "k1")).toEqual({ state: "absent" });
  });

  it("forgets an abandoned key, so the retry runs again", () => {
    const store = new IdempotencyStore<string>({ ttlMs: 60_000, maxKeys: 10 });
    store.reserve("alice", "k1").abandon();
    expect(store.lookup("alice", "k1")).toEqual({ state: "absent" });
  });

  it("expires entries after the TTL", () => {
    const time = clock();
    const store = new IdempotencyStore<string>({ ttlMs: 1_000, maxKeys: 10, now: time.now });
    store.reserve("alice", "k1").complete("h", "v");
    time.advance(999);
    expect(store.lookup("alice", "k1").state).toBe("done");
    time.advance(1);
    expect(store.lookup("alice", "k1").state).toBe("absent");
  });

  it("evicts the oldest entries beyond maxKeys", () => {
    const store = new IdempotencyStore<number>({ ttlMs: 60_000, maxKeys: 3 });
    for (let i = 0; i < 5; i++) store.reserve("alice", `k${i}`).complete("h", i);
    expect(store.size).toBe(3);
    expect(store.lookup("alice", "k0").state).toBe("absent");
    expect(store.lookup("alice", "k4").state).toBe("done");
  });

  it("ignores a stale reservation completing after its key was evicted and reused", () => {
    const store = new IdempotencyStore<string>({ ttlMs: 60_000, maxKeys: 1 });
    const stale = store.reserve("alice", "k1");
    store.reserve("alice", "k2"); // evicts k1
    const fresh = store.reserve("alice", "k1");
    stale.complete("old", "old");
    expect(store.lookup("alice", "k1").state).toBe("pending");
    fresh.complete("new", "new");
    expect(store.lookup("alice", "k1")).toMatchObject({ requestHash: "new" });
  });
});

describe("request hashes and keys", () => {
  it("hashes parts unambiguously", () => {
    expect(requestHash("ab", "c")).not.toBe(requestHash("a", "bc"));
    expect(requestHash("POST /x", Buffer.from("{}"))).toBe(requestHash("POST /x", "{}"));
  });

  it("validates the Idempotency-Key header", () => {
    expect(idempotencyKey(undefined)).toBeUndefined();
    expect(idempotencyKey("order-2024-0001")).toBe("order-2024-0001");
    expect(() => idempotencyKey("")).toThrow(/Idempotency-Key/);
    expect(() => idempotencyKey("has space")).toThrow(/printable ASCII/);
    expect(() => idempotencyKey("x".repeat(256))).toThrow(/1 to 255/);
    expect(keyReused()).toMatchObject({ code: Code.INVALID_ARGUMENT, options: { httpStatus: 422 } });
  });
});
