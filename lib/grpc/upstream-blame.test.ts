import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { causedBy, Code, ServiceError, unavailable } from "../errors.js";
import { createClient, type GrpcClient, type GrpcServer, type ServiceImplementation, startGrpcServer } from "./index.js";

/**
 * Breakers count only the failure of the hop they guard: a service that fails because ITS
 * upstream is down says so (UNAVAILABLE + the ordermesh-upstream trailer) and its callers'
 * breakers leave it closed; a failure of the hop itself (its database) still counts.
 */

const logger = pino({ level: "silent" });

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const notHere = async (): Promise<never> => {
  throw new ServiceError(Code.UNIMPLEMENTED, "not in this fake");
};

describe("blame across hops", () => {
  let server: GrpcServer;
  let deep: GrpcClient<typeof InventoryService>;
  let address: string;
  const clients: { close(): void }[] = [];
  let release: (() => void)[] = [];

  beforeAll(async () => {
    // The middle service's own upstream, which is down.
    deep = createClient(InventoryService, `127.0.0.1:${await closedPort()}`, { name: "deep", breaker: { volumeThreshold: 1_000 } });
    const middle: ServiceImplementation<typeof InventoryService> = {
      async getProduct({ productId }) {
        if (productId === "pass-through") return deep.getProduct({ productId });
        if (productId === "wrapped") {
          try {
            return await deep.getProduct({ productId });
          } catch (error) {
            throw causedBy(unavailable("deep unavailable"), error);
          }
        }
        if (productId === "database-down") throw Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:5432"), { code: "ECONNREFUSED" });
        if (productId === "slow") await new Promise<void>((resolve) => release.push(resolve));
        return { product: { id: productId } };
      },
      batchGetProducts: notHere,
      checkAvailability: notHere,
      listProducts: notHere,
      createProduct: notHere,
      updateProduct: notHere,
      replenish: notHere,
      adjustStock: notHere,
      getStockStatus: notHere,
      reserve: notHere,
      release: notHere,
      listStockMovements: notHere,
    };
    server = await startGrpcServer({ host: "127.0.0.1", port: 0, services: [{ service: InventoryService, implementation: middle }], logger });
    address = `127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    for (const release1 of release) release1();
    for (const client of clients) client.close();
    deep?.close();
    await server?.shutdown(1_000);
  });

  function front(options: Partial<Parameters<typeof createClient>[2]> = {}) {
    const client = createClient(InventoryService, address, { name: "middle", breaker: { volumeThreshold: 3, resetTimeoutMs: 60_000 }, ...options });
    clients.push(client);
    return client;
  }

  it("passes a dependency's outage on as UNAVAILABLE naming it, and the caller's breaker stays closed", async () => {
    const client = front();
    for (const productId of ["pass-through", "wrapped", "pass-through", "wrapped", "pass-through", "wrapped"]) {
      await expect(client.getProduct({ productId })).rejects.toMatchObject({ code: Code.UNAVAILABLE, upstream: "middle", dependency: "deep" });
    }
    expect(client.breaker.closed).toBe(true);
    expect(client.breaker.stats.failures).toBe(0);
  });

  it("reports the hop's own database outage as UNAVAILABLE without blame, which its callers count", async () => {
    const client = front();
    for (let i = 0; i < 3; i++) {
      const error = await client.getProduct({ productId: "database-down" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: Code.UNAVAILABLE, message: "database unavailable; retry later", dependency: undefined });
    }
    expect(client.breaker.opened).toBe(true);
  });

  it("queues calls over maxInFlight here: a call that runs out of time in the queue fails locally and is not counted", async () => {
    const client = front({ maxInFlight: 1, breaker: { volumeThreshold: 1, resetTimeoutMs: 60_000 } });
    const first = client.getProduct({ productId: "slow" });
    const queued = await client.getProduct({ productId: "p1" }, { deadlineMs: 100 }).catch((e: unknown) => e);
    expect(queued).toMatchObject({ code: Code.UNAVAILABLE, local: true, message: "middle: too many calls in flight; gave up waiting for a slot" });
    expect(client.breaker.closed).toBe(true);
    for (const done of release) done();
    release = [];
    await expect(first).resolves.toMatchObject({ product: { id: "slow" } });
    // The slot is free again.
    await expect(client.getProduct({ productId: "p2" })).resolves.toMatchObject({ product: { id: "p2" } });
  });

  it("gives up waiting for a slot at half the call's time, so no call reaches the upstream with almost none left", async () => {
    const client = front({ maxInFlight: 1, breaker: { volumeThreshold: 1, resetTimeoutMs: 60_000 } });
    const first = client.getProduct({ productId: "slow" });
    // The slot frees at 80 % of the queued call's time: too late to be worth sending it.
    const freeing = setTimeout(() => {
      for (const done of release) done();
      release = [];
    }, 800);
    const queued = await client.getProduct({ productId: "p1" }, { deadlineMs: 1_000 }).catch((e: unknown) => e);
    expect(queued).toMatchObject({ code: Code.UNAVAILABLE, local: true, message: "middle: too many calls in flight; gave up waiting for a slot" });
    await expect(first).resolves.toMatchObject({ product: { id: "slow" } });
    clearTimeout(freeing);
    expect(client.breaker.closed).toBe(true);
  });

  it("gives up waiting for a slot after maxQueueMs, long before half the call's time", async () => {
    const client = front({ maxInFlight: 1, maxQueueMs: 50, breaker: { volumeThreshold: 1, resetTimeoutMs: 60_000 } });
    const first = client.getProduct({ productId: "slow" });
    const started = performance.now();
    const queued = await client.getProduct({ productId: "p1" }, { deadlineMs: 20_000 }).catch((e: unknown) => e);
    // Answered by the queue bound, not after 10 s (half the deadline); the slot never freed.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(queued).toMatchObject({ code: Code.UNAVAILABLE, local: true, message: "middle: too many calls in flight; gave up waiting for a slot" });
    expect(client.breaker.closed).toBe(true);
    for (const done of release) done();
    release = [];
    await expect(first).resolves.toMatchObject({ product: { id: "slow" } });
  });

  it("retries calls that never reached the upstream, with a budget that stops retry storms", async () => {
    const gone = createClient(InventoryService, `127.0.0.1:${await closedPort()}`, {
      name: "gone",
      breaker: { volumeThreshold: 10_000 },
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, budgetTokens: 10, budgetRatio: 0.1 },
    });
    clients.push(gone);
    const attempts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = gone.breaker.stats.fires;
      await expect(gone.getProduct({ productId: "p" })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
      attempts.push(gone.breaker.stats.fires - before);
    }
    // 10 tokens, retries only above 5: two calls retry twice, then the budget stops retries.
    expect(attempts[0]).toBe(3);
    expect(attempts.at(-1)).toBe(1);
    expect(attempts.reduce((a, b) => a + b, 0)).toBeLessThan(5 * 3);
  });
});
