/**
 * The gateway in-process against fake upstreams (gateway/testing/fakes.ts): the edge behaviour
 * (protocols on one port, auth, ownership, idempotency, rate limits, shedding, timeouts, SSE,
 * bad input) without infrastructure, deterministic. gateway.int.test.ts repeats the user-facing
 * paths against the real services.
 */
import { execFile } from "node:child_process";
import { connect as http2Connect } from "node:http2";
import { connect as netConnect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { FileService } from "../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../gen/shop/inventory/v1/inventory_pb.js";
import { OrderService, OrderStatus } from "../gen/shop/order/v1/order_pb.js";
import { Code } from "../lib/errors.js";
import { uuidv7 } from "../lib/ids.js";
import { createLogger } from "../lib/log.js";
import { waitFor } from "../test/harness/index.js";
import { readGatewayConfig } from "./config.js";
import { DOCS_CSP } from "./openapi/docs.js";
import { openApiDocument } from "./openapi/document.js";
import { ROUTES, type RunningGateway, start } from "./server.js";
import { type FakeUpstreams, startFakeUpstreams } from "./testing/fakes.js";
import { readEvents, rest, tokens } from "./testing/http.js";

const exec = promisify(execFile);
const SECRET = "gateway-unit-test-secret-0123456789abcdef";
const logger = createLogger("gateway-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startGateway(fakes: FakeUpstreams, env: Record<string, string> = {}): Promise<RunningGateway> {
  const down = `127.0.0.1:${await closedPort()}`;
  const config = readGatewayConfig({
    GATEWAY_PORT: "0",
    GATEWAY_HOST: "127.0.0.1",
    METRICS_PORT: "-1",
    JWT_SECRET: SECRET,
    ORDER_ADDR: fakes.address,
    FILE_ADDR: fakes.address,
    PAYMENT_ADDR: fakes.address,
    INVENTORY_ADDR: down,
    NOTIFICATION_ADDR: down,
    DELIVERY_ADDR: down,
    ANALYTICS_ADDR: down,
    UPSTREAM_DEADLINE_MS: "500",
    RATE_LIMIT_RPS: "1000",
    RATE_LIMIT_BURST: "1000",
    ...env,
  });
  return start(config, { logger });
}

describe("gateway (fake upstreams)", () => {
  let fakes: FakeUpstreams;
  let gateway: RunningGateway;
  let base: string;
  let call: ReturnType<typeof rest>;
  const tok = tokens(SECRET);
  let alice: string;
  let bob: string;
  let aliceToken: string;
  let bobToken: string;
  let adminToken: string;
  const sessions: Http2SessionManager[] = [];

  beforeAll(async () => {
    fakes = await startFakeUpstreams(logger);
    gateway = await startGateway(fakes);
    base = `http://127.0.0.1:${gateway.port}`;
    call = rest(base);
    alice = fakes.orders.customer();
    bob = fakes.orders.customer();
    aliceToken = await tok.customer(alice);
    bobToken = await tok.customer(bob);
    adminToken = await tok.admin();
  });

  afterAll(async () => {
    for (const session of sessions) session.abort();
    await gateway?.stop(1_000);
    await fakes?.stop();
  });

  const ORDER = { items: [{ product_id: "0190a000-0000-7000-8000-000000000002", quantity: 1 }], payment_method: { token: "tok_visa" } };

  describe("four protocols on one port", () => {
    it("REST: places and reads an order as snake_case protobuf JSON", async () => {
      const created = await call("POST", "/api/v1/orders", { token: aliceToken, json: ORDER });
      expect(created.status).toBe(201);
      const order = created.json as { id: string; customer_id: string; status: string; total: { amount_minor: string } };
      expect(order).toMatchObject({ customer_id: alice, status: "ORDER_STATUS_PENDING", total: { amount_minor: "1999" } });
      expect(created.headers.get("location")).toBe(`/api/v1/orders/${order.id}`);
      const read = await call("GET", `/api/v1/orders/${order.id}`, { token: aliceToken });
      expect(read.status).toBe(200);
      expect(read.json).toMatchObject({ id: order.id, history: [{ to_status: "ORDER_STATUS_PENDING" }] });
      const status = await call("GET", `/api/v1/orders/${order.id}/status`, { token: aliceToken });
      expect(status.json).toEqual({ order_id: order.id, status: "ORDER_STATUS_PENDING", failure_reason: "" });
    });

    it("Connect JSON over plain fetch", async () => {
      const response = await fetch(`${base}/shop.order.v1.OrderService/CreateOrder`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${aliceToken}` },
        body: JSON.stringify({ items: [{ productId: "0190a000-0000-7000-8000-000000000002", quantity: 2 }] }),
      });
      expect(response.status).toBe(200);
      const { order } = (await response.json()) as { order: { id: string; customerId: string; status: string } };
      expect(order).toMatchObject({ customerId: alice, status: "ORDER_STATUS_PENDING" });
    });

    it("Connect binary (HTTP/1.1), gRPC (h2c) and gRPC-Web (fetch, HTTP/1.1) clients", async () => {
      const headers = { authorization: `Bearer ${aliceToken}` };
      const session = new Http2SessionManager(base);
      sessions.push(session);
      const transports = {
        connect: createConnectTransport({ baseUrl: base, httpVersion: "1.1" }),
        grpc: createGrpcTransport({ baseUrl: base, sessionManager: session }),
        grpcWeb: createGrpcWebTransport({ baseUrl: base, fetch: globalThis.fetch }),
      };
      for (const [name, transport] of Object.entries(transports)) {
        const client = createClient(OrderService, transport);
        const { order } = await client.createOrder({ items: [{ productId: "0190a000-0000-7000-8000-000000000002", quantity: 1 }] }, { headers });
        expect({ name, customerId: order?.customerId }).toEqual({ name, customerId: alice });
        const read = await client.getOrder({ orderId: order!.id }, { headers });
        expect(read.order?.id).toBe(order!.id);
      }
    });

    it("serves gRPC reflection: buf curl works without .proto files", async () => {
      const buf = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url));
      const services = await exec(buf, ["curl", "--list-services", base]);
      expect(services.stdout.split("\n")).toEqual(
        expect.arrayContaining(["shop.order.v1.OrderService", "shop.delivery.v1.DeliveryService", "grpc.reflection.v1.ServerReflection"]),
      );
      const order = fakes.orders.order(alice);
      const read = await exec(buf, [
        "curl",
        "--protocol",
        "grpc",
        "-H",
        `authorization: Bearer ${aliceToken}`,
        "-d",
        JSON.stringify({ orderId: order.id }),
        `${base}/shop.order.v1.OrderService/GetOrder`,
      ]);
      expect(JSON.parse(read.stdout)).toMatchObject({ order: { id: order.id, customerId: alice, status: "ORDER_STATUS_PENDING" } });
    }, 30_000);

    it("streams WatchOrder over gRPC until the order is final", async () => {
      const order = fakes.orders.order(alice);
      const session = new Http2SessionManager(base);
      sessions.push(session);
      const client = createClient(OrderService, createGrpcTransport({ baseUrl: base, sessionManager: session }));
      const seen: OrderStatus[] = [];
      const stream = client.watchOrder({ orderId: order.id }, { headers: { authorization: `Bearer ${aliceToken}` } });
      const reading = (async () => {
        for await (const message of stream) {
          seen.push(message.order!.status);
          if (seen.length === 1) {
            fakes.orders.transition(order.id, OrderStatus.RESERVED);
            fakes.orders.transition(order.id, OrderStatus.CONFIRMED);
            fakes.orders.transition(order.id, OrderStatus.CANCELLED);
          }
        }
      })();
      await reading;
      expect(seen).toEqual([OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.CONFIRMED, OrderStatus.CANCELLED]);
    });
  });

  describe("authentication and ownership", () => {
    it("401 without a token or with a bad signature, over REST and RPC", async () => {
      expect((await call("GET", "/api/v1/orders")).status).toBe(401);
      const forged = `${aliceToken.slice(0, -4)}AAAA`;
      const bad = await call("GET", "/api/v1/orders", { token: forged });
      expect(bad.status).toBe(401);
      expect(bad.json).toEqual({ error: { code: "unauthenticated", message: "invalid token: signature verification failed" } });
      expect(bad.headers.get("www-authenticate")).toMatch(/invalid_token/);
      const client = createClient(OrderService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
      const error = await client.listOrders({}).catch((e: unknown) => ConnectError.from(e));
      expect(error).toMatchObject({ code: ConnectCode.Unauthenticated });
    });

    it("another customer's order is 404 to read, cancel, track and to fetch its invoice", async () => {
      const order = fakes.orders.order(bob);
      fakes.files.invoice(order.id, bob);
      for (const [method, path] of [
        ["GET", `/api/v1/orders/${order.id}`],
        ["PUT", `/api/v1/orders/${order.id}/cancel`],
        ["GET", `/api/v1/orders/${order.id}/events`],
        ["GET", `/api/v1/orders/${order.id}/invoice`],
      ]) {
        const answer = await call(method, path, { token: aliceToken });
        expect({ path, status: answer.status, body: answer.json }).toEqual({
          path,
          status: 404,
          body: { error: { code: "not_found", message: `order ${order.id} not found` } },
        });
      }
      expect(fakes.orders.orders.get(order.id)!.status).toBe(OrderStatus.PENDING);
      const client = createClient(OrderService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
      const error = await client
        .getOrder({ orderId: order.id }, { headers: { authorization: `Bearer ${aliceToken}` } })
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toMatchObject({ code: ConnectCode.NotFound });
      // The owner and admins see it.
      expect((await call("GET", `/api/v1/orders/${order.id}`, { token: bobToken })).status).toBe(200);
      expect((await call("GET", `/api/v1/orders/${order.id}`, { token: adminToken })).status).toBe(200);
    });

    it("lists only the caller's orders; naming another customer is 403 naming the field", async () => {
      fakes.orders.order(bob);
      const mine = await call("GET", "/api/v1/orders", { token: aliceToken });
      const orders = (mine.json as { orders: { customer_id: string }[] }).orders;
      expect(orders.length).toBeGreaterThan(0);
      expect(orders.every((o) => o.customer_id === alice)).toBe(true);
      const other = await call("GET", `/api/v1/orders?customer_id=${bob}`, { token: aliceToken });
      expect(other.status).toBe(403);
      expect(other.json).toMatchObject({ error: { code: "permission_denied", field: "customer_id" } });
      const create = await call("POST", "/api/v1/orders", { token: aliceToken, json: { ...ORDER, customer_id: bob } });
      expect(create.status).toBe(403);
      expect(create.json).toMatchObject({ error: { field: "customer_id" } });
    });

    it("admin routes are 403 for customers, over REST and RPC", async () => {
      const answer = await call("POST", "/api/v1/inventory", { token: aliceToken, json: { sku: "X", name: "X" } });
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ error: { code: "permission_denied", message: expect.stringMatching(/requires role admin/) } });
      expect((await call("GET", "/api/v1/admin/dlq", { token: aliceToken })).status).toBe(403);
      expect((await call("GET", "/api/v1/customers", { token: aliceToken })).status).toBe(403);
      expect((await call("PATCH", `/api/v1/orders/${fakes.orders.order(alice).id}/status`, { token: aliceToken, json: { status: "SHIPPED" } })).status).toBe(
        403,
      );
      const client = createClient(InventoryService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
      const error = await client
        .replenish({ productId: "0190a000-0000-7000-8000-000000000002", quantity: 5 }, { headers: { authorization: `Bearer ${aliceToken}` } })
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toMatchObject({ code: ConnectCode.PermissionDenied });
    });
  });

  describe("customers and bulk operations", () => {
    it("a customer registers only themselves: the id is the token's subject", async () => {
      const carol = uuidv7();
      const carolToken = await tok.customer(carol);
      const other = await call("POST", "/api/v1/customers", { token: carolToken, json: { customer_id: uuidv7(), email: "c@example.com", name: "Carol" } });
      expect(other.status).toBe(403);
      expect(other.json).toMatchObject({ error: { code: "permission_denied", field: "customer_id" } });
      const created = await call("POST", "/api/v1/customers", { token: carolToken, json: { email: "c@example.com", name: "Carol" } });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ id: carol, name: "Carol" });
      expect((await call("POST", "/api/v1/customers", { token: carolToken, json: { email: "c2@example.com", name: "Carol" } })).status).toBe(409);
      // A subject that is not a UUID cannot become a customer id.
      const odd = await call("POST", "/api/v1/customers", { token: await tok.customer("user@idp"), json: { email: "o@example.com", name: "Odd" } });
      expect(odd.status).toBe(403);
      expect(odd.json).toMatchObject({ error: { message: expect.stringMatching(/subject is a UUID/) } });
    });

    it("customers update only their own record; admins list and update anyone", async () => {
      expect((await call("PATCH", `/api/v1/customers/${alice}`, { token: aliceToken, json: { name: "Alice B" } })).json).toMatchObject({
        id: alice,
        name: "Alice B",
      });
      expect((await call("PATCH", `/api/v1/customers/${bob}`, { token: aliceToken, json: { name: "Mallory" } })).status).toBe(404);
      expect(fakes.orders.customers.get(bob)!.name).not.toBe("Mallory");
      expect((await call("PATCH", `/api/v1/customers/${bob}`, { token: adminToken, json: { name: "Bob B" } })).json).toMatchObject({ name: "Bob B" });
      const list = await call("GET", "/api/v1/customers?page_size=10", { token: adminToken });
      expect(list.status).toBe(200);
      expect((list.json as { customers: { id: string }[] }).customers.map((c) => c.id)).toEqual(expect.arrayContaining([alice, bob]));
      expect((await call("GET", "/api/v1/customers?nope=1", { token: adminToken })).status).toBe(400);
    });

    it("bulk cancel is scoped to the caller's orders; admins set an order's status by hand", async () => {
      const mine = fakes.orders.order(alice);
      const theirs = fakes.orders.order(bob);
      const answer = await call("POST", "/api/v1/orders/bulk/cancel", { token: aliceToken, json: { order_ids: [mine.id, theirs.id] } });
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({
        results: [
          { order_id: mine.id, order: { status: "ORDER_STATUS_CANCELLED" } },
          { order_id: theirs.id, error: { code: Code.NOT_FOUND } },
        ],
      });
      expect(fakes.orders.orders.get(theirs.id)!.status).toBe(OrderStatus.PENDING);
      expect((await call("POST", "/api/v1/orders/bulk/cancel", { token: aliceToken, json: { order_ids: [mine.id], customer_id: bob } })).status).toBe(403);

      const shipped = await call("PATCH", `/api/v1/orders/${theirs.id}/status`, { token: adminToken, json: { status: "shipped", reason: "courier" } });
      expect(shipped.json).toMatchObject({ id: theirs.id, status: "ORDER_STATUS_SHIPPED" });
      expect((await call("PATCH", `/api/v1/orders/${theirs.id}/status`, { token: adminToken, json: { status: "NOPE" } })).status).toBe(400);
    });

    it("places orders in bulk for the caller", async () => {
      const answer = await call("POST", "/api/v1/orders/bulk", { token: aliceToken, json: { orders: [ORDER, { ...ORDER, customer_id: bob }] } });
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ error: { field: "orders[1].customer_id" } });
    });
  });

  describe("API documentation", () => {
    it("serves the OpenAPI document and Swagger UI without a token, under a strict CSP", async () => {
      const doc = await call("GET", "/openapi.json");
      expect(doc.status).toBe(200);
      expect(doc.json).toEqual(JSON.parse(JSON.stringify(openApiDocument(ROUTES, { version: "0.1.0" }))));
      const page = await call("GET", "/docs");
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.headers.get("content-security-policy")).toBe(DOCS_CSP);
      expect(page.text).toContain('<script src="/docs/swagger-ui-bundle.js">');
      const bundle = await call("GET", "/docs/swagger-ui-bundle.js");
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
      expect(bundle.text).toContain("SwaggerUIBundle");
      expect((await call("GET", "/docs/init.js")).text).toContain('url: "/openapi.json"');
      for (const path of ["/docs/package.json", "/docs/..%2Fpackage.json", "/docs/index.html"]) expect((await call("GET", path)).status).toBe(404);
      expect((await call("POST", "/openapi.json", { json: {} })).status).toBe(405);
    });
  });

  describe("Idempotency-Key", () => {
    it("replays the first response and refuses the key with another body (422)", async () => {
      const headers = { "idempotency-key": "alice-order-1" };
      const before = fakes.orders.createCalls;
      const first = await call("POST", "/api/v1/orders", { token: aliceToken, json: ORDER, headers });
      const replay = await call("POST", "/api/v1/orders", { token: aliceToken, json: ORDER, headers });
      expect(first.status).toBe(201);
      expect(replay.status).toBe(201);
      expect(replay.text).toBe(first.text);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(fakes.orders.createCalls).toBe(before + 1);
      const other = await call("POST", "/api/v1/orders", { token: aliceToken, json: { ...ORDER, items: [{ ...ORDER.items[0], quantity: 2 }] }, headers });
      expect(other.status).toBe(422);
      expect(other.json).toMatchObject({ error: { field: "Idempotency-Key", message: expect.stringMatching(/different request/) } });
      // Keys belong to their principal: Bob's identical key is a new request.
      expect((await call("POST", "/api/v1/orders", { token: bobToken, json: ORDER, headers })).headers.get("idempotent-replayed")).toBeNull();
    });

    it("does not keep failures: a retry after an error runs again", async () => {
      const headers = { "idempotency-key": "alice-bad-1" };
      const bad = await call("POST", "/api/v1/orders", { token: aliceToken, json: { items: [] }, headers });
      expect(bad.status).toBe(400);
      const good = await call("POST", "/api/v1/orders", { token: aliceToken, json: ORDER, headers });
      expect(good.status).toBe(201);
    });

    it("replays unary RPCs too", async () => {
      const client = createClient(OrderService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
      const headers = { authorization: `Bearer ${aliceToken}`, "idempotency-key": "rpc-key-1" };
      const request = { items: [{ productId: "0190a000-0000-7000-8000-000000000002", quantity: 3 }] };
      const first = await client.createOrder(request, { headers });
      const again = await client.createOrder(request, { headers });
      expect(again.order?.id).toBe(first.order?.id);
      const error = await client
        .createOrder({ items: [{ productId: "0190a000-0000-7000-8000-000000000002", quantity: 4 }] }, { headers })
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toMatchObject({ code: ConnectCode.InvalidArgument, rawMessage: expect.stringMatching(/Idempotency-Key/) });
    });
  });

  describe("Server-Sent Events", () => {
    it("follows an order to a final status and ends with event: end", async () => {
      const order = fakes.orders.order(alice);
      const response = await fetch(`${base}/api/v1/orders/${order.id}/events`, { headers: { authorization: `Bearer ${aliceToken}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      let moved = false;
      const events = await readEvents(response, (event) => {
        if (!moved) {
          moved = true;
          fakes.orders.transition(order.id, OrderStatus.RESERVED);
          fakes.orders.transition(order.id, OrderStatus.CONFIRMED);
          fakes.orders.transition(order.id, OrderStatus.CANCELLED);
        }
        return event.event === "end";
      });
      const statuses = events.filter((e) => e.event === "message").map((e) => (JSON.parse(e.data) as { order: { status: string } }).order.status);
      expect(statuses).toEqual(["ORDER_STATUS_PENDING", "ORDER_STATUS_RESERVED", "ORDER_STATUS_CONFIRMED", "ORDER_STATUS_CANCELLED"]);
      expect(events.map((e) => e.id).slice(0, 4)).toEqual(["1", "2", "3", "4"]);
      expect(JSON.parse(events.at(-1)!.data)).toEqual({ order_id: order.id, status: "ORDER_STATUS_CANCELLED" });
      // A reconnect to the final, unchanged order gets 204: EventSource stops.
      const again = await fetch(`${base}/api/v1/orders/${order.id}/events?access_token=${aliceToken}`, { headers: { "last-event-id": "4" } });
      expect(again.status).toBe(204);
      await waitFor(() => gateway.shedder.streams === 0, { message: "streams released" });
    });

    it("survives clients that leave mid-stream, over HTTP/1.1 and HTTP/2", async () => {
      const order = fakes.orders.order(alice);
      const path = `/api/v1/orders/${order.id}/events`;
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${aliceToken}` } });
      expect((await readEvents(response, () => true)).length).toBe(1); // reads one event, then cancels
      const session = http2Connect(base);
      const stream = session.request({ ":path": path, authorization: `Bearer ${aliceToken}` });
      await new Promise((resolve) => stream.once("data", resolve));
      stream.close();
      session.close();
      await waitFor(() => gateway.shedder.streams === 0, { message: "both streams released" });
      // The order moves on while nobody listens any more: nothing may be written to the gone clients.
      fakes.orders.transition(order.id, OrderStatus.RESERVED);
      fakes.orders.transition(order.id, OrderStatus.CANCELLED);
      expect((await call("GET", `/api/v1/orders/${order.id}`, { token: aliceToken })).status).toBe(200);
    });
  });

  describe("files", () => {
    it("downloads an invoice as a PDF attachment", async () => {
      const order = fakes.orders.order(alice);
      fakes.files.invoice(order.id, alice);
      const response = await fetch(`${base}/api/v1/orders/${order.id}/invoice`, { headers: { authorization: `Bearer ${aliceToken}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/pdf");
      expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="invoice-/);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.subarray(0, 4).toString()).toBe("%PDF");
      expect(String(bytes.length)).toBe(response.headers.get("content-length"));
    });

    it("uploads a raw body in chunks and downloads it back; refuses path traversal", async () => {
      const content = Buffer.alloc(200_000, 7);
      const up = await call("POST", "/api/v1/files/upload?file_name=receipt.bin", {
        token: aliceToken,
        body: content,
        contentType: "application/octet-stream",
      });
      expect(up.status).toBe(201);
      const file = up.json as { id: string; customer_id: string; size_bytes: string };
      expect(file).toMatchObject({ customer_id: alice, size_bytes: "200000" });
      const down = await fetch(`${base}/api/v1/files/${file.id}/download`, { headers: { authorization: `Bearer ${aliceToken}` } });
      expect(Buffer.from(await down.arrayBuffer()).equals(content)).toBe(true);
      expect((await call("GET", `/api/v1/files/${file.id}/download`, { token: bobToken })).status).toBe(404);
      for (const name of ["../../etc/passwd", "..", "a/b.txt", "a\\b.txt", "%2e%2e%2fsecret"]) {
        const answer = await call("POST", `/api/v1/files/upload?file_name=${encodeURIComponent(name)}`, {
          token: aliceToken,
          body: "x",
          contentType: "text/plain",
        });
        expect({ name, status: answer.status, field: (answer.json as { error?: { field: string } })?.error?.field, text: answer.text }).toEqual({
          name,
          status: 400,
          field: "file_name",
          text: expect.stringMatching(/file_name: must be a plain file name/),
        });
      }
    });
  });

  describe("files over RPC", () => {
    it("uploads with client streaming and downloads with server streaming over gRPC; refuses traversal", async () => {
      const session = new Http2SessionManager(base);
      sessions.push(session);
      const files = createClient(FileService, createGrpcTransport({ baseUrl: base, sessionManager: session }));
      const headers = { authorization: `Bearer ${aliceToken}` };
      async function* upload(name: string) {
        yield { data: { case: "metadata" as const, value: { fileName: name, contentType: "text/plain" } } };
        yield { data: { case: "chunk" as const, value: new TextEncoder().encode("hello ") } };
        yield { data: { case: "chunk" as const, value: new TextEncoder().encode("world") } };
      }
      const { file } = await files.upload(upload("hello.txt"), { headers });
      expect(file).toMatchObject({ fileName: "hello.txt", customerId: alice, sizeBytes: 11n });
      const parts: Uint8Array[] = [];
      for await (const message of files.download({ fileId: file!.id }, { headers })) {
        if (message.data.case === "chunk") parts.push(message.data.value);
      }
      expect(Buffer.concat(parts).toString()).toBe("hello world");
      const refused = await files.upload(upload("../../etc/passwd"), { headers }).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toMatchObject({
        code: ConnectCode.InvalidArgument,
        rawMessage: expect.stringMatching(/^metadata\.file_name: must be a plain file name/),
      });
      expect((refused as ConnectError).metadata.get("x-error-field")).toBe("metadata.file_name");
      const hidden = await (async () => {
        for await (const _ of files.download({ fileId: file!.id }, { headers: { authorization: `Bearer ${bobToken}` } })) void _;
      })().catch((e: unknown) => ConnectError.from(e));
      expect(hidden).toMatchObject({ code: ConnectCode.NotFound });
    });
  });

  describe("bad input", () => {
    const post = (body: string | Uint8Array, contentType: string | null = "application/json") =>
      call("POST", "/api/v1/orders", { token: aliceToken, body, contentType });

    it.each([
      ["malformed JSON", () => post("{not json"), 400, "body", /malformed JSON/],
      ["a JSON array", () => post("[1,2]"), 400, "body", /must be a JSON object/],
      ["an unknown field", () => post(JSON.stringify({ ...ORDER, colour: "red" })), 400, "colour", /unknown field/],
      ["a wrong type", () => post(JSON.stringify({ items: [{ product_id: 42, quantity: 1 }] })), 400, "items[0].product_id", /expected string/],
      ["a fractional quantity", () => post(JSON.stringify({ items: [{ product_id: "p", quantity: 1.5 }] })), 400, "items[0].quantity", /int32/],
      ["a quantity above int32", () => post(JSON.stringify({ items: [{ product_id: "p", quantity: 1e10 }] })), 400, "items[0].quantity", /out of range/],
      ["a zero quantity", () => post(JSON.stringify({ items: [{ product_id: "p", quantity: 0 }] })), 400, "items[0].quantity", /1 to 1000/],
      ["invalid UTF-8", () => post(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])), 400, "body", /UTF-8/],
      ["a missing content type", () => post(JSON.stringify(ORDER), null), 415, "Content-Type", /is required for a request body/],
      ["a wrong content type", () => post(JSON.stringify(ORDER), "text/xml"), 415, "Content-Type", /application\/json/],
      ["a 10 MB body", () => post("x".repeat(10 * 1024 * 1024)), 413, "body", /exceeds the limit/],
      ["an unknown query parameter", () => call("GET", "/api/v1/orders?colour=red", { token: aliceToken }), 400, "colour", /unknown query parameter/],
      ["a bad enum", () => call("GET", "/api/v1/orders?status=SHIPPING", { token: aliceToken }), 400, "status", /must be one of/],
      ["a bad percent-encoding", () => call("GET", "/api/v1/orders/%E0%A4%A", { token: aliceToken }), 400, "id", /percent-encoded/],
      ["a __proto__ key", () => post(`{"__proto__": {"admin": true}, "items": ${JSON.stringify(ORDER.items)}}`), 400, "__proto__", /unknown field/],
      ["a constructor key", () => post(JSON.stringify({ ...ORDER, constructor: { prototype: {} } })), 400, "constructor", /unknown field/],
      ["a NUL character", () => post(JSON.stringify({ ...ORDER, shipping_address: { line1: "1 Main\u0000St" } })), 400, "shipping_address.line1", /NUL/],
      [
        "an unpaired surrogate",
        () => post('{"items": [{"product_id": "\\ud800", "quantity": 1}]}'),
        400,
        "items[0].product_id",
        /invalid UTF8|unpaired surrogate/,
      ],
      ["a control character in a path id", () => call("GET", "/api/v1/orders/%01abc", { token: aliceToken }), 400, "id", /must be a UUID/],
      ["a non-ASCII path id", () => call("PUT", "/api/v1/orders/%C3%A9%E2%80%A8/cancel", { token: aliceToken }), 400, "id", /must be a UUID/],
      [
        "a non-ASCII x-correlation-id",
        () => call("GET", "/api/v1/orders", { token: aliceToken, headers: { "x-correlation-id": "caf\u00e9" } }),
        400,
        "x-correlation-id",
        /visible ASCII/,
      ],
    ])("%s is a 4xx naming the problem", async (_name, send, status, field, message) => {
      const before = fakes.orders.createCalls;
      const answer = await send();
      expect(answer.status).toBe(status);
      expect((answer.json as { error: { field: string; message: string } }).error).toMatchObject({ field, message: expect.stringMatching(message) });
      // Only the zero quantity is judged by the upstream (a business rule); the rest never leaves the gateway.
      if (!String(message).includes("1 to 1000")) expect(fakes.orders.createCalls).toBe(before);
    });

    /** A gRPC-style envelope: flags, big-endian length, message. */
    const envelope = (bytes: number[], flags = 0) => {
      const out = Buffer.alloc(5 + bytes.length);
      out.writeUInt8(flags, 0);
      out.writeUInt32BE(bytes.length, 1);
      Buffer.from(bytes).copy(out, 5);
      return out;
    };
    const TRUNCATED = [0x0a, 0x05, 0x61];
    const rpcPath = "/shop.order.v1.OrderService/GetOrder";

    /** A raw gRPC call over h2c: the grpc-status and grpc-message the gateway sends. */
    async function rawGrpc(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status?: string; message?: string }> {
      const session = http2Connect(base);
      try {
        return await new Promise((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": path,
            "content-type": "application/grpc",
            te: "trailers",
            authorization: `Bearer ${aliceToken}`,
            ...headers,
          });
          let head: Record<string, unknown> = {};
          stream.on("response", (h) => (head = h));
          stream.on("trailers", (t) => resolve({ status: String(t["grpc-status"]), message: String(t["grpc-message"] ?? "") }));
          stream.on("end", () => resolve({ status: head["grpc-status"] as string | undefined, message: head["grpc-message"] as string | undefined }));
          stream.on("error", reject);
          stream.resume();
          stream.end(body);
        });
      } finally {
        session.close();
      }
    }

    it("undecodable protobuf is INVALID_ARGUMENT on Connect, gRPC-Web and gRPC, never internal", async () => {
      const connect = await fetch(`${base}${rpcPath}`, {
        method: "POST",
        headers: { "content-type": "application/proto", authorization: `Bearer ${aliceToken}` },
        body: Buffer.from(TRUNCATED),
      });
      expect(connect.status).toBe(400);
      expect(await connect.json()).toMatchObject({
        code: "invalid_argument",
        message: expect.stringMatching(/^request: is not a valid shop\.order\.v1\.GetOrderRequest/),
      });
      expect(connect.headers.get("x-error-field")).toBe("request");

      const web = await fetch(`${base}${rpcPath}`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", authorization: `Bearer ${aliceToken}` },
        body: envelope(TRUNCATED),
      });
      const trailer = (web.headers.get("grpc-status") ?? "") + Buffer.from(await web.arrayBuffer()).toString("latin1");
      expect(trailer).toMatch(/grpc-status:? ?3|^3/);

      for (const [name, body, headers] of [
        ["truncated", envelope(TRUNCATED), {}],
        ["wrong wire type", envelope([0x0d, 1, 2, 3, 4]), {}],
        ["invalid UTF-8", envelope([0x0a, 0x02, 0xc3, 0x28]), {}],
        ["varint overflow", envelope([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), {}],
        ["compressed flag without an encoding", envelope([0x0a, 0x00], 1), {}],
        ["gzip that is not gzip", envelope([1, 2, 3], 1), { "grpc-encoding": "gzip" }],
        ["no message at all", Buffer.alloc(0), {}],
      ] as const) {
        expect({ name, ...(await rawGrpc(rpcPath, body, headers)) }).toMatchObject({ name, status: "3" });
      }
    });

    it("an error field made of client input travels safely in metadata", async () => {
      const response = await fetch(`${base}/shop.notification.v1.NotificationService/SendNotification`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
        // "€" cannot be a header value as it is (Headers.set throws): before, the error handler failed.
        body: JSON.stringify({ templateData: { "k€\n": "x\u0000" } }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/NUL/) });
      expect(decodeURIComponent(response.headers.get("x-error-field") ?? "")).toBe('template_data["k€\\n"]');
    });

    it("a non-ASCII x-correlation-id on an RPC is INVALID_ARGUMENT naming the header", async () => {
      const response = await fetch(`${base}${rpcPath}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${aliceToken}`, "x-correlation-id": "\u00ff\u00fe" },
        body: "{}",
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^x-correlation-id:/) });
    });

    /** Bytes straight onto a socket, and whatever comes back until the server closes. */
    async function rawHttp(request: string): Promise<string> {
      const socket = netConnect(gateway.port, "127.0.0.1");
      socket.write(request);
      let out = "";
      socket.on("data", (chunk: Buffer) => (out += chunk.toString("latin1")));
      await waitFor(() => socket.closed || socket.readableEnded, { timeoutMs: 10_000, message: "the server to close the connection" });
      socket.destroy();
      return out;
    }

    it("answers CONNECT and requests Node's parser refuses with a JSON error body", async () => {
      const connectMethod = await rawHttp("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
      expect(connectMethod).toMatch(/^HTTP\/1\.1 405 /);
      expect(JSON.parse(connectMethod.slice(connectMethod.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: "unimplemented" } });
      const session = http2Connect(base);
      const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "CONNECT", ":authority": "example.com:443" });
        let status = 0;
        let body = "";
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
      });
      session.close();
      expect(h2.status).toBe(405);
      expect(JSON.parse(h2.body)).toMatchObject({ error: { code: "unimplemented" } });
      const badHeader = await rawHttp("GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n");
      expect(badHeader).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(badHeader.slice(badHeader.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: "invalid_argument" } });
      const huge = await rawHttp(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
      expect(huge).toMatch(/^HTTP\/1\.1 431 /);
      expect(huge).toMatch(/application\/json/);
    });

    it("is still up and healthy after all of that", async () => {
      const answer = await call("GET", "/api/v1/orders", { token: aliceToken });
      expect(answer.status).toBe(200);
    });
  });

  describe("upstream failures", () => {
    it("an upstream that is down is 503 with Retry-After at once, and its circuit opens", async () => {
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 15 }, () => call("GET", "/api/v1/inventory", { token: aliceToken })));
      expect(answers.map((a) => a.status)).toEqual(Array(15).fill(503));
      expect(answers[0].headers.get("retry-after")).toBe("1");
      expect(Date.now() - started).toBeLessThan(3_000);
      const later = await waitFor(
        async () => {
          const answer = await call("GET", "/api/v1/inventory", { token: aliceToken });
          return /circuit open/.test(answer.text) && answer;
        },
        { message: "the inventory circuit to open" },
      );
      expect(later.status).toBe(503);
      const health = await call("GET", "/health");
      expect(health.status).toBe(503);
      expect(health.json).toMatchObject({
        status: "NOT_SERVING",
        upstreams: { order: { status: "SERVING" }, inventory: { status: "UNREACHABLE", circuit: "open" } },
      });
    });

    it("an upstream that hangs is 503 after its deadline, not later", async () => {
      const started = Date.now();
      const answer = await call("GET", "/api/v1/payments/0190a000-0000-7000-8000-0000000000aa", { token: aliceToken });
      expect(answer.status).toBe(503);
      expect(answer.json).toMatchObject({ error: { code: "deadline_exceeded", message: "payment service did not answer in time; retry later" } });
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});

