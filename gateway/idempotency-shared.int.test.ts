import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { OrderService } from "../gen/shop/order/v1/order_pb.js";
import { createLogger } from "../lib/log.js";
import { testInfra, uniqueId } from "../test/harness/index.js";
import { readGatewayConfig } from "./config.js";
import { KvIdempotencyStore } from "./idempotency-kv.js";
import { LazyNats } from "./nats-connection.js";
import { type RunningGateway, start } from "./server.js";
import { type FakeUpstreams, startFakeUpstreams } from "./testing/fakes.js";
import { rest, tokens } from "./testing/http.js";

/**
 * Two gateway replicas against the same NATS: an Idempotency-Key used on one is known to the
 * other, so a retry that a load balancer sends elsewhere is replayed, not run again.
 */
const SECRET = "gateway-shared-test-secret-0123456789abcdef";
const logger = createLogger("gateway-shared", { level: process.env.TEST_LOG_LEVEL ?? "silent" });

describe("idempotency shared by gateway replicas (NATS KV)", () => {
  let fakes: FakeUpstreams;
  const gateways: RunningGateway[] = [];
  const prefix = uniqueId("idem");
  let alice: string;
  let aliceToken: string;

  async function gateway(): Promise<RunningGateway> {
    const config = readGatewayConfig({
      GATEWAY_PORT: "0",
      METRICS_PORT: "-1",
      JWT_SECRET: SECRET,
      ORDER_ADDR: fakes.address,
      FILE_ADDR: fakes.address,
      PAYMENT_ADDR: fakes.address,
      INVENTORY_ADDR: fakes.address,
      NOTIFICATION_ADDR: fakes.address,
      DELIVERY_ADDR: fakes.address,
      NATS_URL: testInfra().natsUrl,
      EVENTS_PREFIX: prefix,
      RATE_LIMIT_RPS: "1000",
      RATE_LIMIT_BURST: "1000",
    });
    const running = await start(config, { logger });
    gateways.push(running);
    return running;
  }

  beforeAll(async () => {
    fakes = await startFakeUpstreams(logger);
    alice = fakes.orders.customer();
    aliceToken = await tokens(SECRET).customer(alice);
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop(1_000)));
    await fakes?.stop();
  });

  const ORDER = () => ({
    items: [{ product_id: "0190a000-0000-7000-8000-000000000001", quantity: 1 }],
    shipping_address: { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada" },
    payment_method: { token: "tok_visa" },
  });

  it("replays on replica B a POST first answered by replica A, and creates nothing new", async () => {
    const [a, b] = [await gateway(), await gateway()];
    const headers = { "idempotency-key": uniqueId("key") };
    const before = fakes.orders.createCalls;
    const first = await rest(`http://127.0.0.1:${a.port}`)("POST", "/api/v1/orders", { token: aliceToken, json: ORDER(), headers });
    expect(first.status).toBe(201);
    const retry = await rest(`http://127.0.0.1:${b.port}`)("POST", "/api/v1/orders", { token: aliceToken, json: ORDER(), headers });
    expect(retry.status).toBe(201);
    expect(retry.text).toBe(first.text);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(fakes.orders.createCalls).toBe(before + 1);
    // The same key with another request is refused on B as it would be on A.
    const other = await rest(`http://127.0.0.1:${b.port}`)("POST", "/api/v1/orders", {
      token: aliceToken,
      json: { ...ORDER(), items: [{ product_id: "0190a000-0000-7000-8000-000000000001", quantity: 2 }] },
      headers,
    });
    expect(other.status).toBe(422);

    // Connect RPCs too: the stored response is protobuf, decoded by the other replica.
    const request = { items: [{ productId: "0190a000-0000-7000-8000-000000000002", quantity: 3 }] };
    const rpcHeaders = { authorization: `Bearer ${aliceToken}`, "idempotency-key": uniqueId("rpc") };
    const viaA = await createClient(OrderService, createConnectTransport({ baseUrl: `http://127.0.0.1:${a.port}`, httpVersion: "1.1" })).createOrder(request, {
      headers: rpcHeaders,
    });
    const viaB = await createClient(OrderService, createConnectTransport({ baseUrl: `http://127.0.0.1:${b.port}`, httpVersion: "1.1" })).createOrder(request, {
      headers: rpcHeaders,
    });
    expect(viaB.order?.id).toBe(viaA.order?.id);
    expect(fakes.orders.createCalls).toBe(before + 2);
  });

  it("answers 409 for a key still running on another replica, and lets a dead replica's key be taken over after its lease", async () => {
    const connections = [0, 1].map(() => new LazyNats({ natsUrl: testInfra().natsUrl, name: "idem-test", logger }));
    let now = 1_000_000;
    const store = (i: number) =>
      new KvIdempotencyStore({ nats: connections[i], bucket: `${prefix}gateway_idempotency`, ttlMs: 60_000, leaseMs: 5_000, logger, now: () => now });
    const [replicaA, replicaB] = [store(0), store(1)];
    try {
      const claimed = await replicaA.claim("rest:alice", "k-running");
      expect(claimed.state).toBe("claimed");
      expect(await replicaB.claim("rest:alice", "k-running")).toEqual({ state: "pending" });
      // Replica A dies without completing; after the lease B may run the request.
      now += 5_001;
      const takeover = await replicaB.claim("rest:alice", "k-running");
      expect(takeover.state).toBe("claimed");
      if (takeover.state !== "claimed") return;
      await takeover.reservation.complete("hash-b", { status: 201 });
      // A's late completion cannot overwrite B's answer.
      if (claimed.state === "claimed") await claimed.reservation.complete("hash-a", { status: 500 });
      expect(await replicaA.claim("rest:alice", "k-running")).toEqual({ state: "done", requestHash: "hash-b", value: { status: 201 } });
      // An abandoned key is free again.
      const failed = await replicaA.claim("rest:alice", "k-failed");
      if (failed.state === "claimed") await failed.reservation.abandon();
      expect((await replicaB.claim("rest:alice", "k-failed")).state).toBe("claimed");
    } finally {
      await Promise.all(connections.map((c) => c.close()));
    }
  });
});
