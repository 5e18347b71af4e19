import type { DescService } from "@bufbuild/protobuf";
import { AnalyticsService } from "../gen/shop/analytics/v1/analytics_pb.js";
import { DeliveryService } from "../gen/shop/delivery/v1/delivery_pb.js";
import { FileService } from "../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../gen/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "../gen/shop/notification/v1/notification_pb.js";
import { OrderService } from "../gen/shop/order/v1/order_pb.js";
import { PaymentService } from "../gen/shop/payment/v1/payment_pb.js";
import { Code, ServiceError } from "../lib/errors.js";
import { type Breaker, createClient, type GrpcClient } from "../lib/grpc/index.js";
import type { Logger } from "../lib/log.js";
import type { UpstreamName } from "./config.js";

/** One lib/grpc client (deadline + circuit breaker) per service behind the gateway. */
export interface Upstreams {
  order: GrpcClient<typeof OrderService>;
  inventory: GrpcClient<typeof InventoryService>;
  payment: GrpcClient<typeof PaymentService>;
  notification: GrpcClient<typeof NotificationService>;
  file: GrpcClient<typeof FileService>;
  delivery: GrpcClient<typeof DeliveryService>;
  analytics: GrpcClient<typeof AnalyticsService>;
}

export const UPSTREAM_SERVICES = {
  order: OrderService,
  inventory: InventoryService,
  payment: PaymentService,
  notification: NotificationService,
  file: FileService,
  delivery: DeliveryService,
  analytics: AnalyticsService,
} as const;

export interface UpstreamOptions {
  addresses: Record<UpstreamName, string>;
  deadlineMs: number;
  breakerResetMs: number;
  breakerHalfOpenProbes?: number;
  maxInFlight?: number;
  maxQueueMs?: number;
  retryAttempts?: number;
  logger?: Logger;
}

export function createUpstreams(options: UpstreamOptions): Upstreams {
  const client = <N extends UpstreamName>(name: N) =>
    guarded(
      name,
      createClient(UPSTREAM_SERVICES[name], options.addresses[name], {
        name,
        deadlineMs: options.deadlineMs,
        // The breaker bounds unary deadlines too; streams (WatchOrder, Download) keep their own.
        breaker: { timeoutMs: options.deadlineMs, resetTimeoutMs: options.breakerResetMs, halfOpenProbes: options.breakerHalfOpenProbes },
        maxInFlight: options.maxInFlight,
        maxQueueMs: options.maxQueueMs,
        retry: { maxAttempts: options.retryAttempts ?? 1 },
        logger: options.logger,
      }),
    );
  return {
    order: client("order"),
    inventory: client("inventory"),
    payment: client("payment"),
    notification: client("notification"),
    file: client("file"),
    delivery: client("delivery"),
    analytics: client("analytics"),
  } as unknown as Upstreams;
}

export function closeUpstreams(upstreams: Upstreams): void {
  for (const client of Object.values(upstreams)) (client as { close(): void }).close();
}

/** State of a breaker as /health reports it. */
export function circuitState(client: { breaker: { opened: boolean; halfOpen: boolean } }): "closed" | "open" | "half_open" {
  if (client.breaker.halfOpen) return "half_open";
  return client.breaker.opened ? "open" : "closed";
}

/**
 * Transport failures carry grpc-js details ("No connection established. Last error: connect
 * ECONNREFUSED 10.0.3.7:50051", "Deadline exceeded after 5.001s, remote_addr=...") that name
 * internal hosts. At the edge they become "<name> service unavailable" / "did not answer in
 * time"; messages the upstream itself sent (its handlers' UNAVAILABLE) pass unchanged.
 */
const TRANSPORT_DETAILS =
  /No connection established|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|getaddrinfo|Connection dropped|Failed to connect|remote_addr|Deadline exceeded|Resolution note|Received RST_STREAM|Stream refused|Call cancelled/i;

export function edgeError(name: string, error: unknown): unknown {
  if (!(error instanceof ServiceError) || !TRANSPORT_DETAILS.test(error.message)) return error;
  if (error.code === Code.DEADLINE_EXCEEDED) return new ServiceError(error.code, `${name} service did not answer in time; retry later`);
  if (error.code === Code.UNAVAILABLE) return new ServiceError(error.code, `${name} service unavailable; retry later`);
  if (error.code === Code.CANCELLED) return new ServiceError(error.code, `call to the ${name} service was cancelled`);
  return new ServiceError(error.code, `${name} service failed`);
}

/** The client with every method's errors passed through {@link edgeError}. */
function guarded<C extends { readonly breaker: Breaker; close(): void }>(name: string, client: C): C {
  const service = UPSTREAM_SERVICES[name as UpstreamName] as DescService;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method.localName];
    if (!call) continue;
    if (method.methodKind === "server_streaming") {
      wrapped[method.localName] = async function* (...args: unknown[]) {
        try {
          yield* call(...args) as AsyncIterable<unknown>;
        } catch (error) {
          throw edgeError(name, error);
        }
      };
    } else {
      wrapped[method.localName] = async (...args: unknown[]) => {
        try {
          return await call(...args);
        } catch (error) {
          throw edgeError(name, error);
        }
      };
    }
  }
  return Object.assign(wrapped, { breaker: client.breaker, close: () => client.close() }) as unknown as C;
}
