import { randomUUID } from "node:crypto";
import { errorCode, listAll, mapConcurrent } from "../client.js";
import { type Check, commonChecks, formatCounts, statusCounts } from "../invariants.js";
import { type OrderJson, PAID_STATUSES, shortStatus } from "../model.js";
import { Progress } from "../progress.js";
import type { Figures, Target } from "../report.js";
import { sagaTimings } from "../saga.js";
import {
  type BenchContext,
  collectSnapshot,
  createCustomers,
  createProduct,
  LoadStats,
  SAFE_ATTEMPTS,
  scenarioFigures,
  SHIPPING_ADDRESS,
  waitSettled,
} from "./common.js";
import type { ScenarioOutcome } from "./steady.js";

/** A process the scenario can SIGKILL and start again. */
export interface Killable {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** What the chaos scenario may break: the mesh's services, and the embedded NATS and PostgreSQL when the bench started them. */
export interface ChaosTargets {
  services: Record<string, Killable>;
  nats?: Killable;
  postgres?: Killable;
}

export interface ChaosOptions {
  /** Customers placing orders at once. */
  concurrency: number;
  /** Offered orders per second across all customers (open loop). */
  rate: number;
  durationSeconds: number;
  /** Stop placing orders after this many were accepted (default: no limit). */
  maxOrders?: number;
  products: number;
  stockPerProduct: number;
  /** Share of accepted orders the customer cancels shortly after placing them. */
  cancelShare: number;
  /** Share of orders paid with the simulator's always-declined card. */
  declineShare: number;
  /** A random service is SIGKILLed every [min, max] ms while the load runs. */
  killEveryMs: [number, number];
  /** At most this many service kills (default: no limit). */
  maxServiceKills?: number;
  /** How long a killed process stays down before it is started again. */
  downtimeMs: number;
  /** When (share of the load's duration) nats-server is killed once; undefined: never. */
  natsKillAt?: number;
  /** When (share of the load's duration) PostgreSQL is killed once; undefined: never. */
  postgresKillAt?: number;
  /** Longest wait for invoices and deliveries after every order settled. */
  followUpTimeoutMs?: number;
}

/** One fault the scenario injected. */
export interface FaultRecord {
  atSeconds: number;
  target: string;
  downSeconds: number;
}

interface Placed {
  key: string;
  body: unknown;
  token: string;
  orderId?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps `ms`, or less once `stopped()` turns true (checked every 100 ms). */
async function sleepUnless(ms: number, stopped: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stopped() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
}

function between([min, max]: [number, number]): number {
  return min + Math.random() * (max - min);
}

/**
 * Breaks things while the load runs: a random service every few seconds, nats-server and
 * PostgreSQL once each. Every kill is followed by a restart, also after the load ended; each
 * outage goes to `faults` as it ends. Resolves when everything killed is running again, rejects
 * (after every outage ended) when a restart failed.
 */
async function injectFaults(ctx: BenchContext, targets: ChaosTargets, options: ChaosOptions, loadDone: () => boolean, faults: FaultRecord[]): Promise<void> {
  const started = Date.now();
  async function outage(name: string, target: Killable): Promise<void> {
    const at = Date.now();
    ctx.say(`chaos: SIGKILL ${name}`);
    await target.kill();
    await sleep(options.downtimeMs);
    try {
      await target.restart();
    } catch (error) {
      // Recorded all the same: the report shows which restart failed, among the other faults.
      faults.push({ atSeconds: (at - started) / 1000, target: name, downSeconds: NaN });
      throw new Error(`${name} did not come back: ${error instanceof Error ? error.message : String(error)}`);
    }
    const down = (Date.now() - at) / 1000;
    faults.push({ atSeconds: (at - started) / 1000, target: name, downSeconds: down });
    ctx.say(`chaos: ${name} is back after ${down.toFixed(1)} s`);
  }
  const once = async (share: number | undefined, name: string, target: Killable | undefined) => {
    if (share === undefined || !target) return;
    await sleepUnless(share * options.durationSeconds * 1000, loadDone);
    if (!loadDone()) await outage(name, target);
  };
  const names = Object.keys(targets.services);
  const services = async () => {
    let kills = 0;
    for (;;) {
      await sleepUnless(between(options.killEveryMs), loadDone);
      if (loadDone() || kills >= (options.maxServiceKills ?? Infinity) || names.length === 0) return;
      const name = names[Math.floor(Math.random() * names.length)];
      kills++;
      await outage(name, targets.services[name]);
    }
  };
  // Every branch runs to its end (a failed restart must not leave another outage half done).
  const ended = await Promise.allSettled([
    services(),
    once(options.natsKillAt, "nats-server", targets.nats),
    once(options.postgresKillAt, "postgres", targets.postgres),
  ]);
  const failed = ended.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

function check(name: string, bad: string[], detail: string): Check {
  const shown = bad.length <= 5 ? bad.join("; ") : `${bad.slice(0, 5).join("; ")}; ... (${bad.length} in all)`;
  return { name, pass: bad.length === 0, detail: bad.length === 0 ? detail : shown };
}

/** Every order the customers were told about exists, and each Idempotency-Key still names exactly that one order. */
async function checkNoLostOrder(ctx: BenchContext, placed: readonly Placed[], orders: readonly OrderJson[], failedRequests: number): Promise<Check> {
  const known = new Set(orders.map((o) => o.id));
  const acknowledged = placed.filter((p) => p.orderId);
  const bad: string[] = [];
  for (const p of acknowledged) if (!known.has(p.orderId!)) bad.push(`order ${p.orderId} was acknowledged (201) but does not exist`);
  // A replay of the same request with the same key must answer with the same order, not a new one.
  await mapConcurrent(acknowledged, ctx.setupConcurrency, async (p) => {
    try {
      const replay = await ctx.client.post<OrderJson>("/api/v1/orders", p.body, {
        token: p.token,
        headers: { "idempotency-key": p.key },
        attempts: SAFE_ATTEMPTS,
      });
      if (replay.id !== p.orderId) bad.push(`key ${p.key}: replay answered order ${replay.id}, not ${p.orderId}`);
    } catch (error) {
      bad.push(`key ${p.key}: replay failed (${errorCode(error)})`);
    }
  });
  const acknowledgedIds = new Set(acknowledged.map((p) => p.orderId));
  const unacknowledged = orders.filter((o) => !acknowledgedIds.has(o.id)).length;
  // An order whose answer was lost (a killed process, a timeout) exists without the client knowing; there can be no more of them than failed requests.
  if (unacknowledged > failedRequests) bad.push(`${unacknowledged} orders nobody was told about, but only ${failedRequests} requests failed`);
  return check(
    "no lost order, one order per idempotency key",
    bad,
    `${acknowledged.length} acknowledged orders exist and replay to themselves; ${unacknowledged} more from ${failedRequests} requests whose answer was lost`,
  );
}

interface FileJson {
  kind: string;
}

interface DeliveryJson {
  status: string;
}

/** The order's invoices and deliveries as the gateway shows them. */
async function followUps(ctx: BenchContext, order: OrderJson): Promise<{ invoices: number; delivery?: string }> {
  const token = ctx.adminToken;
  const files = await listAll<FileJson>(ctx.client, "/api/v1/files", "files", { token, query: { order_id: order.id }, attempts: SAFE_ATTEMPTS });
  let delivery: string | undefined;
  try {
    delivery = shortStatus((await ctx.client.get<DeliveryJson>(`/api/v1/deliveries/order/${order.id}`, { token, attempts: SAFE_ATTEMPTS })).status).replace(
      /^DELIVERY_STATUS_/,
      "",
    );
  } catch (error) {
    if (errorCode(error) !== "not_found") throw error;
  }
  return { invoices: files.filter((f) => f.kind.endsWith("INVOICE")).length, delivery };
}

/**
 * Exactly one invoice for every order that reached CONFIRMED (a later cancellation refunds it,
 * the invoice of the sale stays), none for an order that never did; exactly one delivery that
 * is not CANCELLED for every order still paid, and none for the others (an order cancelled
 * before its delivery was created keeps only a CANCELLED tombstone).
 */
export function followUpProblems(order: OrderJson, found: { invoices: number; delivery?: string }): string[] {
  const confirmed = order.history.some((h) => shortStatus(h.to_status) === "CONFIRMED");
  const status = shortStatus(order.status);
  const bad: string[] = [];
  const invoices = confirmed ? 1 : 0;
  if (found.invoices !== invoices)
    bad.push(`order ${order.id} (${status}${confirmed ? ", was confirmed" : ""}) has ${found.invoices} invoices, expected ${invoices}`);
  const live = found.delivery !== undefined && found.delivery !== "CANCELLED";
  const shouldHaveDelivery = PAID_STATUSES.has(status) || status === "DELIVERY_FAILED";
  if (shouldHaveDelivery && !live) bad.push(`order ${order.id} is ${status} without a delivery (${found.delivery ?? "none"})`);
  if (!shouldHaveDelivery && live) bad.push(`order ${order.id} is ${status} but has a ${found.delivery} delivery`);
  return bad;
}

/** Polls until every order's invoices and deliveries are as expected, or the deadline passes. */
async function checkFollowUps(ctx: BenchContext, orders: readonly OrderJson[], timeoutMs: number): Promise<Check> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...orders];
  let bad: string[] = [];
  let rounds = 0;
  const progress = new Progress("chaos follow-ups", () => `orders to check ${pending.length}`).start();
  try {
    do {
      if (rounds++ > 0) await sleep(1_000);
      const results = await mapConcurrent(pending, ctx.setupConcurrency, async (order) => {
        try {
          return { order, problems: followUpProblems(order, await followUps(ctx, order)) };
        } catch (error) {
          // A service still down (its restart failed) is this check's FAIL, not the end of the report.
          return { order, problems: [`order ${order.id}: follow-ups unreadable (${errorCode(error)}: ${(error as Error).message})`] };
        }
      });
      pending = results.filter((r) => r.problems.length > 0).map((r) => r.order);
      bad = results.flatMap((r) => r.problems);
    } while (bad.length > 0 && Date.now() < deadline);
  } finally {
    progress.stop();
  }
  return check("exactly one invoice and one delivery per CONFIRMED order, none for orders that never confirmed", bad, `${orders.length} orders checked`);
}

interface DeadLetterJson {
  seq: number;
  consumer: string;
  error: string;
  original_subject: string;
}

/** The dead letters of this run's orders (x-correlation-id is the order id); each is listed with its consumer and error. */
async function checkDeadLetters(ctx: BenchContext, orders: readonly OrderJson[]): Promise<Check> {
  const ours = new Set(orders.map((o) => o.id));
  const entries: DeadLetterJson[] = [];
  for (let startSeq = 1; ;) {
    const page = await ctx.client.get<{ entries: DeadLetterJson[]; next_seq?: number }>("/api/v1/admin/dlq", {
      token: ctx.adminToken,
      query: { limit: 500, start_seq: startSeq },
      attempts: SAFE_ATTEMPTS,
    });
    entries.push(...page.entries);
    if (page.next_seq === undefined || page.entries.length === 0) break;
    startSeq = page.next_seq;
  }
  const bad: string[] = [];
  let foreign = 0;
  for (const entry of entries) {
    const detail = await ctx.client.get<{ headers: Record<string, string | string[]> }>(`/api/v1/admin/dlq/${entry.seq}`, {
      token: ctx.adminToken,
      attempts: SAFE_ATTEMPTS,
    });
    const correlation = detail.headers["x-correlation-id"];
    const orderId = Array.isArray(correlation) ? correlation[0] : correlation;
    if (orderId && ours.has(orderId)) bad.push(`#${entry.seq} ${entry.original_subject} for order ${orderId} in ${entry.consumer}: ${entry.error}`);
    else foreign++;
  }
  return check("DLQ empty (for this run's orders)", bad, `no dead letter for this run's orders${foreign ? `; ${foreign} older entries of other runs` : ""}`);
}

/**
 * chaos: steady open-loop load with cancellations and declined cards while a random service is
 * SIGKILLed and restarted every few seconds and nats-server and PostgreSQL are killed and
 * restarted once each; afterwards every invariant of ARCHITECTURE section 8 is checked.
 */
export async function runChaos(ctx: BenchContext, options: ChaosOptions, targets: ChaosTargets): Promise<ScenarioOutcome & { faults: FaultRecord[] }> {
  ctx.say(`chaos: creating ${options.concurrency} customers and ${options.products} products (${options.stockPerProduct} units each)`);
  const customers = await createCustomers(ctx, "chaos", options.concurrency);
  const products = await Promise.all(
    Array.from({ length: options.products }, (_, i) => createProduct(ctx, `BENCH-${ctx.runId}-C${i}`, options.stockPerProduct, 100 + ((i * 7919) % 9900))),
  );
  const productIds = products.map((p) => p.id);

  const stats = new LoadStats();
  const placed: Placed[] = [];
  const cancels: Promise<void>[] = [];
  let cancelsSent = 0;
  let loadDone = false;
  const started = Date.now();
  const deadline = started + options.durationSeconds * 1000;
  const intervalMs = (1000 * options.concurrency) / options.rate;
  const progress = new Progress("chaos", () => `${stats.line()}  cancels ${cancelsSent}`).start();
  // A kill or restart that fails is reported as a failed check, not as a crash in the middle of the load.
  let faultError: unknown;
  const injected: FaultRecord[] = [];
  const faults = injectFaults(ctx, targets, options, () => loadDone, injected).catch((error: unknown) => {
    faultError = error;
    ctx.say(`chaos: ${String(error)}`);
  });

  async function cancelLater(orderId: string, token: string): Promise<void> {
    await sleep(Math.random() * 1_500);
    cancelsSent++;
    try {
      await ctx.client.request("PUT", `/api/v1/orders/${orderId}/cancel`, { token, body: { reason: "chaos: changed my mind" }, attempts: SAFE_ATTEMPTS });
    } catch (error) {
      // Too late (PAYMENT_FAILED, REJECTED, ...) is an answer too; anything else is reported.
      if (errorCode(error) !== "failed_precondition") ctx.say(`chaos: cancelling ${orderId} failed (${errorCode(error)})`);
    }
  }

  await Promise.all(
    customers.map(async (customer, index) => {
      let next = started + (intervalMs * index) / options.concurrency;
      while (next < deadline && (options.maxOrders === undefined || placed.length < options.maxOrders)) {
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        next += intervalMs;
        const lines = productIds
          .slice()
          .sort(() => Math.random() - 0.5)
          .slice(0, 1 + Math.floor(Math.random() * 2))
          .map((product_id) => ({ product_id, quantity: 1 + Math.floor(Math.random() * 2) }));
        const token = Math.random() < options.declineShare ? "tok_declined" : "tok_visa";
        const body = { customer_id: customer.id, items: lines, shipping_address: SHIPPING_ADDRESS, payment_method: { token } };
        const entry: Placed = { key: randomUUID(), body, token: customer.token };
        placed.push(entry);
        // Retried with the same key through restarts: an attempt that got through is never placed twice.
        const order = await stats.place(ctx, customer.token, body, { idempotencyKey: entry.key, attempts: 60, scheduledAt: next - intervalMs });
        entry.orderId = order?.id;
        if (order && Math.random() < options.cancelShare) cancels.push(cancelLater(order.id, customer.token));
      }
    }),
  );
  await Promise.all(cancels);
  loadDone = true;
  const loadSeconds = (Date.now() - started) / 1000;
  progress.stop();
  await faults;
  injected.sort((a, b) => a.atSeconds - b.atSeconds);
  ctx.say(`chaos: ${injected.length} faults: ${injected.map((f) => `${f.target}@${f.atSeconds.toFixed(0)}s`).join(", ") || "none"}`);

  const customerIds = customers.map((c) => c.id);
  const settleWaitSeconds = await waitSettled(ctx, "chaos", new Set(customerIds));
  const snapshot = await collectSnapshot(ctx, "chaos", customerIds, productIds);
  ctx.say(`chaos: ${snapshot.orders.length} orders: ${formatCounts(statusCounts(snapshot.orders))}`);
  const invariants: Check[] = [
    {
      name: "every killed process came back",
      pass: faultError === undefined,
      detail: faultError === undefined ? `${injected.length} faults, all recovered` : `fault injection failed: ${String(faultError)}`,
    },
    await checkNoLostOrder(ctx, placed, snapshot.orders, stats.errors),
    ...commonChecks(snapshot),
    await checkFollowUps(ctx, snapshot.orders, options.followUpTimeoutMs ?? 60_000),
    await checkDeadLetters(ctx, snapshot.orders),
  ];
  const saga = sagaTimings(snapshot.orders);
  const figures: Figures = scenarioFigures(stats, loadSeconds, snapshot, saga, settleWaitSeconds);
  const kinds = new Set(injected.map((f) => (f.target === "nats-server" || f.target === "postgres" ? f.target : "service")));
  const targetsMet: Target[] = [
    {
      name: "faults injected: services, nats-server, postgres",
      met:
        kinds.has("service") &&
        (!targets.nats || options.natsKillAt === undefined || kinds.has("nats-server")) &&
        (!targets.postgres || options.postgresKillAt === undefined || kinds.has("postgres")),
      detail:
        injected
          .map((f) => `${f.target} at ${f.atSeconds.toFixed(1)} s, ${Number.isNaN(f.downSeconds) ? "did not come back" : `down ${f.downSeconds.toFixed(1)} s`}`)
          .join("; ") || "none",
    },
  ];
  return {
    figures,
    invariants,
    targets: targetsMet,
    histograms: { createOrder: stats.latency.encode(), sagaConfirmed: saga.toConfirmed.encode() },
    faults: injected,
  };
}
