import { errorCode, type GatewayClient, isTransient, listAll, mapConcurrent, retryDelayMs } from "../client.js";
import { LatencyHistogram } from "../histogram.js";
import { type Snapshot, statusCounts } from "../invariants.js";
import type { Figures } from "../report.js";
import type { SagaTimings } from "../saga.js";
import { type CustomerJson, IN_FLIGHT_STATUSES, type MovementJson, type OrderJson, type PaymentJson, type ProductJson, shortStatus } from "../model.js";
import { Progress, RateMeter } from "../progress.js";
import type { ResourceMeter, ResourceUsage } from "../resources.js";

/** What every scenario gets from main.ts. */
export interface BenchContext {
  client: GatewayClient;
  adminToken: string;
  /** A customer token for `customerId`. */
  tokenFor(customerId: string): Promise<string>;
  /** Unique per run: SKUs and e-mails carry it, so runs against one mesh never collide. */
  runId: string;
  /** Concurrency of setup and collection requests. */
  setupConcurrency: number;
  /** Longest wait for in-flight sagas after the load. */
  settleTimeoutMs: number;
  say(line: string): void;
  /** Present when the bench started the stack itself and can see its processes and servers. */
  resources?: {
    meter(): ResourceMeter;
    /** Waits until every consumer has caught up (the saga's trailing work is done); returns seconds. */
    quiet(): Promise<number>;
  };
}

/**
 * Starts measuring what the mesh spends; `finish()` (after the sagas settled) waits for the
 * trailing work (invoices, deliveries, notifications) and returns the usage.
 */
export async function measureResources(ctx: BenchContext): Promise<{ finish(): Promise<ResourceUsage | undefined> }> {
  if (!ctx.resources) return { finish: async () => undefined };
  const { meter: newMeter, quiet } = ctx.resources;
  const meter = newMeter();
  await meter.start();
  return {
    async finish() {
      const seconds = await quiet();
      ctx.say(`consumers caught up ${seconds.toFixed(1)} s after the sagas settled`);
      return meter.stop();
    },
  };
}

/** Attempts of setup and collection requests (repeatable: GETs, and POSTs with an Idempotency-Key) while the mesh is overloaded. */
export const SAFE_ATTEMPTS = 10;

export interface BenchCustomer {
  id: string;
  token: string;
}

/** Registers `count` customers through the gateway (admin) and mints a token for each. */
export async function createCustomers(ctx: BenchContext, prefix: string, count: number): Promise<BenchCustomer[]> {
  let done = 0;
  const progress = new Progress(`${prefix} setup`, () => `customers ${done}/${count}`).start();
  try {
    return await mapConcurrent(
      Array.from({ length: count }, (_, i) => i),
      ctx.setupConcurrency,
      async (i) => {
        const email = `bench-${ctx.runId}-${prefix}-${i}@bench.example`;
        const customer = await ctx.client.post<CustomerJson>(
          "/api/v1/customers",
          { email, name: `Bench ${prefix} ${i}` },
          { token: ctx.adminToken, headers: { "idempotency-key": email }, attempts: SAFE_ATTEMPTS },
        );
        done++;
        return { id: customer.id, token: await ctx.tokenFor(customer.id) };
      },
    );
  } finally {
    progress.stop();
  }
}

/** Adds a product with `quantity` units of initial stock (admin). */
export function createProduct(ctx: BenchContext, sku: string, quantity: number, priceMinor: number): Promise<ProductJson> {
  return ctx.client.post<ProductJson>(
    "/api/v1/inventory",
    {
      sku,
      name: `Bench product ${sku}`,
      description: "created by npm run bench",
      price: { currency_code: "EUR", amount_minor: String(priceMinor) },
      initial_quantity: quantity,
    },
    { token: ctx.adminToken, headers: { "idempotency-key": sku }, attempts: SAFE_ATTEMPTS },
  );
}

