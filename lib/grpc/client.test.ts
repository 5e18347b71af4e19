import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { status as Code } from "@grpc/grpc-js";
import { SpanKind, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { FileService } from "../../gen/shop/file/v1/file_pb.js";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { invalidArgument, notFound, ServiceError } from "../errors.js";
import { getCorrelationId, runWithCorrelationId, setupTelemetry, type Telemetry } from "../telemetry/index.js";
import { createClient, startGrpcServer, type GrpcClient, type GrpcServer, type ServiceImplementation } from "./index.js";

const logger = pino({ level: "silent" });

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUp) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const notInThisFake = async (): Promise<never> => {
  throw new ServiceError(Code.UNIMPLEMENTED, "not in this fake");
};

/** What the upstream saw, for assertions made on the server side. */
const seen = {
  calls: 0,
  slow: true,
  correlationId: undefined as string | undefined,
  traceId: undefined as string | undefined,
  deadline: undefined as Date | undefined,
};

const inventory: ServiceImplementation<typeof InventoryService> = {
  async getProduct({ productId }, ctx) {
    seen.calls++;
    seen.correlationId = getCorrelationId();
    seen.traceId = trace.getActiveSpan()?.spanContext().traceId;
    seen.deadline = ctx.deadline;
    if (productId === "missing") throw notFound("product", productId);
    if (productId === "bad") throw invalidArgument("product_id", "malformed");
    if (productId === "slow" && seen.slow) {
      // Slower than any caller waits; ends when the deadline aborts the signal.
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      throw new ServiceError(Code.DEADLINE_EXCEEDED, "gave up");
    }
    return { product: { id: productId } };
  },
  batchGetProducts: notInThisFake,
  listProducts: notInThisFake,
  createProduct: notInThisFake,
  updateProduct: notInThisFake,
  replenish: notInThisFake,
  adjustStock: notInThisFake,
  getStockStatus: notInThisFake,
  reserve: notInThisFake,
  release: notInThisFake,
  listStockMovements: notInThisFake,
  checkAvailability: notInThisFake,
};

const files: ServiceImplementation<typeof FileService> = {
  async upload(requests) {
    for await (const _ of requests) {
      // consume everything
    }
    return {};
  },
  download: async function* () {},
  getFile: notInThisFake,
  listFiles: notInThisFake,
  getInvoice: notInThisFake,
};