describe("gateway limits", () => {
  let fakes: FakeUpstreams;
  const gateways: RunningGateway[] = [];
  const tok = tokens(SECRET);

  beforeAll(async () => {
    fakes = await startFakeUpstreams(logger);
  });

  afterAll(async () => {
    fakes?.orders.releaseHeld();
    await Promise.all(gateways.map((g) => g.stop(1_000)));
    await fakes?.stop();
  });

  it("rate limits per principal: 429 with Retry-After, RESOURCE_EXHAUSTED over RPC", async () => {
    const gateway = await startGateway(fakes, { RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "3" });
    gateways.push(gateway);
    const base = `http://127.0.0.1:${gateway.port}`;
    const call = rest(base);
    const carol = fakes.orders.customer();
    const carolToken = await tok.customer(carol);
    // Sent together, so that no token refills in between (1 per second).
    const statuses = await Promise.all(Array.from({ length: 4 }, async () => (await call("GET", "/api/v1/orders", { token: carolToken })).status));
    expect(statuses.sort()).toEqual([200, 200, 200, 429]);
    const limited = await call("GET", "/api/v1/orders", { token: carolToken });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.json).toMatchObject({ error: { code: "resource_exhausted", message: expect.stringMatching(/rate limit exceeded/) } });
    // Another principal has its own bucket.
    expect((await call("GET", "/api/v1/orders", { token: await tok.customer(fakes.orders.customer()) })).status).toBe(200);
    const client = createClient(OrderService, createConnectTransport({ baseUrl: base, httpVersion: "1.1" }));
    const error = await client.listOrders({}, { headers: { authorization: `Bearer ${carolToken}` } }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: ConnectCode.ResourceExhausted });
    expect((error as ConnectError).metadata.get("retry-after")).not.toBeNull();
  });

  it("rate limits the whole gateway", async () => {
    const gateway = await startGateway(fakes, { RATE_LIMIT_GLOBAL_RPS: "1", RATE_LIMIT_GLOBAL_BURST: "2" });
    gateways.push(gateway);
    const call = rest(`http://127.0.0.1:${gateway.port}`);
    const tokens3 = await Promise.all([1, 2, 3].map(() => tok.customer(fakes.orders.customer())));
    const statuses = await Promise.all(tokens3.map(async (token) => (await call("GET", "/api/v1/orders", { token })).status));
    expect(statuses.sort()).toEqual([200, 200, 429]);
  });

  it("sheds load above MAX_IN_FLIGHT with 503 and recovers", async () => {
    const gateway = await startGateway(fakes, { MAX_IN_FLIGHT: "2" });
    gateways.push(gateway);
    const call = rest(`http://127.0.0.1:${gateway.port}`);
    const dave = fakes.orders.customer();
    const daveToken = await tok.customer(dave);
    const slow = fakes.orders.order(dave);
    fakes.orders.held.add(slow.id);
    const held = [call("GET", `/api/v1/orders/${slow.id}`, { token: daveToken }), call("GET", `/api/v1/orders/${slow.id}`, { token: daveToken })];
    await waitFor(() => fakes.orders.heldCalls === 2, { message: "two requests held upstream" });
    const started = Date.now();
    const shed = await call("GET", "/api/v1/orders", { token: daveToken });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("1");
    expect(shed.json).toMatchObject({ error: { code: "unavailable", message: expect.stringMatching(/overloaded/) } });
    expect(Date.now() - started).toBeLessThan(1_000);
    const rpc = await fetch(`http://127.0.0.1:${gateway.port}/shop.order.v1.OrderService/ListOrders`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${daveToken}` },
      body: "{}",
    });
    expect(rpc.status).toBe(503);
    fakes.orders.held.delete(slow.id);
    fakes.orders.releaseHeld();
    expect((await Promise.all(held)).map((a) => a.status)).toEqual([200, 200]);
    await waitFor(() => gateway.shedder.inFlight === 0, { message: "slots released" });
    expect((await call("GET", "/api/v1/orders", { token: daveToken })).status).toBe(200);
  });
});