export const SHIPPING_ADDRESS = { line1: "1 Bench Street", city: "Loadtown", postal_code: "12345", country_code: "DE", recipient_name: "Bench Buyer" };

/** Counters of the load phase, shared by the workers and the progress line. */
export class LoadStats {
  accepted = 0;
  errors = 0;
  inFlight = 0;
  readonly errorsByCode: Record<string, number> = {};
  /** Failed attempts that were retried, by code. */
  readonly retries: Record<string, number> = {};
  readonly latency = new LatencyHistogram();
  readonly meter = new RateMeter();
  readonly orderIds: string[] = [];

  /**
   * Places one order and records the outcome; returns the order or undefined on error.
   * `scheduledAt` (epoch ms, open loop) is when the request should have gone out: latency
   * counts from then, so a backlog in the load generator is not hidden (coordinated omission).
   * With `attempts` > 1, shedding / rate limiting / connection failures are retried (counted
   * in `retries`); latency is that of the successful attempt. Retries need `idempotencyKey`
   * (sent as Idempotency-Key), so an attempt that did get through is not placed twice.
   */
  async place(
    ctx: BenchContext,
    token: string,
    body: unknown,
    options: { scheduledAt?: number; attempts?: number; idempotencyKey?: string; onError?: (error: unknown) => void } = {},
  ): Promise<OrderJson | undefined> {
    const headers = options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : undefined;
    const attempts = options.idempotencyKey ? (options.attempts ?? 1) : 1;
    this.inFlight++;
    try {
      for (let attempt = 1; ; attempt++) {
        const lag = options.scheduledAt === undefined || attempt > 1 ? 0 : Math.max(0, Date.now() - options.scheduledAt);
        const started = performance.now() - lag;
        try {
          const order = await ctx.client.post<OrderJson>("/api/v1/orders", body, { token, headers });
          this.latency.record(performance.now() - started);
          this.accepted++;
          this.meter.mark();
          this.orderIds.push(order.id);
          return order;
        } catch (error) {
          // "aborted": the same Idempotency-Key is still being served (409 + Retry-After);
          // "cancelled": the gateway's upstream call was cancelled (this client cancels nothing).
          const code = errorCode(error);
          if (attempt < attempts && (isTransient(error) || code === "aborted" || code === "cancelled")) {
            this.retries[code] = (this.retries[code] ?? 0) + 1;
            await new Promise((resolve) => setTimeout(resolve, retryDelayMs(error, attempt)));
            continue;
          }
          this.recordError(error);
          options.onError?.(error);
          return undefined;
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  recordError(error: unknown): void {
    this.errors++;
    const code = errorCode(error);
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  line(): string {
    return `accepted ${this.accepted}  errors ${this.errors}  in-flight ${this.inFlight}  rate ${this.meter.rate()}/s  p99 ${this.latency.percentile(99).toFixed(1)} ms`;
  }
}

/** The scenario's orders still in PENDING / RESERVED (admin lists by status, filtered to its customers). */
async function unsettledOrders(ctx: BenchContext, customers: ReadonlySet<string>): Promise<OrderJson[]> {
  const lists = await Promise.all(
    ["PENDING", "RESERVED"].map((status) =>
      listAll<OrderJson>(ctx.client, "/api/v1/orders", "orders", { token: ctx.adminToken, query: { status }, attempts: SAFE_ATTEMPTS }),
    ),
  );
  return lists.flat().filter((o) => customers.has(o.customer_id));
}

/** Waits until none of the scenario's orders is PENDING or RESERVED, or the deadline passes; returns the seconds waited. */
export async function waitSettled(ctx: BenchContext, label: string, customers: ReadonlySet<string>): Promise<number> {
  const started = Date.now();
  let open = -1;
  const progress = new Progress(`${label} settle`, () => `in-flight sagas ${open < 0 ? "?" : open}`).start();
  try {
    while (Date.now() - started < ctx.settleTimeoutMs) {
      try {
        open = (await unsettledOrders(ctx, customers)).length;
        if (open === 0) break;
      } catch (error) {
        ctx.say(`${label}: could not list the orders in flight (${errorCode(error)}); trying again`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    progress.stop();
  }
  if (open !== 0) ctx.say(`${label}: ${open} orders still in flight after ${ctx.settleTimeoutMs / 1000} s; the invariants will say so`);
  return (Date.now() - started) / 1000;
}

/**
 * Everything the invariants and the saga figures need, read through the gateway as admin: the
 * customers' orders (listed, then fetched one by one for their status history), their payments,
 * and each product with its movement log.
 */
export async function collectSnapshot(ctx: BenchContext, label: string, customerIds: readonly string[], productIds: readonly string[]): Promise<Snapshot> {
  let phase = "orders";
  let done = 0;
  let total = customerIds.length;
  const progress = new Progress(`${label} collect`, () => `${phase} ${done}/${total}`).start();
  const token = ctx.adminToken;
  try {
    const listed = (
      await mapConcurrent(customerIds, ctx.setupConcurrency, async (customerId) => {
        const orders = await listAll<OrderJson>(ctx.client, "/api/v1/orders", "orders", { token, query: { customer_id: customerId }, attempts: SAFE_ATTEMPTS });
        done++;
        return orders;
      })
    ).flat();
    phase = "order histories";
    done = 0;
    total = listed.length;
    const orders = await mapConcurrent(listed, ctx.setupConcurrency, async (o) => {
      const order = await ctx.client.get<OrderJson>(`/api/v1/orders/${o.id}`, { token, attempts: SAFE_ATTEMPTS });
      done++;
      return order;
    });
    phase = "payments";
    done = 0;
    total = customerIds.length;
    const payments = (
      await mapConcurrent(customerIds, ctx.setupConcurrency, async (customerId) => {
        const list = await listAll<PaymentJson>(ctx.client, "/api/v1/payments", "payments", {
          token,
          query: { customer_id: customerId },
          attempts: SAFE_ATTEMPTS,
        });
        done++;
        return list;
      })
    ).flat();
    phase = "products";
    done = 0;
    total = productIds.length;
    const products = await mapConcurrent(productIds, ctx.setupConcurrency, async (id) => {
      const [product, movements] = await Promise.all([
        ctx.client.get<ProductJson>(`/api/v1/inventory/${id}`, { token, attempts: SAFE_ATTEMPTS }),
        listAll<MovementJson>(ctx.client, `/api/v1/inventory/${id}/movements`, "movements", { token, attempts: SAFE_ATTEMPTS }),
      ]);
      done++;
      return { product, movements };
    });
    return { orders, payments, products };
  } finally {
    progress.stop();
  }
}

export function isUnsettled(order: OrderJson): boolean {
  return IN_FLIGHT_STATUSES.has(shortStatus(order.status));
}

/** The figures every scenario reports: load from the client's side, sagas from the orders' history. */
export function scenarioFigures(
  stats: LoadStats,
  loadSeconds: number,
  snapshot: Snapshot,
  saga: SagaTimings,
  settleWaitSeconds: number,
  resources?: ResourceUsage,
): Figures {
  return {
    resources,
    loadSeconds,
    ordersAccepted: stats.accepted,
    acceptedPerSecond: stats.accepted / loadSeconds,
    createErrors: stats.errors,
    errorsByCode: stats.errorsByCode,
    retriesByCode: stats.retries,
    createLatencyMs: stats.latency.summary(),
    sagaLatencyMs: saga.toConfirmed.summary(),
    settleLatencyMs: saga.toSettled.summary(),
    confirmed: saga.confirmed,
    settled: saga.settled,
    sagaWindowSeconds: saga.windowSeconds,
    confirmedPerSecond: saga.confirmedPerSecond,
    settledPerSecond: saga.settledPerSecond,
    settleWaitSeconds,
    statusCounts: statusCounts(snapshot.orders),
  };
}
