import { createHash, randomBytes } from "node:crypto";
import {
  type ChargeRequest,
  type ChargeResult,
  type PaymentProvider,
  type ProviderCallOptions,
  ProviderRejectedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  type RefundRequest,
  type RefundResult,
} from "./provider.js";

type TokenBehaviour =
  { outcome: "succeed"; last4: string } | { outcome: "decline"; reason: string; last4: string } | { outcome: "timeout" } | { outcome: "unavailable" };

/**
 * The deterministic test tokens of the simulated provider. Any other `tok_...` token is
 * approved with last4 "0000"; a token that does not start with `tok_` is declined as
 * `invalid_token`.
 */
export const TEST_TOKENS: Readonly<Record<string, TokenBehaviour>> = {
  /** Approved, last4 4242. */
  tok_visa: { outcome: "succeed", last4: "4242" },
  /** Approved, last4 4444. */
  tok_mastercard: { outcome: "succeed", last4: "4444" },
  /** Declined: card_declined. */
  tok_declined: { outcome: "decline", reason: "card_declined", last4: "0002" },
  /** Declined: insufficient_funds. */
  tok_insufficient_funds: { outcome: "decline", reason: "insufficient_funds", last4: "9995" },
  /** Never answers: the call runs into its deadline (DEADLINE_EXCEEDED). */
  tok_timeout: { outcome: "timeout" },
  /** The provider answers UNAVAILABLE. */
  tok_unavailable: { outcome: "unavailable" },
};

export function tokenBehaviour(token: string): TokenBehaviour {
  if (Object.hasOwn(TEST_TOKENS, token)) return TEST_TOKENS[token];
  if (token.startsWith("tok_")) return { outcome: "succeed", last4: "0000" };
  return { outcome: "decline", reason: "invalid_token", last4: "" };
}

export interface SimulatedProviderOptions {
  /** Added to every call (default 0). */
  latencyMs?: number;
  /** Share of calls, 0..1, that fail with UNAVAILABLE before doing anything (default 0). */
  failureRate?: number;
  /** Source of randomness for `failureRate` (default Math.random); inject a seeded one in tests. */
  random?: () => number;
  /** How long `tok_timeout` hangs when the caller passes no abort signal (default 60 s). */
  maxHangMs?: number;
  /**
   * Runtime fault flags: when this returns a value, its failure rate and latency replace the
   * configured ones (asked on every call, so a flag set through the admin API applies at once).
   */
  faults?: () => { failureRate: number; latencyMs: number } | undefined;
}

/** A charge the simulated provider made (what a provider dashboard would list). */
export interface SimulatedCharge {
  reference: string;
  idempotencyKey: string;
  currencyCode: string;
  amountMinor: bigint;
  last4: string;
  refundedMinor: bigint;
}

export interface SimulatedRefund {
  reference: string;
  idempotencyKey: string;
  chargeReference: string;
  amountMinor: bigint;
}

/**
 * An in-memory payment provider with deterministic test tokens (see TEST_TOKENS), configurable
 * latency and failure rate, and real-provider idempotency: a repeated idempotency key with the
 * same parameters returns the first result without charging again; with other parameters it is
 * rejected. Declines are remembered like successes; failures (UNAVAILABLE, timeouts) are not,
 * since nothing happened. It records every charge and refund so tests can assert that an order
 * was charged exactly once.
 *
 * It forgets everything when the process ends. A refund of a `ch_sim_` charge it does not
 * remember (made before a restart) is therefore accepted without an amount check.
 */
export class SimulatedProvider implements PaymentProvider {
  latencyMs: number;
  failureRate: number;
  readonly #random: () => number;
  readonly #maxHangMs: number;
  readonly #faults: () => { failureRate: number; latencyMs: number } | undefined;

  /** Charges made, in order. */
  readonly charges: SimulatedCharge[] = [];
  /** Refunds made, in order. */
  readonly refunds: SimulatedRefund[] = [];
  /** Charge requests received per idempotency key, including replays and failed attempts. */
  readonly chargeAttempts = new Map<string, number>();

