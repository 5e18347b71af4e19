import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { type Order, OrderService, OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentService, PaymentStatus } from "../../gen/shop/payment/v1/payment_pb.js";
import { createClient } from "../../lib/grpc/index.js";
import { type Mesh, startMesh } from "../../dev/mesh.js";
import { type RunningNatsCluster, startNatsCluster } from "../../dev/nats.js";
import { busNames, ensureStreams } from "../../lib/events/index.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";

/**
 * The saga against a 3-node JetStream cluster with R3 streams, as in Kubernetes (k8s/dev/nats.yaml):
 * the services get the three servers as a NATS_URL list, and the node leading SHOP_EVENTS is
 * SIGKILLed while orders are being placed. Nothing may be lost or done twice.
 */

const ORDERS = 30;
const SERVICES = ["order", "inventory", "payment"] as const;

/** Clients of the three services the saga needs up to CONFIRMED. */
function sagaClients(mesh: Mesh) {
  const options = (name: string) => ({ name, deadlineMs: 15_000, breaker: { volumeThreshold: 1_000 } });
  const clients = {
    order: createClient(OrderService, mesh.address("order"), options("order")),
    inventory: createClient(InventoryService, mesh.address("inventory"), options("inventory")),
    payment: createClient(PaymentService, mesh.address("payment"), options("payment")),
  };
  return { ...clients, close: () => Object.values(clients).forEach((client) => client.close()) };
}
const ADDRESS = { line1: "1 Main St", city: "Springfield", postalCode: "12345", countryCode: "US", recipientName: "Ada" };

describe("order saga on a 3-node NATS cluster losing a node", () => {
  let dir: string;
  let cluster: RunningNatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let mesh: Mesh;
  let api: ReturnType<typeof sagaClients>;
  const eventsPrefix = uniqueId("c");
  const names = busNames(eventsPrefix);
  const logs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ordermesh-nats-cluster-"));
    cluster = await startNatsCluster({ dir });
    nc = await connect({ servers: cluster.url.split(","), name: "cluster-test", maxReconnectAttempts: -1 });
    // JetStream answers once the cluster has elected its meta leader.
    jsm = await waitFor(() => jetstreamManager(nc).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 200, message: "JetStream meta leader" });
    // As in Kubernetes, where the first pod creates the streams and later ones find them: the
    // three services do not all race to create the same R3 streams on a loaded machine.
    await ensureStreams(jsm, names, { replicas: 3 });
    const infra = testInfra();
    mesh = await startMesh({
      databaseUrl: infra.databaseUrl,
      natsUrl: cluster.url,
      s3Endpoint: infra.s3Endpoint,
      databasePrefix: `${uniqueId("c")}_`,
      eventsPrefix,
      services: SERVICES,
      env: { LOG_LEVEL: "warn", NATS_STREAM_REPLICAS: "3" },
      onLog: (service, line) => {
        logs.push(`${service} ${line}`);
        if (logs.length > 300) logs.shift();
      },
      readyTimeoutMs: 90_000,
    });
    api = sagaClients(mesh);
  }, 150_000);

  afterAll(async () => {
    api?.close();
    await mesh?.stop();
    await nc?.close();
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("confirms every order exactly once while the stream's leader node is killed", async () => {
    const stream = await jsm.streams.info(names.stream);
    expect(stream.config.num_replicas).toBe(3);
    expect(stream.cluster?.replicas ?? []).toHaveLength(2);
    const leader = stream.cluster?.leader;
    const victim = cluster.members.find((m) => m.name === leader);
    expect(victim).toBeDefined();

    const { customer } = await api.order.createCustomer({ email: `${uniqueId("c")}@example.com`, name: "Ada Lovelace", phone: "+15555550123" });
    const { product } = await api.inventory.createProduct({
      sku: uniqueId("sku-"),
      name: "Cluster test product",
      price: { currencyCode: "USD", amountMinor: 1_000n },
      initialQuantity: 100,
      lowStockThreshold: 1,
    });
    const place = async () => {
      const { order } = await api.order.createOrder({
        customerId: customer!.id,
        items: [{ productId: product!.id, quantity: 1 }],
        shippingAddress: ADDRESS,
        paymentMethod: { token: "tok_visa" },
      });
      return order!;
    };

    const orders: Order[] = [];
    for (let batch = 0; batch < ORDERS / 5; batch++) {
      orders.push(...(await Promise.all(Array.from({ length: 5 }, place))));
      // A third of the way in, with events of earlier orders still moving: the leader dies.
      if (batch === 1) await victim!.kill();
    }

    const settled = await waitFor(
      async () => {
        const current = await Promise.all(orders.map((o) => api.order.getOrder({ orderId: o.id }).then((r) => r.order!)));
        return current.every((o) => o.status === OrderStatus.CONFIRMED) ? current : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 500,
        message: `all ${ORDERS} orders CONFIRMED after losing NATS node ${leader}; recent logs:\n${logs.slice(-20).join("\n")}`,
      },
    );

    // Each order went through each step once, and was charged once.
    for (const o of settled) {
      // Events arrive in any order (payment.completed may overtake inventory.reserved, and then
      // RESERVED is skipped), but no transition may happen twice.
      const statuses = o.history.map((h) => h.toStatus);
      expect(new Set(statuses).size).toBe(statuses.length);
      expect(statuses[0]).toBe(OrderStatus.PENDING);
      expect(statuses.at(-1)).toBe(OrderStatus.CONFIRMED);
      const { payments } = await api.payment.listPayments({ orderId: o.id });
      expect(payments.map((p) => p.status)).toEqual([PaymentStatus.COMPLETED]);
    }
    // Stock is conserved: every confirmed unit sold exactly once, nothing left reserved.
    const stock = await waitFor(
      async () => {
        const { product: p } = await api.inventory.getProduct({ productId: product!.id });
        return p && p.reserved === 0 && p.sold === ORDERS ? p : undefined;
      },
      { timeoutMs: 30_000, message: "inventory to commit every reservation once" },
    );
    expect(stock.available + stock.reserved + stock.sold).toBe(100);

    // The stream lives on with a new leader among the two survivors.
    const after = await jsm.streams.info(names.stream);
    expect(after.cluster?.leader).toBeDefined();
    expect(after.cluster?.leader).not.toBe(leader);
  }, 240_000);
});
