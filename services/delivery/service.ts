import { DeliveryService } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { deliveryConsumers } from "./consumers.js";
import { entities } from "./entities.js";
import { Deliveries } from "./migrations/0001-deliveries.js";
import { DeliveryTraceParent } from "./migrations/0002-trace-parent.js";
import { deliveryRpc } from "./rpc.js";

export type DeliveryConfig = RuntimeConfig;

export function readDeliveryConfig(env: NodeJS.ProcessEnv = process.env): DeliveryConfig {
  return readRuntimeConfig("delivery", env);
}

export const migrations = [
  { name: "delivery-0001-deliveries", class: Deliveries },
  { name: "delivery-0002-trace-parent", class: DeliveryTraceParent },
];

/** Starts the delivery service: delivery RPCs, a PENDING delivery per confirmed order, cancellation with the order. */
export function start(config: DeliveryConfig, options?: StartOptions): Promise<RunningService> {
  return startService(
    {
      name: "delivery",
      entities,
      migrations,
      rpc: ({ orm }) => [serve(DeliveryService, deliveryRpc({ orm }))],
      consumers: () => deliveryConsumers(),
    },
    config,
    options,
  );
}
