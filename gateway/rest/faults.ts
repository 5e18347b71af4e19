import {
  ConsumerPauseSchema,
  ListFaultsResponseSchema,
  Provider,
  ProviderFaultSchema,
  SetProviderFaultRequestSchema,
} from "../../gen/shop/admin/v1/fault_pb.js";
import { invalid } from "../errors.js";
import type { FaultAdmin } from "../faults.js";
import { encodeMessage } from "../json.js";
import { onlyQuery, type RestContext, type Route } from "./router.js";

/**
 * Fault flag routes (admin only), the REST face of shop.admin.v1.FaultService:
 *   PUT /api/v1/admin/faults/providers/payment {"failure_rate": 1, "latency_ms": 0}
 * makes every charge fail until DELETE /api/v1/admin/faults/providers/payment (or
 * DELETE /api/v1/admin/faults for everything).
 */

const PROVIDERS: Record<string, Provider> = { payment: Provider.PAYMENT, email: Provider.EMAIL, sms: Provider.SMS };

function admin(ctx: RestContext): FaultAdmin {
  if (!ctx.deps.faults) throw new Error("fault admin is not wired");
  return ctx.deps.faults;
}

function providerParam(ctx: RestContext): Provider {
  const provider = PROVIDERS[ctx.params.provider];
  if (provider === undefined) throw invalid("provider", `must be payment, email or sms, got "${ctx.params.provider.slice(0, 40)}"`);
  return provider;
}

export const faultRoutes: Route[] = [
  {
    method: "GET",
    path: "/api/v1/admin/faults",
    access: "admin",
    summary: "Fault flags in force: simulated provider faults and paused consumers",
    response: ListFaultsResponseSchema,
    async handle(ctx) {
      onlyQuery(ctx);
      return { json: encodeMessage(ListFaultsResponseSchema, await admin(ctx).list()) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/admin/faults/providers/:provider",
    access: "admin",
    summary: "Make a simulated provider (payment, email, sms) fail at failure_rate (0-1) and add latency_ms",
    request: SetProviderFaultRequestSchema,
    response: ProviderFaultSchema,
    async handle(ctx) {
      // The body first: a request that is wrong in several ways is told about its own fields.
      const request = ctx.input(SetProviderFaultRequestSchema);
      const provider = providerParam(ctx);
      if (request.provider !== Provider.UNSPECIFIED && request.provider !== provider) throw invalid("provider", "does not match the provider in the path");
      const fault = await admin(ctx).setProvider({ provider, failureRate: request.failureRate, latencyMs: request.latencyMs });
      return { json: encodeMessage(ProviderFaultSchema, fault) };
    },
  },
  {
    method: "DELETE",
    path: "/api/v1/admin/faults/providers/:provider",
    access: "admin",
    summary: "Back to the provider's configured behaviour",
    noBody: true,
    successStatus: 204,
    async handle(ctx) {
      onlyQuery(ctx);
      await admin(ctx).clearProvider(providerParam(ctx));
      return { status: 204 };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/admin/faults/consumers/:consumer/pause",
    access: "admin",
    summary: "Stop a durable consumer (e.g. payment-charge) from pulling events until resumed",
    noBody: true,
    response: ConsumerPauseSchema,
    async handle(ctx) {
      onlyQuery(ctx);
      return { json: encodeMessage(ConsumerPauseSchema, await admin(ctx).pause(ctx.params.consumer)) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/admin/faults/consumers/:consumer/resume",
    access: "admin",
    summary: "Let a paused consumer pull again",
    noBody: true,
    successStatus: 204,
    async handle(ctx) {
      onlyQuery(ctx);
      await admin(ctx).resume(ctx.params.consumer);
      return { status: 204 };
    },
  },
  {
    method: "DELETE",
    path: "/api/v1/admin/faults",
    access: "admin",
    summary: "Clear every fault flag",
    noBody: true,
    successStatus: 204,
    async handle(ctx) {
      onlyQuery(ctx);
      await admin(ctx).reset();
      return { status: 204 };
    },
  },
];
