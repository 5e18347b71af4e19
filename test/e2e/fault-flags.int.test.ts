import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Mesh, startMesh } from "../../dev/mesh.js";
import { readGatewayConfig } from "../../gateway/config.js";
import { type RunningGateway, start } from "../../gateway/server.js";
import { rest, tokens } from "../../gateway/testing/http.js";
import { busNames } from "../../lib/events/names.js";
import { createLogger } from "../../lib/log.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";

/**
 * Fault flags through the gateway's admin API, applied by the real services: a payment
 * provider that always fails makes the saga compensate (PAYMENT_FAILED, stock released); a
 * paused consumer leaves orders RESERVED until it is resumed; a reset restores normal service.
 */
const SECRET = "fault-flags-test-secret-0123456789abcdef";
const logger = createLogger("fault-flags-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
const ADDRESS = { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada" };

describe("fault flags", () => {
  let mesh: Mesh;
  let gateway: RunningGateway;
  let nc: NatsConnection;
  let call: ReturnType<typeof rest>;
  const eventsPrefix = uniqueId("ff");
  const tok = tokens(SECRET);
  let adminToken: string;
  let customerToken: string;
  let customerId: string;
  let productId: string;

  beforeAll(async () => {
    const infra = testInfra();
    mesh = await startMesh({
      ...infra,
      databasePrefix: `${uniqueId("ff")}_`,
      eventsPrefix,
      services: ["order", "inventory", "payment"],
      // Short consumer retries: a failing charge gives up within seconds.
      env: { LOG_LEVEL: "warn" },
      readyTimeoutMs: 90_000,
    });
    gateway = await start(
      readGatewayConfig({
        ...mesh.addresses(),
        NOTIFICATION_ADDR: "127.0.0.1:1",
        FILE_ADDR: "127.0.0.1:1",
        DELIVERY_ADDR: "127.0.0.1:1",
        GATEWAY_PORT: "0",
        METRICS_PORT: "-1",
        JWT_SECRET: SECRET,
        NATS_URL: infra.natsUrl,
        EVENTS_PREFIX: eventsPrefix,
        RATE_LIMIT_RPS: "1000",
        RATE_LIMIT_BURST: "1000",
      }),
      { logger },
    );
    call = rest(`http://127.0.0.1:${gateway.port}`);
    nc = await connect({ servers: infra.natsUrl });
    adminToken = await tok.admin();
    const customer = await call("POST", "/api/v1/customers", { token: adminToken, json: { email: `${uniqueId("c")}@example.com`, name: "Ada" } });
    customerId = (customer.json as { id: string }).id;
    customerToken = await tok.customer(customerId);
    const product = await call("POST", "/api/v1/inventory", {
      token: adminToken,
      json: { sku: uniqueId("SKU-"), name: "Fault lamp", price: { currency_code: "USD", amount_minor: 1500 }, initial_quantity: 10 },
    });
    expect(product.status).toBe(201);
    productId = (product.json as { id: string }).id;
  }, 150_000);

  afterAll(async () => {
    await call?.("DELETE", "/api/v1/admin/faults", { token: adminToken }).catch(() => undefined);
    await gateway?.stop(2_000);
    await nc?.drain();
    await mesh?.stop(5_000);
  }, 60_000);

  async function placeOrder(quantity: number): Promise<string> {
    const created = await call("POST", "/api/v1/orders", {
      token: customerToken,
      json: { customer_id: customerId, items: [{ product_id: productId, quantity }], shipping_address: ADDRESS, payment_method: { token: "tok_visa" } },
    });
    expect(created.status).toBe(201);
    return (created.json as { id: string }).id;
  }

  async function status(orderId: string): Promise<string> {
    const res = await call("GET", `/api/v1/orders/${orderId}`, { token: customerToken });
    return (res.json as { status: string }).status;
  }

  async function stock(): Promise<{ available: number; reserved: number; sold: number }> {
    return (await call("GET", `/api/v1/inventory/${productId}`, { token: adminToken })).json as { available: number; reserved: number; sold: number };
  }

  it("refuses bad flags and non-admins with a clear 4xx", async () => {
    const bad = await call("PUT", "/api/v1/admin/faults/providers/payment", { token: adminToken, json: { failure_rate: 1.5 } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { field: "failure_rate" } });
    expect((await call("PUT", "/api/v1/admin/faults/providers/bank", { token: adminToken, json: { failure_rate: 1 } })).status).toBe(400);
    expect((await call("PUT", "/api/v1/admin/faults/consumers/no-such-consumer/pause", { token: adminToken })).status).toBe(404);
    expect((await call("PUT", "/api/v1/admin/faults/providers/payment", { token: customerToken, json: { failure_rate: 1 } })).status).toBe(403);
  });

  it("a payment provider failing 100% makes orders PAYMENT_FAILED with their stock released; a reset restores it", async () => {
    const before = await stock();
    const set = await call("PUT", "/api/v1/admin/faults/providers/payment", { token: adminToken, json: { failure_rate: 1, latency_ms: 10 } });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ provider: "PROVIDER_PAYMENT", failure_rate: 1, latency_ms: 10 });
    expect((await call("GET", "/api/v1/admin/faults", { token: adminToken })).json).toMatchObject({ providers: [{ provider: "PROVIDER_PAYMENT" }] });

    const failed = await placeOrder(2);
    await waitFor(async () => (await status(failed)) === "ORDER_STATUS_PAYMENT_FAILED", { timeoutMs: 60_000, message: "the order to be PAYMENT_FAILED" });
    await waitFor(
      async () => {
        const now = await stock();
        return now.available === before.available && now.reserved === before.reserved && now.sold === before.sold;
      },
      { timeoutMs: 30_000, message: "the reservation to be released" },
    );

    expect((await call("DELETE", "/api/v1/admin/faults", { token: adminToken })).status).toBe(204);
    const cleared = (await call("GET", "/api/v1/admin/faults", { token: adminToken })).json as { consumers: { name: string; service: string }[] };
    expect(cleared).toEqual({ providers: [], paused_consumers: [], consumers: expect.any(Array) });
    // What can be paused: every durable consumer, named by the service that runs it.
    expect(cleared.consumers).toContainEqual(expect.objectContaining({ name: "payment-charge", service: "payment" }));
    expect(cleared.consumers.every((c) => c.service !== "" && c.name.startsWith(`${c.service}-`))).toBe(true);
    const confirmed = await placeOrder(1);
    await waitFor(async () => (await status(confirmed)) === "ORDER_STATUS_CONFIRMED", {
      timeoutMs: 60_000,
      message: "an order after the reset to be CONFIRMED",
    });
  }, 150_000);

  it("a paused consumer stops pulling: orders wait RESERVED until it is resumed", async () => {
    const paused = await call("PUT", "/api/v1/admin/faults/consumers/payment-charge/pause", { token: adminToken });
    expect(paused.status).toBe(200);
    const orderId = await placeOrder(1);
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () =>
        (await status(orderId)) === "ORDER_STATUS_RESERVED" && (await jsm.consumers.info(busNames(eventsPrefix).stream, "payment-charge")).num_pending >= 1,
      { timeoutMs: 60_000, message: "the order to wait RESERVED with its event pending for payment-charge" },
    );
    expect((await call("PUT", "/api/v1/admin/faults/consumers/payment-charge/resume", { token: adminToken })).status).toBe(204);
    await waitFor(async () => (await status(orderId)) === "ORDER_STATUS_CONFIRMED", { timeoutMs: 60_000, message: "the order to be CONFIRMED once resumed" });
  }, 150_000);
});
