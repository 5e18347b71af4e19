import { isTransient, retryDelayMs } from "../client.js";
import { commonChecks } from "../invariants.js";
import { Progress } from "../progress.js";
import type { Figures, Target } from "../report.js";
import { sagaTimings } from "../saga.js";
import {
  type BenchContext,
  collectSnapshot,
  measureResources,
  createCustomers,
  createProduct,
  LoadStats,
  scenarioFigures,
  SHIPPING_ADDRESS,
  waitSettled,
} from "./common.js";
import type { Check } from "../invariants.js";

export interface SteadyOptions {
  /** Customers; in the closed loop, each places one order after another. */
  concurrency: number;
  durationSeconds: number;
  /** Bench products the orders mix (1 to 3 distinct lines of 1 to 3 units). */
  products: number;
  /** Initial stock of each product: enough that nothing is rejected. */
  stockPerProduct: number;
  /** Offered load in orders per second across all customers (open loop); 0 = as fast as answers come back. */
  rate: number;
}

export interface ScenarioOutcome {
  figures: Figures;
  invariants: Check[];
  targets: Target[];
  histograms: { createOrder: string; sagaConfirmed: string };
}

function pick<T>(items: readonly T[], count: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

/**
 * steady: `concurrency` customers place orders over a mix of products for `durationSeconds`.
 * Closed loop by default (each customer sends its next order when the previous one is
 * answered); with `rate` the orders go out on a fixed schedule whether or not earlier ones
 * were answered (open loop), spread over the customers.
 */
export async function runSteady(ctx: BenchContext, options: SteadyOptions): Promise<ScenarioOutcome> {
  ctx.say(`steady: creating ${options.concurrency} customers and ${options.products} products (${options.stockPerProduct} units each)`);
  const customers = await createCustomers(ctx, "steady", options.concurrency);
  const products = await Promise.all(
    Array.from({ length: options.products }, (_, i) => createProduct(ctx, `BENCH-${ctx.runId}-S${i}`, options.stockPerProduct, 100 + ((i * 7919) % 9900))),
  );
  const productIds = products.map((p) => p.id);

  const measuring = await measureResources(ctx);
  const stats = new LoadStats();
  const started = Date.now();
  const deadline = started + options.durationSeconds * 1000;
  const progress = new Progress("steady", () => stats.line()).start();
  const intervalMs = options.rate > 0 ? (1000 * options.concurrency) / options.rate : 0;
  // Open loop: orders still unanswered. A customer does not wait for them before its next
  // order, so the mesh sees the offered rate, not at most one order per customer at a time
  // (that would hide the excess in this process and never put the mesh's shedding to work).
  const unanswered = new Set<Promise<unknown>>();

  await Promise.all(
    customers.map(async (customer, index) => {
      // Open loop: spread the customers' schedules over one interval.
      let next = started + (intervalMs * index) / options.concurrency;
      for (;;) {
        if (intervalMs > 0) {
          if (next >= deadline) break;
          const wait = next - Date.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        } else if (Date.now() >= deadline) {
          break;
        }
        const lines = pick(productIds, 1 + Math.floor(Math.random() * 3)).map((product_id) => ({ product_id, quantity: 1 + Math.floor(Math.random() * 3) }));
        const body = { customer_id: customer.id, items: lines, shipping_address: SHIPPING_ADDRESS, payment_method: { token: "tok_visa" } };
        if (intervalMs > 0) {
          // A shed order is lost: the schedule goes on, as independent shoppers' would.
          const placed = stats.place(ctx, customer.token, body, { scheduledAt: next });
          unanswered.add(placed);
          void placed.finally(() => unanswered.delete(placed));
          next += intervalMs;
          continue;
        }
        // A closed-loop customer that was shed waits as long as the answer asked (Retry-After),
        // as a real client does.
        let backOffMs = 0;
        await stats.place(ctx, customer.token, body, { onError: (error) => (backOffMs = isTransient(error) ? retryDelayMs(error, 1) : 0) });
        if (backOffMs > 0) await new Promise((resolve) => setTimeout(resolve, backOffMs));
      }
    }),
  );
  await Promise.all(unanswered);
  const loadSeconds = (Date.now() - started) / 1000;
  progress.stop();

  const customerIds = customers.map((c) => c.id);
  const settleWaitSeconds = await waitSettled(ctx, "steady", new Set(customerIds));
  const resources = await measuring.finish();
  const snapshot = await collectSnapshot(ctx, "steady", customerIds, productIds);
  const saga = sagaTimings(snapshot.orders);
  const figures: Figures = scenarioFigures(stats, loadSeconds, snapshot, saga, settleWaitSeconds, resources);
  const createLatencyMs = figures.createLatencyMs;
  const cpuPerSaga = figures.resources ? figures.resources.cpuMs.total / Math.max(1, saga.settled) : undefined;
  const targets: Target[] = [
    { name: "confirmed sagas/s >= 200", met: saga.confirmedPerSecond >= 200, detail: `${saga.confirmedPerSecond.toFixed(1)}/s confirmed` },
    {
      name: "CPU per saga <= 10 ms (all processes)",
      met: cpuPerSaga !== undefined && cpuPerSaga <= 10,
      detail: cpuPerSaga === undefined ? "not measured (external gateway)" : `${cpuPerSaga.toFixed(1)} ms`,
    },
  ];
  if (options.rate > 0) {
    targets.push(
      {
        name: "create-order p99 <= 50 ms",
        met: createLatencyMs.count > 0 && createLatencyMs.p99 <= 50,
        detail: `${createLatencyMs.p99} ms at ${options.rate} orders/s offered`,
      },
      {
        name: "create->CONFIRMED p95 <= 300 ms",
        met: figures.sagaLatencyMs.count > 0 && figures.sagaLatencyMs.p95 <= 300,
        detail: `${figures.sagaLatencyMs.p95} ms at ${options.rate} orders/s offered`,
      },
    );
  }
  return {
    figures,
    invariants: commonChecks(snapshot),
    targets,
    histograms: { createOrder: stats.latency.encode(), sagaConfirmed: saga.toConfirmed.encode() },
  };
}
