import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { OrderService } from "../../gen/shop/order/v1/order_pb.js";
import { address, int, readConfig } from "../../lib/config.js";
import { createClient } from "../../lib/grpc/index.js";
import { createLogger } from "../../lib/log.js";
import { readRuntimeConfig, type RunningService, type RuntimeConfig, type StartOptions, serve, startService } from "../../lib/runtime/index.js";
import { SagaBacklog } from "./backlog.js";
import { inventoryCatalog } from "./catalog.js";
import { CachedCatalog, watchProductChanges } from "./catalog-cache.js";
import { orderConsumers } from "./consumers.js";
import { entities } from "./entities.js";
import { Orders } from "./migrations/0001-orders.js";
import { CustomerAddress } from "./migrations/0002-customer-address.js";
import { orderRpc } from "./rpc.js";
import { StatusNotifier } from "./watch.js";

export interface OrderConfig extends RuntimeConfig {
  /** Inventory's gRPC address (INVENTORY_ADDR, default 127.0.0.1:50052). */
  inventoryAddr: string;
  /** Deadline of the BatchGetProducts call of CreateOrder (INVENTORY_DEADLINE_MS, default 2 s). */
  inventoryDeadlineMs: number;
  /** Fallback poll of WatchOrder streams besides LISTEN/NOTIFY (WATCH_POLL_MS, default 1 s). */
  watchPollMs: number;
  /**
   * CreateOrder sheds (RESOURCE_EXHAUSTED with a retry delay) while the oldest unsettled order is
   * older than this (SAGA_BACKLOG_MAX_AGE_MS, default 5 s; 0 turns shedding off)...
   */
  sagaBacklogMaxAgeMs: number;
  /** ...and at least this many orders are unsettled (SAGA_BACKLOG_MIN_ORDERS, default 32). */
  sagaBacklogMinOrders: number;
  /**
   * How long CreateOrder prices (and refuses sold-out products) from its copy of the catalog
   * without asking inventory (CATALOG_CACHE_TTL_MS, default 30 s; 0 asks every time).
   * Inventory's product_changed event (a product update, or stock running out or coming back)
   * drops a product at once; the TTL is the backstop for a missed event.
   */
  catalogCacheTtlMs: number;
}

export function readOrderConfig(env: NodeJS.ProcessEnv = process.env): OrderConfig {
  return {
    ...readRuntimeConfig("order", env),
    ...readConfig(
      {
        inventoryAddr: address("INVENTORY_ADDR", "127.0.0.1:50052"),
        inventoryDeadlineMs: int("INVENTORY_DEADLINE_MS", 2_000, { min: 10, max: 60_000 }),
        watchPollMs: int("WATCH_POLL_MS", 1_000, { min: 10, max: 60_000 }),
        sagaBacklogMaxAgeMs: int("SAGA_BACKLOG_MAX_AGE_MS", 5_000, { min: 0, max: 3_600_000 }),
        sagaBacklogMinOrders: int("SAGA_BACKLOG_MIN_ORDERS", 32, { min: 1, max: 10_000_000 }),
        catalogCacheTtlMs: int("CATALOG_CACHE_TTL_MS", 30_000, { min: 0, max: 3_600_000 }),
      },
      env,
    ),
  };
}

/** How often the saga backlog is measured: one index scan, a few times a second. */
const BACKLOG_SAMPLE_MS = 250;

export const migrations = [
  { name: "order-0001-orders", class: Orders },
  { name: "order-0002-customer-address", class: CustomerAddress },
];

export interface RunningOrderService extends RunningService {
  /** WatchOrder streams currently open (tests check that cancelled streams let go). */
  activeWatches(): number;
}

/**
 * Starts the order service: order and customer RPCs (CreateOrder prices from a cache of
 * inventory's BatchGetProducts, called behind a circuit breaker), the saga consumers, and the
 * listener that drives WatchOrder streams.
 */
export async function start(config: OrderConfig, options: StartOptions = {}): Promise<RunningOrderService> {
  const logger = options.logger ?? createLogger("order");
  const inventory = createClient(InventoryService, config.inventoryAddr, {
    name: "inventory",
    deadlineMs: config.inventoryDeadlineMs,
    breaker: { timeoutMs: config.inventoryDeadlineMs },
    retry: { maxAttempts: config.upstreamRetryAttempts ?? 1 },
    logger,
  });
  const notifier = new StatusNotifier({ databaseUrl: config.databaseUrl, logger });
  let backlog: SagaBacklog | undefined;
  const source = inventoryCatalog(inventory, config.inventoryDeadlineMs);
  const cache = config.catalogCacheTtlMs > 0 ? new CachedCatalog(source, { ttlMs: config.catalogCacheTtlMs }) : undefined;
  const service = await startService(
    {
      name: "order",
      entities,
      migrations,
      rpc: ({ orm }) => {
        if (config.sagaBacklogMaxAgeMs > 0) {
          backlog = new SagaBacklog(orm, { maxAgeMs: config.sagaBacklogMaxAgeMs, minOrders: config.sagaBacklogMinOrders, sampleMs: BACKLOG_SAMPLE_MS }, logger);
        }
        return [serve(OrderService, orderRpc({ orm, catalog: cache ?? source, notifier, watchPollMs: config.watchPollMs, backlog }))];
      },
      consumers: () => orderConsumers(),
      workers: ({ bus }) => [notifier.start(), ...(backlog ? [backlog.start()] : []), ...(cache ? [watchProductChanges(cache, bus, logger)] : [])],
      // Open WatchOrder streams end at once (UNAVAILABLE, clients re-watch elsewhere) instead of
      // holding up the gRPC drain for its whole grace period.
      closeBeforeDrain: [{ name: "status listener", close: () => notifier.stop() }],
      // After the drain, so that in-flight CreateOrder calls can finish.
      closeAfterStop: [{ name: "inventory client", close: () => inventory.close() }],
    },
    config,
    { ...options, logger },
  );
  return { ...service, activeWatches: () => notifier.subscribers };
}
