import { describe, expect, it } from "@jest/globals";
import { Code } from "../../../lib/errors.js";
import { ProviderRejectedError } from "./provider.js";
import { SimulatedProvider } from "./simulated.js";

/** A deterministic random source (mulberry32) for failure-rate tests. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function chargeRequest(token: string, idempotencyKey = `charge:${token}:${Math.random()}`, amountMinor = 1999n) {
  return { idempotencyKey, amount: { currencyCode: "USD", amountMinor }, token };
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => "resolved",
    (error: { code?: unknown }) => error.code,
  );
}

describe("SimulatedProvider test tokens", () => {
  it("approves tok_visa (4242), tok_mastercard (4444) and any other tok_ token (0000)", async () => {
    const provider = new SimulatedProvider();
    await expect(provider.charge(chargeRequest("tok_visa"))).resolves.toMatchObject({
      status: "succeeded",
      last4: "4242",
      reference: expect.stringMatching(/^ch_sim_/),
    });
    await expect(provider.charge(chargeRequest("tok_mastercard"))).resolves.toMatchObject({ status: "succeeded", last4: "4444" });
    await expect(provider.charge(chargeRequest("tok_whatever_123"))).resolves.toMatchObject({ status: "succeeded", last4: "0000" });
    expect(provider.charges).toHaveLength(3);
  });

  it("declines tok_declined, tok_insufficient_funds and tokens that are not tok_ tokens", async () => {
    const provider = new SimulatedProvider();
    await expect(provider.charge(chargeRequest("tok_declined"))).resolves.toEqual({ status: "declined", reason: "card_declined", last4: "0002" });
    await expect(provider.charge(chargeRequest("tok_insufficient_funds"))).resolves.toMatchObject({ status: "declined", reason: "insufficient_funds" });
    await expect(provider.charge(chargeRequest("4242424242424242"))).resolves.toEqual({ status: "declined", reason: "invalid_token" });
    expect(provider.charges).toHaveLength(0);
  });

  it("answers tok_unavailable with UNAVAILABLE", async () => {
    const provider = new SimulatedProvider();
    expect(await codeOf(provider.charge(chargeRequest("tok_unavailable")))).toBe(Code.UNAVAILABLE);
    expect(provider.charges).toHaveLength(0);
  });

  it("lets tok_timeout hang until the caller's deadline, then DEADLINE_EXCEEDED", async () => {
    const provider = new SimulatedProvider();
    const started = Date.now();
    expect(await codeOf(provider.charge(chargeRequest("tok_timeout"), { signal: AbortSignal.timeout(100) }))).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    const noSignal = new SimulatedProvider({ maxHangMs: 20 });
    expect(await codeOf(noSignal.charge(chargeRequest("tok_timeout")))).toBe(Code.DEADLINE_EXCEEDED);
  });

  it("adds the configured latency, cut short by the deadline", async () => {
    const provider = new SimulatedProvider({ latencyMs: 60 });
    const started = Date.now();
    await provider.charge(chargeRequest("tok_visa"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(await codeOf(provider.charge(chargeRequest("tok_visa"), { signal: AbortSignal.timeout(10) }))).toBe(Code.DEADLINE_EXCEEDED);
  });
});

describe("SimulatedProvider idempotency", () => {
  it("returns the first result for a repeated key and charges once", async () => {
    const provider = new SimulatedProvider();
    const first = await provider.charge(chargeRequest("tok_visa", "charge:order-1"));
    const again = await Promise.all([1, 2, 3].map(() => provider.charge(chargeRequest("tok_visa", "charge:order-1"))));
    for (const result of again) expect(result).toEqual(first);
    expect(provider.chargesFor("charge:order-1")).toHaveLength(1);
    expect(provider.chargeAttempts.get("charge:order-1")).toBe(4);
  });

  it("remembers declines too, but not outages", async () => {
    const provider = new SimulatedProvider();
    const declined = await provider.charge(chargeRequest("tok_declined", "charge:order-2"));
    await expect(provider.charge(chargeRequest("tok_declined", "charge:order-2"))).resolves.toEqual(declined);
    await expect(provider.charge(chargeRequest("tok_unavailable", "charge:order-3"))).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    await expect(provider.charge(chargeRequest("tok_unavailable", "charge:order-3"))).rejects.toMatchObject({ code: Code.UNAVAILABLE });
  });

  it("rejects a key reused with another amount or card", async () => {
    const provider = new SimulatedProvider();
    await provider.charge(chargeRequest("tok_visa", "charge:order-4", 100n));
    await expect(provider.charge(chargeRequest("tok_visa", "charge:order-4", 200n))).rejects.toBeInstanceOf(ProviderRejectedError);
    await expect(provider.charge(chargeRequest("tok_mastercard", "charge:order-4", 100n))).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });
    expect(provider.charges).toHaveLength(1);
  });

  it("refunds once per key and never more than was charged", async () => {
    const provider = new SimulatedProvider();
    const charge = await provider.charge(chargeRequest("tok_visa", "charge:order-5", 1000n));
    if (charge.status !== "succeeded") throw new Error("expected a charge");
    const first = await provider.refund({ idempotencyKey: "refund:order-5:1", chargeReference: charge.reference, amountMinor: 600n });
    await expect(provider.refund({ idempotencyKey: "refund:order-5:1", chargeReference: charge.reference, amountMinor: 600n })).resolves.toEqual(first);
    expect(provider.refunds).toHaveLength(1);
    await expect(provider.refund({ idempotencyKey: "refund:order-5:2", chargeReference: charge.reference, amountMinor: 401n })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );
    await provider.refund({ idempotencyKey: "refund:order-5:2", chargeReference: charge.reference, amountMinor: 400n });
    expect(provider.charges[0].refundedMinor).toBe(1000n);
    await expect(provider.refund({ idempotencyKey: "refund:x:1", chargeReference: "pi_unknown", amountMinor: 1n })).rejects.toBeInstanceOf(
      ProviderRejectedError,
    );
  });
});

describe("SimulatedProvider failure rate", () => {
  it("fails the configured share of calls, reproducibly with a seeded random source", async () => {
    const run = async () => {
      const provider = new SimulatedProvider({ failureRate: 0.3, random: seeded(42) });
      const outcomes: string[] = [];
      for (let i = 0; i < 400; i++) {
        outcomes.push(
          await provider.charge(chargeRequest("tok_visa", `k${i}`)).then(
            () => "ok",
            (e: { code: number }) => String(e.code),
          ),
        );
      }
      return outcomes;
    };
    const outcomes = await run();
    const failures = outcomes.filter((o) => o === String(Code.UNAVAILABLE)).length;
    expect(failures).toBeGreaterThan(80);
    expect(failures).toBeLessThan(160);
    expect(outcomes.every((o) => o === "ok" || o === String(Code.UNAVAILABLE))).toBe(true);
    expect(await run()).toEqual(outcomes);
  });

  it("charges nothing on an injected failure, so the retry charges once", async () => {
    let next = 0;
    const provider = new SimulatedProvider({ failureRate: 0.5, random: () => [0.1, 0.9][next++ % 2] });
    await expect(provider.charge(chargeRequest("tok_visa", "charge:order-6"))).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    await expect(provider.charge(chargeRequest("tok_visa", "charge:order-6"))).resolves.toMatchObject({ status: "succeeded" });
    expect(provider.chargesFor("charge:order-6")).toHaveLength(1);
  });

  it("never fails with rate 0 and always with rate 1", async () => {
    await expect(new SimulatedProvider({ failureRate: 0, random: () => 0 }).charge(chargeRequest("tok_visa"))).resolves.toMatchObject({ status: "succeeded" });
    await expect(new SimulatedProvider({ failureRate: 1, random: () => 0.999 }).charge(chargeRequest("tok_visa"))).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
    });
  });
});
