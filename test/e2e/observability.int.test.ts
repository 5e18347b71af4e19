import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { NotificationStatus } from "../../gen/shop/notification/v1/notification_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { signDevToken } from "../../gateway/auth.js";
import { DEV_JWT_SECRET } from "../../gateway/config.js";
import { freePort } from "../../dev/free-port.js";
import { type GatewayProcess, startGatewayProcess } from "../../dev/gateway-process.js";
import { type Mesh, SERVICES, startMesh } from "../../dev/mesh.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";
import { type OtlpReceiver, type ReceivedSpan, SpanKinds, startOtlpReceiver } from "../harness/otlp-receiver.js";
import { type Sample, scrape, sumOf } from "../harness/prometheus.js";
import { type MeshClients, meshClients } from "./mesh-clients.js";

/**
 * Traces and metrics of the whole system: the six services and the gateway as child
 * processes exporting OTLP/HTTP (JSON) to a receiver this test runs, and serving /metrics.
 */

const ADDRESS = { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada" };
const ORDER_ID = "shop.order.id";

describe("observability end to end", () => {
  let receiver: OtlpReceiver;
  let mesh: Mesh;
  let gateway: GatewayProcess;
  let api: MeshClients;
  let adminToken: string;
  const logs: string[] = [];
  const keep = (line: string) => {
    logs.push(line);
    if (logs.length > 300) logs.shift();
  };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const infra = testInfra();
    const eventsPrefix = uniqueId("o");
    const telemetryEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "200", LOG_LEVEL: "warn" };
    mesh = await startMesh({
      databaseUrl: infra.databaseUrl,
      natsUrl: infra.natsUrl,
      s3Endpoint: infra.s3Endpoint,
      databasePrefix: `${uniqueId("o")}_`,
      eventsPrefix,
      env: { ...telemetryEnv, NOTIFY_RETRY_BASE_MS: "100", METRICS_SAMPLE_MS: "200" },
      onLog: (service, line) => keep(`${service} ${line}`),
      // Seven processes start at once on a shared two-core machine.
      readyTimeoutMs: 150_000,
    });
    gateway = await startGatewayProcess({
      port: await freePort(),
      metricsPort: await freePort(),
      env: { ...mesh.addresses(), ...telemetryEnv, NATS_URL: infra.natsUrl, EVENTS_PREFIX: eventsPrefix, RATE_LIMIT_RPS: "1000", RATE_LIMIT_BURST: "1000" },
      onLog: (line) => keep(`gateway ${line}`),
      readyTimeoutMs: 120_000,
    });
    api = meshClients(mesh);
    adminToken = await signDevToken({ sub: "ops", admin: true, ttlSeconds: 3600, secret: DEV_JWT_SECRET });
  }, 360_000);

  afterAll(async () => {
    api?.close();
    await gateway?.stop();
    await mesh?.stop();
    await receiver?.close();
  }, 60_000);

  async function rest<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  async function customer() {
    const { customer } = await api.order.createCustomer({ email: `${uniqueId("c")}@example.com`, name: "Ada Lovelace", phone: "+15555550123" });
    return { ...customer!, token: await signDevToken({ sub: customer!.id, ttlSeconds: 3600, secret: DEV_JWT_SECRET }) };
  }

  async function product(available: number, priceMinor = 2_500n) {
    const { product } = await api.inventory.createProduct({
      sku: uniqueId("sku-"),
      name: `Product ${available}`,
      price: { currencyCode: "USD", amountMinor: priceMinor },
      initialQuantity: available,
      lowStockThreshold: 1,
    });
    return product!;
  }

  async function placeOrder(
    token: string,
    productId: string,
    quantity: number,
    paymentToken = "tok_visa",
  ): Promise<{ id: string; total: { amount_minor: string } }> {
    // The answer is the order itself, in protobuf JSON.
    return rest<{ id: string; total: { amount_minor: string } }>("POST", "/api/v1/orders", token, {
      items: [{ product_id: productId, quantity }],
      shipping_address: ADDRESS,
      payment_method: { token: paymentToken },
    });
  }

  async function waitForStatus(orderId: string, status: OrderStatus): Promise<void> {
    await waitFor(async () => (await api.order.getOrder({ orderId })).order?.status === status, {
      timeoutMs: 45_000,
      message: `order ${orderId} to reach ${OrderStatus[status]}`,
    });
  }

  async function moveDelivery(orderId: string, status: "IN_TRANSIT" | "DELIVERED"): Promise<void> {
    const { delivery } = await waitFor(() => api.delivery.getDeliveryByOrder({ orderId }).catch(() => undefined), { timeoutMs: 30_000, message: "delivery" });
    await rest("PATCH", `/api/v1/deliveries/${delivery!.id}/status`, adminToken, { status, notes: "on its way" });
  }

  function spansOf(traceId: string): ReceivedSpan[] {
    return receiver.spans.filter((s) => s.traceId === traceId);
  }

  it("makes one trace per order, from the gateway through every service and hop to the last notification", async () => {
    const buyer = await customer();
    const p = await product(10);
    const order = await placeOrder(buyer.token, p.id, 2);
    await waitForStatus(order.id, OrderStatus.CONFIRMED);
    await moveDelivery(order.id, "IN_TRANSIT");
    await waitForStatus(order.id, OrderStatus.SHIPPED);
    await moveDelivery(order.id, "DELIVERED");
    await waitForStatus(order.id, OrderStatus.DELIVERED);
    // created, confirmed, invoice ready, shipped, delivered: one e-mail each.
    const sent = await waitFor(
      async () => {
        const { notifications } = await api.notification.listNotifications({ orderId: order.id, pageSize: 100 });
        const done = notifications.filter((n) => n.status === NotificationStatus.SENT);
        return done.length >= 5 ? done : undefined;
      },
      { timeoutMs: 30_000, message: "an e-mail for each customer-visible step" },
    );

    const placed = await waitFor(
      () =>
        receiver.spans.find(
          (s) => s.service === "gateway" && s.kind === SpanKinds.SERVER && s.name === "POST /api/v1/orders" && s.attributes[ORDER_ID] === order.id,
        ),
      { timeoutMs: 20_000, message: "the gateway's span of POST /api/v1/orders" },
    );
    const traceId = placed.traceId;
    expect(placed.attributes["http.route"]).toBe("/api/v1/orders");
    expect(placed.attributes["http.request.method"]).toBe("POST");
    expect(placed.parentSpanId).toBeUndefined();

    // Spans arrive in batches from seven processes: wait until the trace is complete, that is,
    // every notification was sent in it and every parent has arrived.
    const hops = ["order.created", "inventory.reserved", "payment.completed", "order.confirmed", "delivery.status_changed", "order.shipped", "order.delivered"];
    let progress = {};
    const trace = await waitFor(
      () => {
        const spans = spansOf(traceId);
        const ids = new Set(spans.map((s) => s.spanId));
        const notified = spans.filter((s) => s.name.startsWith("notify ") && s.attributes["shop.notification.outcome"] === "sent");
        const orphans = spans.filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId));
        const missing = hops.filter(
          (hop) => !spans.some((s) => s.kind === SpanKinds.CONSUMER && String(s.attributes["messaging.destination.name"]).endsWith(hop)),
        );
        progress = { spans: spans.length, notified: notified.length, orphans: orphans.map((s) => `${s.service} ${s.name}`), missing };
        return notified.length >= sent.length && orphans.length === 0 && missing.length === 0 ? spans : undefined;
      },
      { timeoutMs: 30_000, message: `trace ${traceId} with a span for each of ${sent.length} notifications, every hop consumed and no parent missing` },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; progress: ${JSON.stringify(progress)}`);
    });

    // One trace for the whole saga: every hop about the order, the notifications included.
    const aboutOrder = receiver.spans.filter((s) => s.attributes[ORDER_ID] === order.id);
    const sagaHops = aboutOrder.filter((s) => s.kind === SpanKinds.PRODUCER || s.kind === SpanKinds.CONSUMER || s.name.startsWith("notify "));
    expect(sagaHops.length).toBeGreaterThan(20);
    expect(new Set(sagaHops.map((s) => s.traceId))).toEqual(new Set([traceId]));

    // Every span of the trace is about the order and says so.
    expect(trace.filter((s) => s.attributes[ORDER_ID] !== order.id).map((s) => `${s.service} ${s.name}`)).toEqual([]);
    // From the gateway and every service.
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(["gateway", ...SERVICES]));
    // One root, the gateway's request; every other parent inside the trace.
    expect(trace.filter((s) => s.parentSpanId === undefined).map((s) => s.name)).toEqual(["POST /api/v1/orders"]);

    // Conventions: RPC spans.
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const rpc = trace.filter((s) => s.attributes["rpc.system"] === "grpc");
    expect(rpc.some((s) => s.kind === SpanKinds.SERVER && s.service === "order" && s.name === "shop.order.v1.OrderService/CreateOrder")).toBe(true);
    expect(rpc.some((s) => s.kind === SpanKinds.CLIENT && s.service === "order" && s.attributes["peer.service"] === "inventory")).toBe(true);
    for (const span of rpc) {
      expect(span.name).toBe(`${String(span.attributes["rpc.service"])}/${String(span.attributes["rpc.method"])}`);
      expect(span.name).toMatch(/^shop\.[a-z]+\.v1\.[A-Za-z]+Service\/[A-Za-z]+$/);
      expect(typeof span.attributes["rpc.grpc.status_code"]).toBe("number");
      expect([SpanKinds.SERVER, SpanKinds.CLIENT]).toContain(span.kind);
    }
    // Conventions: messaging spans; each CONSUMER span is the child of the relay's PRODUCER span.
    const messaging = trace.filter((s) => s.attributes["messaging.system"] !== undefined);
    expect(messaging.length).toBeGreaterThan(10);
    for (const span of messaging) {
      const operation = span.kind === SpanKinds.PRODUCER ? "send" : "process";
      expect(span.attributes["messaging.system"]).toBe("nats");
      expect(span.attributes["messaging.operation.name"]).toBe(operation);
      expect(span.name).toBe(`${operation} ${String(span.attributes["messaging.destination.name"])}`);
      if (span.kind === SpanKinds.CONSUMER) {
        const parent = byId.get(span.parentSpanId!);
        expect(parent?.kind).toBe(SpanKinds.PRODUCER);
        expect(parent?.attributes["messaging.destination.name"]).toBe(span.attributes["messaging.destination.name"]);
      } else {
        expect(span.kind).toBe(SpanKinds.PRODUCER);
      }
    }

    // The admin's delivery updates are requests of their own: their traces link to the order's.
    const updates = receiver.spans.filter(
      (s) => s.service === "gateway" && s.name === "PATCH /api/v1/deliveries/:id/status" && s.attributes[ORDER_ID] === order.id,
    );
    expect(updates).toHaveLength(2);
    for (const update of updates) {
      expect(update.traceId).not.toBe(traceId);
      const delivery = await waitFor(
        () => receiver.spans.find((s) => s.traceId === update.traceId && s.service === "delivery" && s.kind === SpanKinds.SERVER),
        { message: "the delivery service's span of UpdateDeliveryStatus" },
      );
      expect(delivery.attributes[ORDER_ID]).toBe(order.id);
      expect(delivery.links.map((l) => l.traceId)).toContain(traceId);
    }

    // No card token, e-mail address or e-mail body in any attribute of any span.
    const { notifications } = await api.notification.listNotifications({ orderId: order.id, pageSize: 100 });
    const secrets = ["tok_", buyer.email, ...notifications.map((n) => n.body).filter((b) => b.length > 0)];
    const leaks = receiver.spans.flatMap((s) =>
      Object.entries(s.attributes)
        .filter(([, v]) => typeof v === "string" && secrets.some((secret) => v.includes(secret)))
        .map(([k]) => `${s.service} ${s.name} ${k}`),
    );
    expect(leaks).toEqual([]);
    expect(receiver.rejected).toEqual([]);
  }, 180_000);

  it("moves the RPC, consumer, outbox, DLQ, breaker and business metrics of every process", async () => {
    const urls: Record<string, string> = { gateway: gateway.metricsUrl, ...Object.fromEntries(SERVICES.map((s) => [s, mesh.metricsUrl(s)])) };
    const before: Record<string, Sample[]> = {};
    for (const [name, url] of Object.entries(urls)) before[name] = await scrape(url);

    const buyer = await customer();
    const plenty = await product(10, 1_250n);
    const scarce = await product(1);
    const confirmed = await placeOrder(buyer.token, plenty.id, 2);
    const declined = await placeOrder(buyer.token, plenty.id, 1, "tok_declined");
    const rejected = await placeOrder(buyer.token, scarce.id, 5);
    await waitForStatus(confirmed.id, OrderStatus.CONFIRMED);
    await waitForStatus(declined.id, OrderStatus.PAYMENT_FAILED);
    await waitForStatus(rejected.id, OrderStatus.REJECTED);

    const delta = (samples: Sample[], process: string, name: string, labels: Record<string, string> = {}) =>
      sumOf(samples, name, labels) - sumOf(before[process], name, labels);

    // Business counters are counted at commit, so they are there once the statuses are.
    const order = await scrape(urls.order);
    expect(delta(order, "order", "ordermesh_orders_created_total")).toBe(3);
    expect(delta(order, "order", "ordermesh_orders_confirmed_total")).toBe(1);
    expect(delta(order, "order", "ordermesh_orders_rejected_total")).toBe(1);
    expect(delta(order, "order", "ordermesh_orders_failed_total", { status: "PAYMENT_FAILED" })).toBe(1);
    expect(delta(order, "order", "ordermesh_order_revenue_minor_total", { currency: "USD" })).toBe(Number(confirmed.total.amount_minor));
    expect(Number(confirmed.total.amount_minor)).toBe(2_500);

    // RPC durations by method and status code, on both ends.
    expect(delta(order, "order", "rpc_server_duration_seconds_count", { rpc_method: "CreateOrder", rpc_grpc_status_code: "0" })).toBe(3);
    // Two products: each priced through inventory at least once (the catalog cache may answer the
    // second order of `plenty`).
    expect(delta(order, "order", "rpc_client_duration_seconds_count", { peer_service: "inventory", rpc_grpc_status_code: "0" })).toBeGreaterThanOrEqual(2);
    // A Connect call through the gateway: an RPC SERVER span there, and the gateway's own RPC histogram.
    const connect = await fetch(`${gateway.url}/shop.order.v1.OrderService/GetOrder`, {
      method: "POST",
      headers: { authorization: `Bearer ${buyer.token}`, "content-type": "application/json" },
      body: JSON.stringify({ orderId: confirmed.id }),
    });
    expect(connect.status).toBe(200);
    const rpcSpan = await waitFor(
      () =>
        receiver.spans.find(
          (s) =>
            s.service === "gateway" &&
            s.kind === SpanKinds.SERVER &&
            s.name === "shop.order.v1.OrderService/GetOrder" &&
            s.attributes[ORDER_ID] === confirmed.id,
        ),
      { timeoutMs: 20_000, message: "the gateway's span of the Connect GetOrder call" },
    );
    expect(rpcSpan.attributes).toMatchObject({ "rpc.system": "connect_rpc", "rpc.service": "shop.order.v1.OrderService", "rpc.method": "GetOrder" });
    const gatewayAfter = await scrape(urls.gateway);
    expect(
      delta(gatewayAfter, "gateway", "rpc_server_duration_seconds_count", { rpc_system: "connect_rpc", rpc_method: "GetOrder", rpc_grpc_status_code: "0" }),
    ).toBe(1);
    expect(
      delta(gatewayAfter, "gateway", "rpc_client_duration_seconds_count", { peer_service: "order", rpc_method: "CreateOrder", rpc_grpc_status_code: "0" }),
    ).toBe(3);
    expect(sumOf(gatewayAfter, "ordermesh_circuit_breaker_state", { upstream: "order" })).toBe(0);
    expect(gatewayAfter.some((s) => s.name === "ordermesh_circuit_breaker_state" && s.labels.upstream === "delivery")).toBe(true);
    expect(sumOf(order, "ordermesh_circuit_breaker_state", { upstream: "inventory" })).toBe(0);

    // Consumers: events handled with their durations; pending counts, outbox and DLQ sampled.
    for (const service of ["order", "inventory", "payment", "notification"] as const) {
      const after = await scrape(urls[service]);
      expect(delta(after, service, "ordermesh_consumer_events_handled_total")).toBeGreaterThan(0);
      expect(delta(after, service, "ordermesh_consumer_handler_duration_seconds_count", { outcome: "ok" })).toBeGreaterThan(0);
      expect(after.some((s) => s.name === "ordermesh_consumer_pending_messages" && s.labels.consumer?.startsWith(`${service}-`))).toBe(true);
      expect(after.some((s) => s.name === "ordermesh_outbox_depth" && s.labels.service === service)).toBe(true);
      expect(after.some((s) => s.name === "ordermesh_outbox_oldest_age_seconds" && s.labels.service === service)).toBe(true);
      expect(after.some((s) => s.name === "ordermesh_dlq_messages")).toBe(true);
      for (const name of [
        "ordermesh_consumer_events_failed_total",
        "ordermesh_consumer_events_retried_total",
        "ordermesh_consumer_events_dead_lettered_total",
      ]) {
        expect(after.some((s) => s.name === name)).toBe(true);
      }
    }
    // Once settled, nothing is left pending and the outboxes drain (sampled every 200 ms).
    await waitFor(
      async () => {
        const samples = await Promise.all(["order", "inventory", "payment"].map((s) => scrape(urls[s])));
        return samples.every((s) => sumOf(s, "ordermesh_outbox_depth") === 0 && sumOf(s, "ordermesh_consumer_pending_messages") === 0);
      },
      { timeoutMs: 20_000, message: "outboxes drained and no consumer pending" },
    );
  }, 120_000);
});
