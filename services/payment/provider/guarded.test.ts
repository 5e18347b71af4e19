import { afterEach, describe, expect, it } from "@jest/globals";
import { Code } from "../../../lib/errors.js";
import { type Breaker, createBreaker } from "../../../lib/grpc/index.js";
import { MAX_DECLINE_REASON } from "./answers.js";
import { GuardedProvider, withDeadline } from "./guarded.js";
import type { ChargeResult, PaymentProvider } from "./provider.js";
import { SimulatedProvider } from "./simulated.js";

const breakers: Breaker[] = [];

function guarded(inner: PaymentProvider, timeoutMs = 1_000, volumeThreshold = 5) {
  const breaker = createBreaker("payment-provider", { volumeThreshold, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 });
  breakers.push(breaker);
  return { provider: new GuardedProvider(inner, { timeoutMs, breaker }), breaker };
}

afterEach(() => {
  for (const breaker of breakers.splice(0)) breaker.shutdown();
});

function charge(token: string, key = `charge:${Math.random()}`) {
  return { idempotencyKey: key, amount: { currencyCode: "EUR", amountMinor: 500n }, token };
}

describe("GuardedProvider", () => {
  it("passes answers through, declines included", async () => {
    const { provider } = guarded(new SimulatedProvider());
    await expect(provider.charge(charge("tok_visa"))).resolves.toMatchObject({ status: "succeeded", last4: "4242" });
    await expect(provider.charge(charge("tok_declined"))).resolves.toMatchObject({ status: "declined", reason: "card_declined" });
  });

  it("ends a hanging call at its deadline with DEADLINE_EXCEEDED", async () => {
    const { provider } = guarded(new SimulatedProvider(), 80);
    const started = Date.now();
    await expect(provider.charge(charge("tok_timeout"))).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("cuts off a provider that ignores the abort signal", async () => {
    const started = Date.now();
    await expect(withDeadline(50, () => new Promise((resolve) => setTimeout(resolve, 400)))).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(Date.now() - started).toBeLessThan(300);
  });

  it("opens the circuit after repeated UNAVAILABLE and then fails fast without calling the provider", async () => {
    const inner = new SimulatedProvider();
    const { provider, breaker } = guarded(inner);
    for (let i = 0; i < 5; i++) await expect(provider.charge(charge("tok_unavailable", "charge:down"))).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    expect(breaker.opened).toBe(true);
    const attempts = inner.chargeAttempts.get("charge:down");
    const started = Date.now();
    await expect(provider.charge(charge("tok_visa", "charge:while-open"))).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      message: "payment-provider unavailable (circuit open)",
    });
    expect(Date.now() - started).toBeLessThan(50);
    expect(inner.chargeAttempts.get("charge:while-open")).toBeUndefined();
    expect(inner.chargeAttempts.get("charge:down")).toBe(attempts);
  });

  it("counts timeouts as failures but not declines or rejected requests", async () => {
    const { provider, breaker } = guarded(new SimulatedProvider(), 20);
    for (let i = 0; i < 10; i++) await provider.charge(charge("tok_declined"));
    await expect(provider.refund({ idempotencyKey: "r", chargeReference: "unknown", amountMinor: 1n })).rejects.toMatchObject({
      code: Code.FAILED_PRECONDITION,
    });
    expect(breaker.opened).toBe(false);
    for (let i = 0; i < 12; i++) await provider.charge(charge("tok_timeout")).catch(() => undefined);
    expect(breaker.opened).toBe(true);
  });

  it("answers with text the service can store: NUL and half emoji repaired, long reasons cut, odd last4 dropped", async () => {
    let answer: ChargeResult = { status: "declined", reason: "do not honour\u0000 \ud83d", last4: "12a4" };
    const inner: PaymentProvider = { charge: async () => answer, refund: async () => ({ reference: "re_\u0000" }) };
    const { provider } = guarded(inner);
    await expect(provider.charge(charge("tok_any"))).resolves.toEqual({ status: "declined", reason: "do not honour\ufffd \ufffd" });
    answer = { status: "declined", reason: `${"x".repeat(MAX_DECLINE_REASON - 1)}😀`, last4: "0002" };
    await expect(provider.charge(charge("tok_any"))).resolves.toEqual({ status: "declined", reason: "x".repeat(MAX_DECLINE_REASON - 1), last4: "0002" });
    answer = { status: "succeeded", reference: "ch_\u0000", last4: "\u00004242" };
    await expect(provider.charge(charge("tok_any"))).resolves.toEqual({ status: "succeeded", reference: "ch_\ufffd", last4: "" });
    await expect(provider.refund({ idempotencyKey: "r", chargeReference: "ch_1", amountMinor: 1n })).resolves.toEqual({ reference: "re_\ufffd" });
  });
});
