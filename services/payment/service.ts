import { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";
import { decimal, int, readConfig } from "../../lib/config.js";
import { type BreakerOptions, createBreaker } from "../../lib/grpc/index.js";
import { createLogger } from "../../lib/log.js";
import { FaultFlags, readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { paymentConsumers } from "./consumers.js";
import { entities } from "./entities.js";
import { Payments } from "./migrations/0001-payments.js";
import { IntentsAwaitingOrder } from "./migrations/0002-intents-awaiting-order.js";
import { IntentTraceParent } from "./migrations/0003-trace-parent.js";
import { GuardedProvider, type PaymentProvider, SimulatedProvider } from "./provider/index.js";
import { paymentRpc } from "./rpc.js";
import { startTokenSweeper } from "./token-sweeper.js";

export interface PaymentConfig extends RuntimeConfig {
  /** Latency the simulated provider adds to every call (PAYMENT_PROVIDER_LATENCY_MS, default 0). */
  providerLatencyMs: number;
  /** Share of simulated provider calls that fail with UNAVAILABLE (PAYMENT_PROVIDER_FAILURE_RATE, 0..1, default 0). */
  providerFailureRate: number;
  /** Deadline of every provider call (PAYMENT_PROVIDER_TIMEOUT_MS, default 3000). */
  providerTimeoutMs: number;
  /** Events each consumer handles at once (PAYMENT_CONSUMER_CONCURRENCY, default 4). */
  consumerConcurrency: number;
  /** Age after which a never-settled intent's token is wiped (PAYMENT_INTENT_TOKEN_TTL_MS, default 24 h). */
  intentTokenTtlMs: number;
  /** How often stale intents are looked for (PAYMENT_INTENT_SWEEP_MS, default 10 min). */
  intentSweepIntervalMs: number;
  /** Consumer attempts per event (default 4, as every consumer); the charge gives up on the last. */
  consumerMaxDeliver?: number;
  /** Waits between consumer attempts (default 1 s, 2 s, 4 s); tests shorten them. */
  consumerBackoffMs?: number[];
  /** Tuning of the provider's circuit breaker (lib defaults otherwise). */
  providerBreaker?: BreakerOptions;
}

export function readPaymentConfig(env: NodeJS.ProcessEnv = process.env): PaymentConfig {
  return {
    ...readRuntimeConfig("payment", env),
    ...readConfig(
      {
        providerLatencyMs: int("PAYMENT_PROVIDER_LATENCY_MS", 0, { min: 0, max: 600_000 }),
        providerFailureRate: decimal("PAYMENT_PROVIDER_FAILURE_RATE", 0, { min: 0, max: 1 }),
        providerTimeoutMs: int("PAYMENT_PROVIDER_TIMEOUT_MS", 3_000, { min: 1, max: 600_000 }),
        consumerConcurrency: int("PAYMENT_CONSUMER_CONCURRENCY", 4, { min: 1, max: 64 }),
        intentTokenTtlMs: int("PAYMENT_INTENT_TOKEN_TTL_MS", 24 * 3_600_000, { min: 1 }),
        intentSweepIntervalMs: int("PAYMENT_INTENT_SWEEP_MS", 10 * 60_000, { min: 10 }),
      },
      env,
    ),
  };
}

export const migrations = [
  { name: "payment-0001-payments", class: Payments },
  { name: "payment-0002-intents-awaiting-order", class: IntentsAwaitingOrder },
  { name: "payment-0003-trace-parent", class: IntentTraceParent },
];

export interface PaymentStartOptions extends StartOptions {
  /** The provider to charge through (default: a SimulatedProvider configured from `config`). */
  provider?: PaymentProvider;
}

/**
 * Starts the payment service: the PaymentService RPCs, the saga steps (intent on
 * order.created, charge on inventory.reserved, refund or no-charge on order.cancelled /
 * order.expired / order.rejected) and the stale-token sweeper. Every provider call goes through
 * one circuit breaker with a deadline.
 */
export async function start(config: PaymentConfig, options: PaymentStartOptions = {}): Promise<RunningService> {
  const { provider: injected, ...startOptions } = options;
  const logger = startOptions.logger ?? createLogger("payment");
  const breaker = createBreaker("payment-provider", config.providerBreaker, logger);
  const faults = startOptions.faultFlags ?? new FaultFlags();
  const provider = new GuardedProvider(
    injected ??
      new SimulatedProvider({ latencyMs: config.providerLatencyMs, failureRate: config.providerFailureRate, faults: () => faults.provider("payment") }),
    { timeoutMs: config.providerTimeoutMs, breaker },
  );
  return startService(
    {
      name: "payment",
      entities,
      migrations,
      rpc: ({ orm }) => [serve(PaymentService, paymentRpc({ orm, provider }))],
      consumers: () =>
        paymentConsumers({
          provider,
          maxDeliver: config.consumerMaxDeliver ?? 4,
          backoffMs: config.consumerBackoffMs ?? [1_000, 2_000, 4_000],
          concurrency: config.consumerConcurrency,
        }),
      workers: (deps) => [startTokenSweeper(deps, { intervalMs: config.intentSweepIntervalMs, maxAgeMs: config.intentTokenTtlMs })],
      closeAfterStop: [{ name: "provider circuit breaker", close: () => breaker.shutdown() }],
    },
    config,
    { ...startOptions, logger, faultFlags: faults },
  );
}
