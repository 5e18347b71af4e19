import type { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import type { Upstreams } from "../upstreams.js";
import { requireAdmin } from "./access.js";
import { ownedOrder } from "./order.js";
import { type Api, upstreamOptions } from "./types.js";

/** Analytics: the dashboard is for admins; an order's timeline for its owner too. */
export function analyticsApi(upstreams: Upstreams): Api<typeof AnalyticsService> {
  const analytics = upstreams.analytics;
  return {
    async getDashboard(request, call) {
      requireAdmin(call.principal, "GetDashboard");
      return analytics.getDashboard(request, upstreamOptions(call));
    },
    async getOrderTimeline(request, call) {
      // The order service knows who owns the order; another customer's order is NOT_FOUND.
      if (!call.principal.admin) await ownedOrder(upstreams, request.orderId, call);
      return analytics.getOrderTimeline(request, upstreamOptions(call));
    },
  };
}
