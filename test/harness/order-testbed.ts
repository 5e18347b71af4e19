/**
 * Test-only (imported by the order service's *.int.test.ts, never by service code): starts the
 * order service against the REAL inventory service (two services, hence here in test/ and not
 * in services/order: a service never imports another), which plays the environment, in a test
 * runtime of its own (stream namespace, databases), with clients and helpers.
 */
import { createServer } from "node:net";
import { InventoryService, type Product } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { type Order, OrderService, OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { EventLog } from "./event-log.js";
import { waitFor } from "./index.js";
import { createTestRuntime, type TestRuntime } from "./runtime.js";
import { start as startInventory } from "../../services/inventory/service.js";
import { type RunningOrderService, start } from "../../services/order/service.js";
export { expectCode } from "./expect-code.js";

export interface OrderTestbed {
  runtime: TestRuntime;
  order: RunningOrderService;
  /** Undefined when started with `inventory: false`. */
  inventory?: RunningService;
  orders: GrpcClient<typeof OrderService>;
  /** Undefined when started with `inventory: false`. */
  products?: GrpcClient<typeof InventoryService>;
  log: EventLog;
  /** A new customer; returns its id. */
  customer(): Promise<string>;
  /** A new ACTIVE product with `available` units at `priceMinor` USD cents. */
  product(available: number, priceMinor?: bigint, currencyCode?: string): Promise<Product>;
  /** Places an order for `lines` (product id -> quantity); returns the order. */
  place(customerId: string, lines: [productId: string, quantity: number][], extra?: { idempotencyKey?: string }): Promise<Order>;
  /** Waits until the order has `status`, and returns it. */
  waitForStatus(orderId: string, status: OrderStatus, timeoutMs?: number): Promise<Order>;
  /** Waits until the order service's consumer `consumer` has applied (or skipped) event `eventId`. */
  waitProcessed(consumer: string, eventId: string): Promise<void>;
  /** Runs a query on the order service's database. */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const ADDRESS = { line1: "1 Main St", city: "Springfield", postalCode: "12345", countryCode: "US", recipientName: "Ada Lovelace" };

export async function startOrderTestbed(
  options: {
    reservationTtlMs?: number;
    inventory?: boolean;
    inventoryDeadlineMs?: number;
    sagaBacklog?: { maxAgeMs: number; minOrders: number };
    catalogCacheTtlMs?: number;
  } = {},
): Promise<OrderTestbed> {
  const runtime = await createTestRuntime();
  const started: { stop(): Promise<void> }[] = [];
  const clients: { close(): void }[] = [];
  const close = async () => {
    for (const client of clients) client.close();
    for (const service of started.reverse()) await service.stop().catch(() => undefined);
    await runtime.cleanup();
  };
  try {
    let inventory: RunningService | undefined;
    let inventoryAddr = `127.0.0.1:${await closedPort()}`;
    if (options.inventory !== false) {
      const config = await runtime.config("inventory");
      inventory = await startInventory({ ...config, reservationTtlMs: options.reservationTtlMs ?? 60_000, sweepIntervalMs: 50 }, { logger: runtime.logger });
      started.push(inventory);
      inventoryAddr = `127.0.0.1:${inventory.grpcPort}`;
    }
    const config = await runtime.config("order");
    const order = await start(
      {
        ...config,
        inventoryAddr,
        inventoryDeadlineMs: options.inventoryDeadlineMs ?? 5_000,
        watchPollMs: 60_000,
        // Off unless a test is about it: there is no payment service here, so orders stay RESERVED.
        sagaBacklogMaxAgeMs: options.sagaBacklog?.maxAgeMs ?? 0,
        sagaBacklogMinOrders: options.sagaBacklog?.minOrders ?? 1,
        catalogCacheTtlMs: options.catalogCacheTtlMs ?? 30_000,
      },
      { logger: runtime.logger, drainMs: 10_000 },
    );
    started.push(order);
    const orders = createClient(OrderService, `127.0.0.1:${order.grpcPort}`, { name: "order", deadlineMs: 15_000 });
    clients.push(orders);
    let products: GrpcClient<typeof InventoryService> | undefined;
    if (inventory) {
      products = createClient(InventoryService, `127.0.0.1:${inventory.grpcPort}`, { name: "inventory", deadlineMs: 15_000 });
      clients.push(products);
    }
    const log = new EventLog(runtime.bus);

    const testbed: OrderTestbed = {
      runtime,
      order,
      inventory,
      orders,
      products,
      log,
      async customer() {
        const { customer } = await orders.createCustomer({ email: `c-${uuidv7()}@example.com`, name: "Ada Lovelace", phone: "+15550100" });
        return customer!.id;
      },
      async product(available, priceMinor = 1999n, currencyCode = "USD") {
        if (!products) throw new Error("this testbed runs without inventory");
        const { product } = await products.createProduct({
          sku: `sku-${uuidv7()}`,
          name: `Widget ${available}`,
          price: { currencyCode, amountMinor: priceMinor },
          initialQuantity: available,
          lowStockThreshold: 0,
        });
        return product!;
      },
      async place(customerId, lines, extra = {}) {
        const { order: placed } = await orders.createOrder({
          customerId,
          items: lines.map(([productId, quantity]) => ({ productId, quantity })),
          shippingAddress: ADDRESS,
          paymentMethod: { token: "tok_visa" },
          idempotencyKey: extra.idempotencyKey ?? "",
        });
        return placed!;
      },
      async waitForStatus(orderId, status, timeoutMs = 10_000) {
        return waitFor(
          async () => {
            const { order: found } = await orders.getOrder({ orderId });
            return found?.status === status ? found : undefined;
          },
          { timeoutMs, message: `order ${orderId} to become ${OrderStatus[status]}` },
        );
      },
      async waitProcessed(consumer, eventId) {
        await waitFor(async () => (await testbed.sql("SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?", [consumer, eventId])).length === 1, {
          message: `${consumer} to process ${eventId}`,
        });
      },
      sql(query, params = []) {
        return order.orm.em.getConnection().execute(query, params) as never;
      },
      close,
    };
    return testbed;
  } catch (error) {
    await close();
    throw error;
  }
}

/** Expects `promise` to fail with `code`, its message matching `message`; returns the error. */
