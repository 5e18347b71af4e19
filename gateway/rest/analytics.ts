import {
  DashboardSchema,
  GetDashboardRequestSchema,
  GetOrderTimelineRequestSchema,
  GetOrderTimelineResponseSchema,
} from "../../gen/shop/analytics/v1/analytics_pb.js";
import { encodeMessage } from "../json.js";
import type { Route } from "./router.js";

export const analyticsRoutes: Route[] = [
  {
    method: "GET",
    path: "/api/v1/analytics/dashboard",
    access: "admin",
    request: GetDashboardRequestSchema,
    queryParams: true,
    response: DashboardSchema,
    summary:
      "Orders, funnel, revenue, failures, saga latency, top and low-stock products (admin; window=15m|1h|24h|7d or window_minutes, end_time, top_products)",
    async handle(ctx) {
      const { dashboard } = await ctx.api.analytics.getDashboard(ctx.input(GetDashboardRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(DashboardSchema, dashboard!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/orders/:id/timeline",
    request: GetOrderTimelineRequestSchema,
    response: GetOrderTimelineResponseSchema,
    summary: "Every event of an order with its time and publishing service (the order's owner or an admin)",
    async handle(ctx) {
      const request = ctx.input(GetOrderTimelineRequestSchema, { path: { order_id: ctx.params.id }, body: false });
      const response = await ctx.api.analytics.getOrderTimeline(request, ctx.call);
      return { json: encodeMessage(GetOrderTimelineResponseSchema, response) };
    },
  },
];
