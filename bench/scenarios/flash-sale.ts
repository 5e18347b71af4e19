import { RequestError } from "../client.js";
import { commonChecks, flashChecks, flashOutcome, isSoldOutRefusal } from "../invariants.js";
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
import type { ScenarioOutcome } from "./steady.js";

export interface FlashSaleOptions {
  /** Buyers racing at once, each for one unit. */
  buyers: number;
  /** Units of the one product on sale. */
  units: number;
  /** Attempts per buyer when the gateway sheds (503), limits (429) or the connection fails. */
  attempts: number;
}

/**
 * flash-sale: `buyers` customers, released together, each order one unit of the one product
 * that has `units` units. Exactly min(units, buyers) must be confirmed, nothing oversold, and
 * every other buyer must get a clear answer: a REJECTED order with a reason, or CreateOrder's
 * refusal "product <id> is sold out" (FAILED_PRECONDITION, no order).
 */
export async function runFlashSale(ctx: BenchContext, options: FlashSaleOptions): Promise<ScenarioOutcome> {
  ctx.say(`flash-sale: creating ${options.buyers} buyers and one product with ${options.units} units`);
  const buyers = await createCustomers(ctx, "flash", options.buyers);
  const product = await createProduct(ctx, `BENCH-${ctx.runId}-FLASH`, options.units, 4999);

  const measuring = await measureResources(ctx);
  const stats = new LoadStats();
  const started = Date.now();
  const progress = new Progress("flash-sale", () => stats.line()).start();
  const items = [{ product_id: product.id, quantity: 1 }];
  const payment_method = { token: "tok_visa" };
  // Buyers told "sold out" at once (no order, no saga): a clear answer too.
  const soldOut = new Set<string>();
  // All buyers are released in the same tick.
  await Promise.all(
    buyers.map((buyer) =>
      stats.place(
        ctx,
        buyer.token,
        { customer_id: buyer.id, items, shipping_address: SHIPPING_ADDRESS, payment_method },
        {
          attempts: options.attempts,
          idempotencyKey: `flash-${ctx.runId}-${buyer.id}`,
          onError: (error) => {
            if (error instanceof RequestError && isSoldOutRefusal(error)) soldOut.add(buyer.id);
          },
        },
      ),
    ),
  );
  const loadSeconds = (Date.now() - started) / 1000;
  progress.stop();

  const customerIds = buyers.map((b) => b.id);
  const settleWaitSeconds = await waitSettled(ctx, "flash-sale", new Set(customerIds));
  const resources = await measuring.finish();
  const snapshot = await collectSnapshot(ctx, "flash-sale", customerIds, [product.id]);
  const saga = sagaTimings(snapshot.orders);
  const flash = flashOutcome({ buyers: options.buyers, units: options.units, product: snapshot.products[0].product, orders: snapshot.orders, soldOut });
  const expected = Math.min(options.units, options.buyers);
  const figures: Figures = { ...scenarioFigures(stats, loadSeconds, snapshot, saga, settleWaitSeconds, resources), flash };
  const targets: Target[] = [
    { name: `exactly ${expected} confirmed`, met: flash.confirmed === expected, detail: `${flash.confirmed} confirmed` },
    { name: "0 oversold", met: flash.oversold === 0, detail: `sold ${flash.sold}, oversold ${flash.oversold}` },
    {
      name: "every other buyer a clear rejection",
      met: flash.unclear === 0,
      detail: `${flash.rejected} rejected, ${flash.soldOut} refused as sold out, ${flash.unclear} without a clear answer`,
    },
  ];
  return {
    figures,
    invariants: [...commonChecks(snapshot), ...flashChecks(flash, expected)],
    targets,
    histograms: { createOrder: stats.latency.encode(), sagaConfirmed: saga.toConfirmed.encode() },
  };
}
