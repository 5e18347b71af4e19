import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FaultService } from "../../gen/shop/admin/v1/fault_pb.js";
import { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import { DeliveryService } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { FileService } from "../../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "../../gen/shop/notification/v1/notification_pb.js";
import { OrderService } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";

/**
 * The gateway's public API, exactly as curl and gRPC clients see it: the seven services and the
 * gateway's own FaultService over the Connect protocol (unary and server streaming), plus the
 * few REST routes that have no RPC (the dead-letter queue and, with the dev secret only, the
 * dev sign-in).
 */

let currentToken: string | undefined;
let onUnauthenticated: (message: string) => void = () => undefined;

/** The token every call carries from now on (undefined: signed out). */
export function setToken(token: string | undefined): void {
  currentToken = token;
}

/** Called when the gateway refuses the token (expired, revoked): the app signs out. */
export function setUnauthenticatedHandler(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

const auth: Interceptor = (next) => async (req) => {
  if (currentToken) req.header.set("authorization", `Bearer ${currentToken}`);
  try {
    return await next(req);
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.Unauthenticated && currentToken) onUnauthenticated(error.rawMessage);
    throw error;
  }
};

const transport = createConnectTransport({ baseUrl: window.location.origin, interceptors: [auth] });

export const orders = createClient(OrderService, transport);
export const inventory = createClient(InventoryService, transport);
export const payments = createClient(PaymentService, transport);
export const notifications = createClient(NotificationService, transport);
export const files = createClient(FileService, transport);
export const deliveries = createClient(DeliveryService, transport);
export const analytics = createClient(AnalyticsService, transport);
export const faults = createClient(FaultService, transport);

/** An error answer of a REST route, shaped like a ConnectError so one error view fits both. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Calls a REST route of the gateway with the current token; JSON in, JSON out. */
export async function rest<T>(method: string, path: string, body?: unknown, options: { token?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (currentToken && options.token !== false) headers.authorization = `Bearer ${currentToken}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new RestError(0, "unavailable", "cannot reach the gateway");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    const code = error?.code ?? (response.status >= 500 ? "unavailable" : "unknown");
    if (response.status === 401 && currentToken) onUnauthenticated(error?.message ?? "unauthenticated");
    throw new RestError(response.status, code, error?.message ?? `the gateway answered ${response.status}`, error?.field);
  }
  return json as T;
}

/** A fresh idempotency key: one per attempt to place an order. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