  readonly #chargeResults = new Map<string, { params: string; result: ChargeResult }>();
  readonly #refundResults = new Map<string, { params: string; result: RefundResult }>();

  constructor(options: SimulatedProviderOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.failureRate = options.failureRate ?? 0;
    this.#random = options.random ?? Math.random;
    this.#maxHangMs = options.maxHangMs ?? 60_000;
    this.#faults = options.faults ?? (() => undefined);
  }

  /** The charges made under `idempotencyKey` (at most one, by construction). */
  chargesFor(idempotencyKey: string): SimulatedCharge[] {
    return this.charges.filter((c) => c.idempotencyKey === idempotencyKey);
  }

  async charge(request: ChargeRequest, options: ProviderCallOptions = {}): Promise<ChargeResult> {
    const key = request.idempotencyKey;
    this.chargeAttempts.set(key, (this.chargeAttempts.get(key) ?? 0) + 1);
    await this.#respond(options.signal);

    const params = `${request.amount.currencyCode}:${request.amount.amountMinor}:${fingerprint(request.token)}`;
    const previous = this.#chargeResults.get(key);
    if (previous) {
      if (previous.params !== params) throw new ProviderRejectedError("idempotency key reused with different parameters");
      return previous.result;
    }

    const behaviour = tokenBehaviour(request.token);
    let result: ChargeResult;
    switch (behaviour.outcome) {
      case "timeout":
        await sleep(this.#maxHangMs, options.signal);
        throw new ProviderTimeoutError();
      case "unavailable":
        throw new ProviderUnavailableError();
      case "decline":
        result = { status: "declined", reason: behaviour.reason, ...(behaviour.last4 ? { last4: behaviour.last4 } : {}) };
        break;
      case "succeed": {
        const reference = `ch_sim_${randomBytes(8).toString("hex")}`;
        this.charges.push({
          reference,
          idempotencyKey: key,
          currencyCode: request.amount.currencyCode,
          amountMinor: request.amount.amountMinor,
          last4: behaviour.last4,
          refundedMinor: 0n,
        });
        result = { status: "succeeded", reference, last4: behaviour.last4 };
        break;
      }
    }
    this.#chargeResults.set(key, { params, result });
    return result;
  }

  async refund(request: RefundRequest, options: ProviderCallOptions = {}): Promise<RefundResult> {
    await this.#respond(options.signal);
    const key = request.idempotencyKey;
    const params = `${request.chargeReference}:${request.amountMinor}`;
    const previous = this.#refundResults.get(key);
    if (previous) {
      if (previous.params !== params) throw new ProviderRejectedError("idempotency key reused with different parameters");
      return previous.result;
    }
    if (request.amountMinor <= 0n) throw new ProviderRejectedError("refund amount must be positive");
    const charge = this.charges.find((c) => c.reference === request.chargeReference);
    if (!charge && !request.chargeReference.startsWith("ch_sim_")) throw new ProviderRejectedError("no such charge");
    if (charge) {
      if (charge.refundedMinor + request.amountMinor > charge.amountMinor) throw new ProviderRejectedError("refund exceeds the charge");
      charge.refundedMinor += request.amountMinor;
    }
    const result = { reference: `re_sim_${randomBytes(8).toString("hex")}` };
    this.refunds.push({ reference: result.reference, idempotencyKey: key, chargeReference: request.chargeReference, amountMinor: request.amountMinor });
    this.#refundResults.set(key, { params, result });
    return result;
  }

  /** Latency, then the injected failure rate: what every call goes through first. */
  async #respond(signal: AbortSignal | undefined): Promise<void> {
    const { latencyMs, failureRate } = this.#faults() ?? this;
    if (latencyMs > 0) await sleep(latencyMs, signal);
    if (signal?.aborted) throw new ProviderTimeoutError();
    if (failureRate > 0 && this.#random() < failureRate) throw new ProviderUnavailableError("payment provider unavailable (injected failure)");
  }
}

function fingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Waits `ms`; rejects with ProviderTimeoutError as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ProviderTimeoutError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ProviderTimeoutError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
