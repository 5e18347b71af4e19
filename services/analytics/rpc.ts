import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { invalidArgument } from "../../lib/errors.js";
import type { ServiceImplementation } from "../../lib/grpc/index.js";
import { requireId } from "../../lib/validate.js";
import { readDashboard, readTimeline } from "./analytics-queries.js";
import { sqlOn } from "./analytics-store.js";
import { chooseWindow, MINUTE_MS, seriesStep, windowEnding } from "./domain/window.js";

export interface AnalyticsRpcOptions {
  orm: MikroORM;
  /** The clock (tests move it). */
  now?: () => Date;
}

const DEFAULT_TOP_PRODUCTS = 10;
const MAX_TOP_PRODUCTS = 100;
/** How far end_time may run ahead of this server's clock (clients' clocks differ a little). */
const CLOCK_SKEW_MS = MINUTE_MS;

function orderStatus(name: string): OrderStatus {
  return (OrderStatus as unknown as Record<string, OrderStatus>)[name] ?? OrderStatus.UNSPECIFIED;
}

/** gRPC handlers of AnalyticsService: validation and mapping around analytics-queries. */
export function analyticsRpc({ orm, now = () => new Date() }: AnalyticsRpcOptions): ServiceImplementation<typeof AnalyticsService> {
  return {
    async getDashboard(request) {
      const choice = chooseWindow(request.window, request.windowMinutes);
      if (!choice.ok) throw invalidArgument(choice.field, choice.problem);
      let end = now();
      if (request.endTime) {
        const requested = timestampDate(request.endTime);
        if (Number.isNaN(requested.getTime())) throw invalidArgument("end_time", "is not a valid timestamp");
        if (requested.getTime() > end.getTime() + CLOCK_SKEW_MS) throw invalidArgument("end_time", "must not be in the future");
        end = requested;
      }
      const top = request.topProducts === 0 ? DEFAULT_TOP_PRODUCTS : request.topProducts;
      if (!Number.isInteger(top) || top < 1 || top > MAX_TOP_PRODUCTS) {
        throw invalidArgument("top_products", `must be from 1 to ${MAX_TOP_PRODUCTS} (0 means ${DEFAULT_TOP_PRODUCTS}), got ${request.topProducts}`);
      }
      const window = windowEnding(end, choice.minutes);
      const step = seriesStep(choice.minutes);
      const data = await readDashboard(sqlOn(orm.em.fork()), { ...window, stepMinutes: step, topProducts: top });
      return {
        dashboard: {
          windowStart: timestampFromDate(window.start),
          windowEnd: timestampFromDate(window.end),
          windowMinutes: choice.minutes,
          events: BigInt(data.events),
          ordersByStatus: data.ordersByStatus.map((s) => ({ status: orderStatus(s.status), orders: BigInt(s.orders) })),
          funnel: {
            created: BigInt(data.funnel.CREATED),
            reserved: BigInt(data.funnel.RESERVED),
            paid: BigInt(data.funnel.PAID),
            delivered: BigInt(data.funnel.DELIVERED),
          },
          revenue: data.revenue.map((r) => ({
            currencyCode: r.currencyCode,
            capturedMinor: r.capturedMinor,
            refundedMinor: r.refundedMinor,
            netMinor: r.capturedMinor - r.refundedMinor,
            payments: BigInt(r.payments),
          })),
          failures: data.failures.map((f) => ({ kind: f.kind, reason: f.reason, count: BigInt(f.count) })),
          sagaLatency: { ...data.sagaLatency, count: BigInt(data.sagaLatency.count) },
          topProducts: data.topProducts.map((p) => ({ ...p, units: BigInt(p.units) })),
          lowStockProducts: data.lowStockProducts.map((p) => ({ ...p, at: timestampFromDate(p.at), crossings: BigInt(p.crossings) })),
          series: data.series.map((p) => ({
            start: timestampFromDate(p.start),
            ordersCreated: BigInt(p.ordersCreated),
            ordersConfirmed: BigInt(p.ordersConfirmed),
            ordersFailed: BigInt(p.ordersFailed),
            events: BigInt(p.events),
          })),
          seriesStepMinutes: step,
        },
      };
    },

    async getOrderTimeline(request) {
      const orderId = requireId("order_id", request.orderId);
      const { status, entries } = await readTimeline(sqlOn(orm.em.fork()), orderId);
      return {
        orderId,
        status: orderStatus(status),
        entries: entries.map((e) => ({ ...e, occurredAt: timestampFromDate(e.occurredAt), recordedAt: timestampFromDate(e.recordedAt) })),
      };
    },
  };
}
