/**
 * The gateway in-process in front of the six real services (dev/mesh.ts: child processes on the
 * test infrastructure's Postgres, NATS and S3). Shows what users do: curl with Connect JSON,
 * `buf curl` with gRPC, a gRPC-Web client; the REST happy path with SSE and the invoice; the auth
 * rules; bad input of every kind; limits; the DLQ admin; an upstream going down.
 */
import { execFile } from "node:child_process";
import { request as httpRequest } from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { NotificationSentSchema } from "../gen/shop/events/v1/notification_events_pb.js";
import { OrderService } from "../gen/shop/order/v1/order_pb.js";
import { busNames, connectBus, deadLetterSubject, type EventBus } from "../lib/events/index.js";
import { uuidv7 } from "../lib/ids.js";
import { createLogger } from "../lib/log.js";
import { type Mesh, startMesh } from "../dev/mesh.js";
import { testInfra, uniqueId, waitFor } from "../test/harness/index.js";
import { readGatewayConfig } from "./config.js";
import { type RunningGateway, start } from "./server.js";
import { readEvents, rest, tokens } from "./testing/http.js";

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "gateway-int-test-secret-0123456789abcdef";
const logger = createLogger("gateway-int", { level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** Which services to run: all seven, or GATEWAY_TEST_SERVICES=order,inventory while some are missing. */
const SERVICES = (process.env.GATEWAY_TEST_SERVICES?.split(",") ?? ["order", "inventory", "payment", "notification", "file", "delivery", "analytics"]) as (
  "order" | "inventory" | "payment" | "notification" | "file" | "delivery" | "analytics"
)[];
const has = (...names: string[]) => names.every((name) => SERVICES.includes(name as never));
const itIf = (condition: boolean) => (condition ? it : it.skip);

const ADDRESS = { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada Lovelace" };

describe("gateway in front of the real services", () => {
  let mesh: Mesh;
  let gateway: RunningGateway;
  let base: string;
  let call: ReturnType<typeof rest>;
  let bus: EventBus;
  const eventsPrefix = uniqueId("gw");
  const tok = tokens(SECRET);
  let adminToken: string;
  let alice: string;
  let bob: string;
  let aliceToken: string;
  let bobToken: string;
  let productId: string;
  const extraGateways: RunningGateway[] = [];

  function gatewayEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...mesh.addresses(),
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      METRICS_PORT: "-1",
      JWT_SECRET: SECRET,
      NATS_URL: testInfra().natsUrl,
      EVENTS_PREFIX: eventsPrefix,
      RATE_LIMIT_RPS: "1000",
      RATE_LIMIT_BURST: "1000",
      UPSTREAM_DEADLINE_MS: "5000",
      ...extra,
    };
  }

  function order(customerId?: string, quantity = 1) {
    return {
      ...(customerId ? { customer_id: customerId } : {}),
      items: [{ product_id: productId, quantity }],
      shipping_address: ADDRESS,
      payment_method: { token: "tok_visa" },
    };
  }

  /** Orders in the order service, counted as an admin sees them (for "nothing was written"). */
  async function orderCount(): Promise<number> {
    let count = 0;
    let token = "";
    do {
      const page = await call("GET", `/api/v1/orders?page_size=100${token ? `&page_token=${token}` : ""}`, { token: adminToken });
      const json = page.json as { orders: unknown[]; next_page_token: string };
      count += json.orders.length;
      token = json.next_page_token;
    } while (token);
    return count;
  }

  beforeAll(async () => {
    const infra = testInfra();
    mesh = await startMesh({
      ...infra,
      databasePrefix: `${uniqueId("gw")}_`,
      eventsPrefix,
      services: SERVICES,
      readyTimeoutMs: 90_000,
      onLog: process.env.TEST_LOG_LEVEL === "debug" ? (service, line) => console.log(`[${service}] ${line}`) : undefined,
    });
    gateway = await start(readGatewayConfig(gatewayEnv()), { logger });
    base = `http://127.0.0.1:${gateway.port}`;
    call = rest(base);
    bus = await connectBus({ natsUrl: infra.natsUrl, names: busNames(eventsPrefix), name: "gateway-int-test" });
    adminToken = await tok.admin();
    const newCustomer = async (name: string) => {
      const answer = await call("POST", "/api/v1/customers", { token: adminToken, json: { email: `${uniqueId(name)}@example.com`, name } });
      expect(answer.status).toBe(201);
      return (answer.json as { id: string }).id;
    };
    alice = await newCustomer("alice");
    bob = await newCustomer("bob");
    aliceToken = await tok.customer(alice);
    bobToken = await tok.customer(bob);
    if (has("inventory")) {
      const product = await call("POST", "/api/v1/inventory", {
        token: adminToken,
        json: { sku: uniqueId("SKU-"), name: "Gateway test widget", price: { currency_code: "USD", amount_minor: 1999 }, initial_quantity: 1000 },
      });
      expect(product.status).toBe(201);
      productId = (product.json as { id: string }).id;
    }
  }, 150_000);

  afterAll(async () => {
    await Promise.all(extraGateways.map((g) => g.stop(1_000)));
    await gateway?.stop(2_000);
    await bus?.close();
    await mesh?.stop(5_000);
  }, 60_000);

  describe("clients of every protocol place and read an order", () => {
    itIf(has("order", "inventory"))("curl with Connect JSON", async () => {
      const { stdout } = await exec("curl", [
        "-sS",
        "-X",
        "POST",
        `${base}/shop.order.v1.OrderService/CreateOrder`,
        "-H",
        "Content-Type: application/json",
        "-H",
        `Authorization: Bearer ${aliceToken}`,
        "-d",
        JSON.stringify({
          items: [{ productId, quantity: 1 }],
          shippingAddress: { line1: "1 Main St", city: "Springfield", countryCode: "US", recipientName: "Ada" },
          paymentMethod: { token: "tok_visa" },
        }),
      ]);
      const created = JSON.parse(stdout) as { order: { id: string; customerId: string; status: string } };
      expect(created.order).toMatchObject({ customerId: alice, status: "ORDER_STATUS_PENDING" });
      const read = await exec("curl", [
        "-sS",
        "-X",
        "POST",
        `${base}/shop.order.v1.OrderService/GetOrder`,
        "-H",
        "Content-Type: application/json",
        "-H",
        `Authorization: Bearer ${aliceToken}`,
        "-d",
        JSON.stringify({ orderId: created.order.id }),
      ]);
      expect(JSON.parse(read.stdout)).toMatchObject({ order: { id: created.order.id, customerId: alice } });
    });

    itIf(has("order", "inventory"))(
      "buf curl with gRPC over h2c",
      async () => {
        const buf = `${ROOT}node_modules/.bin/buf`;
        // The schema comes from the gateway's server reflection: no .proto files needed.
        const common = ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "-H", `authorization: Bearer ${aliceToken}`];
        const created = await exec(
          buf,
          [
            ...common,
            "-d",
            JSON.stringify({
              items: [{ productId, quantity: 1 }],
              shippingAddress: { line1: "1 Main St", city: "Springfield", countryCode: "US", recipientName: "Ada" },
              paymentMethod: { token: "tok_visa" },
            }),
            `${base}/shop.order.v1.OrderService/CreateOrder`,
          ],
          { cwd: ROOT },
        );
        const { order } = JSON.parse(created.stdout) as { order: { id: string; customerId: string } };
        expect(order.customerId).toBe(alice);
        const read = await exec(buf, [...common, "-d", JSON.stringify({ orderId: order.id }), `${base}/shop.order.v1.OrderService/GetOrder`], { cwd: ROOT });
        expect(JSON.parse(read.stdout)).toMatchObject({ order: { id: order.id, status: expect.stringMatching(/^ORDER_STATUS_/) } });
        // Another customer's order through gRPC: NOT_FOUND (buf curl exits non-zero and prints the error).
        const denied = await exec(
          buf,
          [
            ...common.slice(0, -1),
            `authorization: Bearer ${bobToken}`,
            "-d",
            JSON.stringify({ orderId: order.id }),
            `${base}/shop.order.v1.OrderService/GetOrder`,
          ],
          {
            cwd: ROOT,
          },
        ).then(
          () => undefined,
          (error: { stderr: string }) => error.stderr,
        );
        expect(denied).toMatch(/not_found/);
      },
      60_000,
    );

    itIf(has("order", "inventory"))("a gRPC-Web client (fetch over HTTP/1.1)", async () => {
      const client = createClient(OrderService, createGrpcWebTransport({ baseUrl: base, fetch: globalThis.fetch }));
      const headers = { authorization: `Bearer ${aliceToken}` };
      const { order } = await client.createOrder(
        {
          items: [{ productId, quantity: 1 }],
          shippingAddress: { line1: "1 Main St", city: "Springfield", countryCode: "US", recipientName: "Ada" },
          paymentMethod: { token: "tok_visa" },
        },
        { headers },
      );
      expect(order?.customerId).toBe(alice);
      const read = await client.getOrder({ orderId: order!.id }, { headers });
      expect(read.order?.id).toBe(order!.id);
    });
  });

  describe("REST happy path", () => {
    itIf(has("order", "inventory", "payment", "file"))(
      "POST an order, follow it by SSE to CONFIRMED, download its invoice PDF",
      async () => {
        const created = await call("POST", "/api/v1/orders", { token: aliceToken, json: order(), headers: { "idempotency-key": uniqueId("k") } });
        expect(created.status).toBe(201);
        const orderId = (created.json as { id: string }).id;

        const response = await fetch(`${base}/api/v1/orders/${orderId}/events`, { headers: { authorization: `Bearer ${aliceToken}` } });
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const events = await readEvents(response, (event) => event.event === "message" && /ORDER_STATUS_CONFIRMED/.test(event.data));
        const statuses = events.map((e) => (JSON.parse(e.data) as { order: { status: string } }).order.status);
        expect(statuses[0]).toMatch(/ORDER_STATUS_(PENDING|RESERVED|CONFIRMED)/);
        expect(statuses.at(-1)).toBe("ORDER_STATUS_CONFIRMED");

        // The invoice is generated after the confirmation: 404 until then.
        const pdf = await waitFor(
          async () => {
            const answer = await fetch(`${base}/api/v1/orders/${orderId}/invoice`, { headers: { authorization: `Bearer ${aliceToken}` } });
            if (answer.status === 404) {
              await answer.body?.cancel();
              return undefined;
            }
            return answer;
          },
          { timeoutMs: 30_000, message: "the invoice" },
        );
        expect(pdf.status).toBe(200);
        expect(pdf.headers.get("content-type")).toBe("application/pdf");
        const bytes = Buffer.from(await pdf.arrayBuffer());
        expect(bytes.subarray(0, 4).toString("latin1")).toBe("%PDF");
        expect(String(bytes.length)).toBe(pdf.headers.get("content-length"));
        // Bob cannot have it.
        expect((await call("GET", `/api/v1/orders/${orderId}/invoice`, { token: bobToken })).status).toBe(404);
      },
      60_000,
    );

    itIf(has("order", "inventory", "payment", "analytics"))(
      "an order's timeline for its owner and admins, the dashboard for admins only",
      async () => {
        const created = await call("POST", "/api/v1/orders", { token: aliceToken, json: order() });
        expect(created.status).toBe(201);
        const orderId = (created.json as { id: string }).id;
        type Timeline = { order_id: string; status: string; entries: { name: string; service: string; occurred_at: string; summary: string }[] };
        const timeline = await waitFor(
          async () => {
            const answer = await call("GET", `/api/v1/orders/${orderId}/timeline`, { token: aliceToken });
            const json = answer.json as Timeline;
            return answer.status === 200 && json.entries.some((e) => e.name === "order.confirmed") ? json : undefined;
          },
          { timeoutMs: 30_000, message: "the timeline to show the confirmation" },
        );
        expect(timeline).toMatchObject({ order_id: orderId, status: expect.stringMatching(/^ORDER_STATUS_(CONFIRMED|SHIPPED|DELIVERED)$/) });
        expect(timeline.entries.map((e) => `${e.service} ${e.name}`)).toEqual(
          expect.arrayContaining(["order order.created", "inventory inventory.reserved", "payment payment.completed", "order order.confirmed"]),
        );
        expect((await call("GET", `/api/v1/orders/${orderId}/timeline`, { token: adminToken })).status).toBe(200);
        // Another customer's order does not exist for Bob; a bad id is named.
        expect((await call("GET", `/api/v1/orders/${orderId}/timeline`, { token: bobToken })).status).toBe(404);
        const bad = await call("GET", "/api/v1/orders/not-an-id/timeline", { token: aliceToken });
        expect(bad.status).toBe(400);
        expect(bad.json).toMatchObject({ error: { field: "id" } });

        const dashboard = await call("GET", "/api/v1/analytics/dashboard?window=15m&top_products=5", { token: adminToken });
        expect(dashboard.status).toBe(200);
        expect(dashboard.json).toMatchObject({ window_minutes: 15, funnel: { created: expect.any(String) } });
        expect(Number((dashboard.json as { funnel: { paid: string } }).funnel.paid)).toBeGreaterThanOrEqual(1);
        expect((await call("GET", "/api/v1/analytics/dashboard", { token: aliceToken })).status).toBe(403);
        const badWindow = await call("GET", "/api/v1/analytics/dashboard?window=forever", { token: adminToken });
        expect(badWindow.status).toBe(400);
        expect(JSON.stringify(badWindow.json)).toContain("window");
      },
      60_000,
    );
  });

  describe("customers, availability and bulk routes (seed 003)", () => {
    itIf(has("order", "inventory"))(
      "self-registers a customer, checks availability, places and cancels in bulk, and refuses a status the saga owns",
      async () => {
        const carol = uuidv7();
        const carolToken = await tok.customer(carol);
        const registered = await call("POST", "/api/v1/customers", {
          token: carolToken,
          json: { email: `${uniqueId("carol")}@example.com`, name: "Carol", address: ADDRESS },
        });
        expect(registered.status).toBe(201);
        expect(registered.json).toMatchObject({ id: carol, address: { country_code: "US" } });
        expect((await call("PATCH", `/api/v1/customers/${carol}`, { token: carolToken, json: { name: "Carol C" } })).json).toMatchObject({ name: "Carol C" });

        const availability = await call("POST", "/api/v1/inventory/check-availability", {
          token: carolToken,
          json: {
            lines: [
              { product_id: productId, quantity: 2 },
              { product_id: uuidv7(), quantity: 1 },
            ],
          },
        });
        expect(availability.json).toMatchObject({
          all_available: false,
          lines: [
            { orderable: true, problem: "AVAILABILITY_PROBLEM_UNSPECIFIED" },
            { orderable: false, problem: "AVAILABILITY_PROBLEM_UNKNOWN_PRODUCT" },
          ],
        });

        const bulk = await call("POST", "/api/v1/orders/bulk", { token: carolToken, json: { orders: [order(), order()] } });
        expect(bulk.status).toBe(200);
        const ids = (bulk.json as { results: { order: { id: string; customer_id: string } }[] }).results.map((r) => r.order.id);
        expect(ids).toHaveLength(2);
        const cancelled = await call("POST", "/api/v1/orders/bulk/cancel", { token: carolToken, json: { order_ids: ids, reason: "bulk test" } });
        expect((cancelled.json as { results: { order_id: string; order: { status: string } }[] }).results).toEqual([
          expect.objectContaining({ order_id: ids[0], order: expect.objectContaining({ status: "ORDER_STATUS_CANCELLED" }) }),
          expect.objectContaining({ order_id: ids[1], order: expect.objectContaining({ status: "ORDER_STATUS_CANCELLED" }) }),
        ]);
        const saga = await call("PATCH", `/api/v1/orders/${ids[0]}/status`, { token: adminToken, json: { status: "RESERVED" } });
        expect(saga.status).toBe(400);
        const late = await call("PATCH", `/api/v1/orders/${ids[0]}/status`, { token: adminToken, json: { status: "SHIPPED" } });
        expect(late.status).toBe(409);
      },
      60_000,
    );
  });

  describe("authentication and authorization", () => {
    itIf(has("order", "inventory"))("no token 401; bad signature 401; A reading or cancelling B's order 404; admin route as customer 403", async () => {
      const bobs = await call("POST", "/api/v1/orders", { token: bobToken, json: order() });
      expect(bobs.status).toBe(201);
      const bobOrder = (bobs.json as { id: string }).id;

      expect((await call("GET", `/api/v1/orders/${bobOrder}`)).status).toBe(401);
      const forged = (await tokens("some-other-secret-some-other-secret-xx").customer(bob)) as string;
      const bad = await call("GET", `/api/v1/orders/${bobOrder}`, { token: forged });
      expect(bad.status).toBe(401);
      expect(bad.json).toMatchObject({ error: { code: "unauthenticated", message: expect.stringMatching(/signature/) } });

      const read = await call("GET", `/api/v1/orders/${bobOrder}`, { token: aliceToken });
      expect(read.status).toBe(404);
      expect(read.json).toEqual({ error: { code: "not_found", message: `order ${bobOrder} not found` } });
      const cancel = await call("PUT", `/api/v1/orders/${bobOrder}/cancel`, { token: aliceToken, json: { reason: "mine now" } });
      expect(cancel.status).toBe(404);
      const still = await call("GET", `/api/v1/orders/${bobOrder}`, { token: bobToken });
      expect((still.json as { status: string }).status).not.toBe("ORDER_STATUS_CANCELLED");

      for (const [method, path, json] of [
        ["POST", "/api/v1/inventory", { sku: "X", name: "X" }],
        ["PUT", `/api/v1/inventory/${productId}/replenish`, { quantity: 5, reason: "x" }],
        ["PATCH", `/api/v1/deliveries/${uuidv7()}/status`, { status: "IN_TRANSIT" }],
        ["GET", "/api/v1/admin/dlq", undefined],
      ] as const) {
        const answer = await call(method, path, { token: aliceToken, json });
        expect({ path, status: answer.status }).toEqual({ path, status: 403 });
      }
    });
  });

  describe("bad input", () => {
    const post = (body: string | Uint8Array, contentType: string | null = "application/json") =>
      call("POST", "/api/v1/orders", { token: aliceToken, body, contentType });

    itIf(has("order", "inventory", "file"))(
      "every bad request is a 4xx naming the problem; nothing is written; the gateway stays up",
      async () => {
        // A product of its own, which no earlier order's saga can still be changing.
        const created = await call("POST", "/api/v1/inventory", {
          token: adminToken,
          json: { sku: uniqueId("BAD-"), name: "Bad input target", price: { currency_code: "USD", amount_minor: 500 }, initial_quantity: 50 },
        });
        const target = (created.json as { id: string }).id;
        const order = (_customer: undefined, quantity = 1) => ({
          items: [{ product_id: target, quantity }],
          shipping_address: ADDRESS,
          payment_method: { token: "tok_visa" },
        });
        const productId = target;
        const uploads = async () =>
          ((await call("GET", "/api/v1/files?page_size=100", { token: adminToken })).json as { files: { kind: string }[] }).files.filter(
            (f) => f.kind === "FILE_KIND_UPLOAD",
          ).length;
        const ordersBefore = await orderCount();
        const productBefore = (await call("GET", `/api/v1/inventory/${target}`, { token: adminToken })).json as { available: number; reserved: number };
        const filesBefore = await uploads();
        const valid = order(undefined);
        const cases: [string, () => Promise<{ status: number; json: unknown; text: string }>, RegExp][] = [
          ["malformed JSON", () => post('{"items": [}'), /body: malformed JSON/],
          [
            "wrong type (quantity as text)",
            () => post(JSON.stringify({ ...valid, items: [{ product_id: productId, quantity: "two" }] })),
            /items\[0\]\.quantity: expected number/,
          ],
          ["wrong type (items as object)", () => post(JSON.stringify({ ...valid, items: { product_id: productId } })), /items: must be an array/],
          ["unknown field", () => post(JSON.stringify({ ...valid, discount_code: "FREE" })), /discount_code: unknown field/],
          [
            "nested unknown field",
            () => post(JSON.stringify({ ...valid, items: [{ product_id: productId, quantity: 1, price: 1 }] })),
            /items\[0\]\.price: unknown field/,
          ],
          ["zero quantity", () => post(JSON.stringify(order(undefined, 0))), /items\[0\]\.quantity/],
          ["negative quantity", () => post(JSON.stringify(order(undefined, -5))), /items\[0\]\.quantity/],
          ["10^9 quantity", () => post(JSON.stringify(order(undefined, 1_000_000_000))), /items\[0\]\.quantity/],
          ["10^10 quantity (beyond int32)", () => post(JSON.stringify(order(undefined, 10_000_000_000))), /items\[0\]\.quantity: .*out of range/],
          ["unknown product", () => post(JSON.stringify({ ...valid, items: [{ product_id: uuidv7(), quantity: 1 }] })), /not found/],
          ["malformed product id", () => post(JSON.stringify({ ...valid, items: [{ product_id: "../../etc", quantity: 1 }] })), /product_id/],
          ["a 10 MB body", () => post(JSON.stringify({ ...valid, filler: "x".repeat(10 * 1024 * 1024) })), /exceeds the limit/],
          [
            "invalid UTF-8",
            () => post(Buffer.concat([Buffer.from('{"shipping_address":{"line1":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}}')])),
            /not valid UTF-8/,
          ],
          ["missing content type", () => post(JSON.stringify(valid), null), /Content-Type: is required/],
          [
            "path traversal in a file name",
            () => call("POST", "/api/v1/files/upload?file_name=..%2F..%2Fetc%2Fpasswd", { token: aliceToken, body: "root:x:0:0", contentType: "text/plain" }),
            /file_name: must be a plain file name/,
          ],
          ["path traversal in a file id", () => call("GET", "/api/v1/files/..%2F..%2Fetc%2Fpasswd/download", { token: aliceToken }), /"field":"id"/],
          ["empty upload", () => call("POST", "/api/v1/files/upload?file_name=a.txt", { token: aliceToken, body: "", contentType: "text/plain" }), /content/],
          [
            "Connect JSON with an unknown field",
            () => call("POST", "/shop.order.v1.OrderService/CreateOrder", { token: aliceToken, json: { itemz: [] } }),
            /itemz/,
          ],
          ["Connect JSON that is not JSON", () => call("POST", "/shop.order.v1.OrderService/CreateOrder", { token: aliceToken, body: "{{{" }), /./],
        ];
        for (const [name, send, message] of cases) {
          const answer = await send();
          const text = answer.text;
          if (process.env.GATEWAY_TEST_VERBOSE) console.log(`${name}: ${answer.status} ${text.slice(0, 200)}`);
          expect({ name, status: answer.status >= 400 && answer.status < 500, message: text }).toEqual({
            name,
            status: true,
            message: expect.stringMatching(message),
          });
        }
        // Still up, and nothing was half-written anywhere.
        expect((await call("GET", "/api/v1/orders", { token: aliceToken })).status).toBe(200);
        expect(await orderCount()).toBe(ordersBefore);
        const productAfter = (await call("GET", `/api/v1/inventory/${target}`, { token: adminToken })).json as { available: number; reserved: number };
        expect(productAfter).toMatchObject({ available: productBefore.available, reserved: productBefore.reserved });
        expect(await uploads()).toBe(filesBefore);
      },
      60_000,
    );
  });

  describe("limits", () => {
    it("rate limit: 429 with Retry-After", async () => {
      const limited = await start(readGatewayConfig(gatewayEnv({ RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "2" })), { logger });
      extraGateways.push(limited);
      const limitedCall = rest(`http://127.0.0.1:${limited.port}`);
      // Sent together, so that no token refills in between (1 per second).
      const answers = await Promise.all([1, 2, 3].map(() => limitedCall("GET", `/api/v1/customers/${alice}`, { token: aliceToken })));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429]);
      const limitedAnswer = answers.find((a) => a.status === 429)!;
      expect(Number(limitedAnswer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(limitedAnswer.json).toMatchObject({ error: { code: "resource_exhausted" } });
    });

    it("load shedding: 503 while MAX_IN_FLIGHT requests are being served", async () => {
      const shedding = await start(readGatewayConfig(gatewayEnv({ MAX_IN_FLIGHT: "1" })), { logger });
      extraGateways.push(shedding);
      // A request whose body is still arriving holds the only slot.
      const held = httpRequest({
        host: "127.0.0.1",
        port: shedding.port,
        method: "POST",
        path: "/api/v1/customers",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", "content-length": "200" },
      });
      const heldAnswer = new Promise<number>((resolve, reject) => {
        held.on("response", (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        held.on("error", reject);
      });
      held.write('{"email":');
      await waitFor(() => shedding.shedder.inFlight === 1, { message: "the held request in flight" });
      const shed = await rest(`http://127.0.0.1:${shedding.port}`)("GET", `/api/v1/customers/${alice}`, { token: aliceToken });
      expect(shed.status).toBe(503);
      expect(shed.headers.get("retry-after")).toBe("1");
      held.destroy();
      await heldAnswer.catch(() => undefined);
      await waitFor(() => shedding.shedder.inFlight === 0, { message: "the slot released" });
      expect((await rest(`http://127.0.0.1:${shedding.port}`)("GET", `/api/v1/customers/${alice}`, { token: aliceToken })).status).toBe(200);
    });
  });

  describe("DLQ admin", () => {
    async function deadLetter(): Promise<string> {
      const eventId = uuidv7();
      const original = `${bus.names.subjectRoot}.notification.sent`;
      const h = natsHeaders();
      h.set("event-id", eventId);
      h.set("event-type", NotificationSentSchema.typeName);
      h.set("dlq-error", "provider exploded");
      h.set("dlq-consumer", "test-consumer");
      h.set("dlq-delivery-count", "4");
      h.set("dlq-original-subject", original);
      h.set("dlq-failed-at", new Date().toISOString());
      const payload = toBinary(
        NotificationSentSchema,
        create(NotificationSentSchema, { orderId: uuidv7(), customerId: alice, notificationId: uuidv7(), occurredAt: timestampFromDate(new Date()) }),
      );
      await bus.js.publish(deadLetterSubject(bus.names, original), payload, { headers: h });
      return eventId;
    }

    it("lists, inspects, replays and discards dead letters (admin only)", async () => {
      const first = await deadLetter();
      const second = await deadLetter();
      const list = await call("GET", "/api/v1/admin/dlq?limit=10", { token: adminToken });
      expect(list.status).toBe(200);
      const entries = (list.json as { entries: { seq: number; event_id: string; error: string; delivery_count: number }[] }).entries;
      const a = entries.find((e) => e.event_id === first)!;
      const b = entries.find((e) => e.event_id === second)!;
      expect(a).toMatchObject({ error: "provider exploded", delivery_count: 4 });

      const detail = await call("GET", `/api/v1/admin/dlq/${a.seq}`, { token: adminToken });
      expect(detail.json).toMatchObject({ event_type: "shop.events.v1.NotificationSent", payload: { json: { customerId: alice } } });

      const replay = await call("POST", `/api/v1/admin/dlq/${a.seq}/replay`, { token: adminToken });
      expect(replay.status).toBe(200);
      expect(replay.json).toMatchObject({ event_id: first, subject: `${bus.names.subjectRoot}.notification.sent` });
      expect((await call("GET", `/api/v1/admin/dlq/${a.seq}`, { token: adminToken })).status).toBe(404);

      expect((await call("DELETE", `/api/v1/admin/dlq/${b.seq}`, { token: adminToken })).status).toBe(204);
      expect((await call("DELETE", `/api/v1/admin/dlq/${b.seq}`, { token: adminToken })).status).toBe(404);
      expect((await call("GET", "/api/v1/admin/dlq/abc", { token: adminToken })).json).toMatchObject({ error: { field: "seq" } });
    });
  });

  describe("an upstream goes down", () => {
    itIf(has("delivery"))(
      "answers 503 within its deadline and /health reports it",
      async () => {
        expect((await call("GET", "/health")).status).toBe(200);
        await mesh.kill("delivery");
        const started = Date.now();
        const answers = await Promise.all(Array.from({ length: 12 }, () => call("GET", `/api/v1/deliveries/order/${uuidv7()}`, { token: adminToken })));
        expect(answers.map((a) => a.status)).toEqual(Array(12).fill(503));
        expect(answers[0].headers.get("retry-after")).toBe("1");
        expect(answers[0].json).toMatchObject({ error: { code: "unavailable", message: expect.stringMatching(/delivery/) } });
        expect(Date.now() - started).toBeLessThan(5_000);
        // /health caches its probe for a second.
        const health = await waitFor(
          async () => {
            const answer = await call("GET", "/health");
            return answer.status === 503 && answer;
          },
          { message: "/health to report the outage" },
        );
        expect(health.json).toMatchObject({ upstreams: { delivery: { status: "UNREACHABLE" }, order: { status: "SERVING" } } });
        // The others are unaffected.
        expect((await call("GET", `/api/v1/customers/${alice}`, { token: aliceToken })).status).toBe(200);
      },
      30_000,
    );
  });
});