describe("grpc client", () => {
  let telemetry: Telemetry;
  let server: GrpcServer;
  let address: string;
  const clients: Array<{ close(): void }> = [];

  /** A client closed in afterAll. */
  function client<S extends typeof InventoryService | typeof FileService>(
    service: S,
    target: string,
    options: Parameters<typeof createClient>[2],
  ): GrpcClient<S> {
    const created = createClient(service, target, options);
    clients.push(created);
    return created;
  }

  beforeAll(async () => {
    telemetry = setupTelemetry({ serviceName: "grpc-client-test", inMemory: true });
    server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      services: [
        { service: InventoryService, implementation: inventory },
        { service: FileService, implementation: files },
      ],
    });
    address = `127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.shutdown(1_000);
    await telemetry?.shutdown();
  });

  it("propagates trace context and correlation id; the server span is a child of the client span", async () => {
    const inventoryClient = client(InventoryService, address, { name: "inventory" });
    telemetry.memory?.reset();
    // A card-token-like value: it must not show up in any span.
    await runWithCorrelationId("order-42", () => inventoryClient.getProduct({ productId: "tok_secret_4242" }));

    expect(seen.correlationId).toBe("order-42");
    const name = "shop.inventory.v1.InventoryService/GetProduct";
    await until(() => (telemetry.memory?.getFinishedSpans().filter((span) => span.name === name).length ?? 0) >= 2);
    const spans = telemetry.memory?.getFinishedSpans() ?? [];
    const clientSpan = spans.find((span) => span.name === name && span.kind === SpanKind.CLIENT);
    const serverSpan = spans.find((span) => span.name === name && span.kind === SpanKind.SERVER);
    expect(serverSpan?.parentSpanContext?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(serverSpan?.spanContext().traceId).toBe(clientSpan?.spanContext().traceId);
    expect(seen.traceId).toBe(clientSpan?.spanContext().traceId);
    expect(serverSpan?.attributes).toMatchObject({
      "rpc.system": "grpc",
      "rpc.service": "shop.inventory.v1.InventoryService",
      "rpc.method": "GetProduct",
      "rpc.grpc.status_code": Code.OK,
    });
    expect(clientSpan?.attributes).toMatchObject({ "peer.service": "inventory", "rpc.grpc.status_code": Code.OK });
    expect(JSON.stringify(spans.map((span) => [span.attributes, span.events]))).not.toContain("tok_secret");
  });

  it("records the status code on both spans of a failed call", async () => {
    const inventoryClient = client(InventoryService, address, { name: "inventory" });
    telemetry.memory?.reset();
    await expect(inventoryClient.getProduct({ productId: "missing" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
    await until(() => (telemetry.memory?.getFinishedSpans().length ?? 0) >= 2);
    for (const span of telemetry.memory?.getFinishedSpans() ?? []) {
      expect(span.attributes["rpc.grpc.status_code"]).toBe(Code.NOT_FOUND);
    }
  });

  it("always sets a deadline: the client default, or the per-call one", async () => {
    const inventoryClient = client(InventoryService, address, { name: "inventory" });
    let before = Date.now();
    await inventoryClient.getProduct({ productId: "p1" });
    expect(seen.deadline?.getTime()).toBeGreaterThan(before + 4_000);
    expect(seen.deadline?.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);

    before = Date.now();
    await inventoryClient.getProduct({ productId: "p1" }, { deadlineMs: 1_500 });
    expect(seen.deadline?.getTime()).toBeGreaterThan(before + 1_000);
    expect(seen.deadline?.getTime()).toBeLessThanOrEqual(Date.now() + 1_500);
  });

  it("cancels a call when the caller's signal aborts", async () => {
    const inventoryClient = client(InventoryService, address, { name: "inventory", deadlineMs: 10_000 });
    const controller = new AbortController();
    const call = inventoryClient.getProduct({ productId: "slow" }, { signal: controller.signal });
    const callsBefore = seen.calls;
    await until(() => seen.calls > callsBefore);
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.CANCELLED });
    // Cancelling is the caller's decision, not an upstream failure.
    expect(inventoryClient.breaker.stats.failures).toBe(0);
  });

  it("rejects a client stream with the caller's own error when its request source fails", async () => {
    const fileClient = client(FileService, address, { name: "file" });
    async function* failingSource() {
      yield { data: { case: "metadata" as const, value: { fileName: "a.txt" } } };
      throw new Error("disk read failed");
    }
    await expect(fileClient.upload(failingSource())).rejects.toThrow("disk read failed");
    expect(fileClient.breaker.stats.failures).toBe(0);
  });

  describe("circuit breaker", () => {
    it("never counts business errors", async () => {
      const inventoryClient = client(InventoryService, address, {
        name: "inventory",
        breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 },
      });
      for (let i = 0; i < 10; i++) {
        await expect(inventoryClient.getProduct({ productId: "missing" })).rejects.toMatchObject({ code: Code.NOT_FOUND });
        await expect(inventoryClient.getProduct({ productId: "bad" })).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
      }
      expect(inventoryClient.breaker.closed).toBe(true);
      expect(inventoryClient.breaker.stats.failures).toBe(0);
    });

    it("opens when the upstream is down, then fails fast without calling it", async () => {
      const down = client(InventoryService, `127.0.0.1:${await closedPort()}`, {
        name: "inventory",
        breaker: { volumeThreshold: 3, resetTimeoutMs: 60_000 },
      });
      const failures: unknown[] = [];
      while (!down.breaker.opened && failures.length < 10) {
        failures.push(await down.getProduct({ productId: "p1" }).catch((err: unknown) => err));
      }
      expect(down.breaker.opened).toBe(true);
      expect(failures[0]).toBeInstanceOf(ServiceError);
      expect(failures[0]).toMatchObject({ code: Code.UNAVAILABLE });

      const rejectsBefore = down.breaker.stats.rejects;
      const firesBefore = down.breaker.stats.fires;
      const started = Date.now();
      const refused = await down.getProduct({ productId: "p1" }).catch((err: unknown) => err);
      const elapsed = Date.now() - started;
      expect(refused).toBeInstanceOf(ServiceError);
      expect(refused).toMatchObject({ code: Code.UNAVAILABLE, message: "inventory unavailable (circuit open)" });
      // Refused by the breaker itself: counted as a reject, never attempted.
      expect(down.breaker.stats.rejects).toBe(rejectsBefore + 1);
      expect(down.breaker.stats.fires).toBe(firesBefore + 1);
      expect(down.breaker.stats.failures).toBe(failures.length);
      expect(elapsed).toBeLessThan(1_000);
    });

    it("guards establishing server streams too", async () => {
      const down = client(FileService, `127.0.0.1:${await closedPort()}`, {
        name: "file",
        breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 },
      });
      const consume = async () => {
        for await (const _ of down.download({ fileId: "f1" })) {
          // never reached
        }
      };
      await expect(consume()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
      await expect(consume()).rejects.toMatchObject({ code: Code.UNAVAILABLE });
      expect(down.breaker.opened).toBe(true);
      await expect(consume()).rejects.toMatchObject({ code: Code.UNAVAILABLE, message: "file unavailable (circuit open)" });
    });

    it("counts DEADLINE_EXCEEDED, opens, and closes again after a successful trial call", async () => {
      seen.slow = true;
      const slow = client(InventoryService, address, {
        name: "inventory",
        deadlineMs: 200,
        breaker: { volumeThreshold: 2, resetTimeoutMs: 300 },
      });
      await expect(slow.getProduct({ productId: "slow" })).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
      expect(slow.breaker.stats.failures).toBe(1);
      await expect(slow.getProduct({ productId: "slow" })).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
      expect(slow.breaker.opened).toBe(true);

      const callsBefore = seen.calls;
      await expect(slow.getProduct({ productId: "slow" })).rejects.toMatchObject({ message: "inventory unavailable (circuit open)" });
      expect(seen.calls).toBe(callsBefore);

      // The upstream recovers; after resetTimeoutMs one trial call goes through and closes the circuit.
      seen.slow = false;
      await until(() => slow.breaker.halfOpen);
      await expect(slow.getProduct({ productId: "slow" })).resolves.toMatchObject({ product: { id: "slow" } });
      expect(slow.breaker.closed).toBe(true);
    });

    it("caps call deadlines at breaker.timeoutMs", async () => {
      const capped = client(InventoryService, address, { name: "inventory", deadlineMs: 5_000, breaker: { timeoutMs: 1_000 } });
      const before = Date.now();
      await capped.getProduct({ productId: "p1" });
      // Set when the call started, somewhere in between: 1 s from then, not 5 s.
      expect(seen.deadline?.getTime()).toBeGreaterThanOrEqual(before + 1_000 - 50);
      expect(seen.deadline?.getTime()).toBeLessThanOrEqual(Date.now() + 1_000 + 50);
    });

    it("fails calls after close() without touching the network", async () => {
      const closed = createClient(InventoryService, address, { name: "inventory" });
      closed.close();
      await expect(closed.getProduct({ productId: "p1" })).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    });
  });
});
