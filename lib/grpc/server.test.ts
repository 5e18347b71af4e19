import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  Client as GrpcChannel,
  credentials,
  makeGenericClientConstructor,
  status as Code,
  type ClientReadableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { pino } from "pino";
import { FileService } from "../../gen/shop/file/v1/file_pb.js";
import { InventoryService, ProductStatus } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { invalidArgument, notFound, ServiceError } from "../errors.js";
import { createClient, startGrpcServer, type CallContext, type GrpcClient, type GrpcServer, type ServiceImplementation } from "./index.js";

const run = promisify(execFile);

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUp) throw new Error(`condition not met within ${timeoutMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Log lines, to check what the server logged about failures. */
const logLines: Array<Record<string, unknown>> = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(JSON.parse(line)) });

const notInThisFake = async (): Promise<never> => {
  throw new ServiceError(Code.UNIMPLEMENTED, "not in this fake");
};

const inventory: ServiceImplementation<typeof InventoryService> = {
  async getProduct({ productId }) {
    if (productId === "missing") throw notFound("product", productId);
    if (productId === "") throw invalidArgument("product_id", "must not be empty");
    if (productId === "crash") throw new Error("connect ECONNREFUSED 10.1.2.3:5432 password=hunter2");
    // A field path carrying client input (a map key) that no metadata value may hold as it is.
    if (productId === "odd-field") throw invalidArgument('template_data["ké\n%\u0000"]', "unknown key");
    // A plain init object: the server turns it into a message.
    return { product: { id: productId, name: "Red T-shirt", status: ProductStatus.ACTIVE, available: 7 } };
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

/** What the Download handler saw, for assertions about cancellation and backpressure. */
const downloads = { produced: 0, stopped: 0, lastSignal: undefined as AbortSignal | undefined };
const CHUNK = new Uint8Array(256 * 1024).fill(7);

const files: ServiceImplementation<typeof FileService> = {
  async upload(requests) {
    let metadata: { fileName: string } | undefined;
    const hash = createHash("sha256");
    let size = 0;
    for await (const request of requests) {
      if (request.data.case === "metadata") {
        metadata = request.data.value;
      } else if (request.data.case === "chunk") {
        if (!metadata) throw invalidArgument("metadata", "must be the first message");
        hash.update(request.data.value);
        size += request.data.value.length;
      }
    }
    if (!metadata) throw invalidArgument("metadata", "missing");
    return { file: { id: "f1", fileName: metadata.fileName, sizeBytes: BigInt(size), sha256: hash.digest("hex") } };
  },
  async *download({ fileId }, ctx: CallContext) {
    downloads.lastSignal = ctx.signal;
    if (fileId === "missing") throw notFound("file", fileId);
    try {
      yield { data: { case: "info", value: { id: fileId, fileName: "invoice.pdf" } } };
      if (fileId === "endless") {
        // Unbounded on purpose: only backpressure keeps this from running away. Each chunk
        // takes a turn of the event loop, like a read from storage would.
        for (;;) {
          await new Promise((resolve) => setImmediate(resolve));
          downloads.produced++;
          yield { data: { case: "chunk", value: CHUNK } };
        }
      }
      if (fileId === "quiet") {
        // A handler waiting for something that does not come; it must listen to the signal.
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        return;
      }
      for (let i = 0; i < 3; i++) yield { data: { case: "chunk", value: new Uint8Array([i]) } };
    } finally {
      downloads.stopped++;
    }
  },
  getFile: notInThisFake,
  listFiles: notInThisFake,
  getInvoice: notInThisFake,
};

// Type checks of the handler types, verified by `tsc`.
export const wrongResponse: ServiceImplementation<typeof InventoryService> = {
  ...inventory,
  // @ts-expect-error: a GetProduct handler must return a GetProductResponse init shape
  async getProduct() {
    return { products: [] };
  },
};
// @ts-expect-error: every method must be implemented
export const incomplete: ServiceImplementation<typeof InventoryService> = { getProduct: inventory.getProduct };

// startGrpcServer checks each implementation against its own service (verified by `tsc`).
export const wrongPairing = () =>
  startGrpcServer({
    port: 0,
    logger,
    services: [
      { service: FileService, implementation: files },
      // @ts-expect-error: a FileService implementation registered for InventoryService
      { service: InventoryService, implementation: files },
    ],
  });

interface HealthClient {
  check(request: { service: string }, callback: (err: Error | null, response?: { status: string }) => void): void;
  watch(request: { service: string }): ClientReadableStream<{ status: string }>;
  close(): void;
}
const HealthClientConstructor = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "grpc.health.v1.Health");

function healthClient(port: number): HealthClient {
  return new HealthClientConstructor(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as HealthClient;
}

function checkHealth(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) => client.check({ service }, (err, response) => (err ? reject(err) : resolve(response?.status ?? "?"))));
}

describe("grpc server", () => {
  let server: GrpcServer;
  let inventoryClient: GrpcClient<typeof InventoryService>;
  let fileClient: GrpcClient<typeof FileService>;
  let health: HealthClient;

  beforeAll(async () => {
    server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      services: [
        { service: InventoryService, implementation: inventory },
        { service: FileService, implementation: files },
      ],
    });
    const address = `127.0.0.1:${server.port}`;
    inventoryClient = createClient(InventoryService, address, { name: "inventory" });
    fileClient = createClient(FileService, address, { name: "file" });
    health = healthClient(server.port);
  });

  afterAll(async () => {
    inventoryClient?.close();
    fileClient?.close();
    health?.close();
    await server?.shutdown(1_000);
  });

  describe("health", () => {
    // Runs first: nothing has called setServing yet.
    it("reports NOT_SERVING for the server and each service until setServing, then SERVING", async () => {
      expect(await checkHealth(health, "")).toBe("NOT_SERVING");
      expect(await checkHealth(health, "shop.inventory.v1.InventoryService")).toBe("NOT_SERVING");
      server.health.setServing();
      expect(await checkHealth(health, "")).toBe("SERVING");
      expect(await checkHealth(health, "shop.file.v1.FileService")).toBe("SERVING");
      await expect(checkHealth(health, "shop.nope.v1.Nope")).rejects.toMatchObject({ code: Code.NOT_FOUND });
    });
  });

  describe("unary", () => {
    it("answers with the handler's init object as a message", async () => {
      const response = await inventoryClient.getProduct({ productId: "p1" });
      expect(response.$typeName).toBe("shop.inventory.v1.GetProductResponse");
      expect(response.product).toMatchObject({ id: "p1", name: "Red T-shirt", status: ProductStatus.ACTIVE, available: 7 });
    });

    it("passes ServiceError codes, messages and fields through", async () => {
      await expect(inventoryClient.getProduct({ productId: "missing" })).rejects.toMatchObject({
        code: Code.NOT_FOUND,
        message: "product missing not found",
      });
      const invalid = await inventoryClient.getProduct({ productId: "" }).catch((err: unknown) => err);
      expect(invalid).toBeInstanceOf(ServiceError);
      expect(invalid).toMatchObject({ code: Code.INVALID_ARGUMENT, field: "product_id", message: "product_id: must not be empty" });
    });

    it("turns any other error into INTERNAL without leaking it, and logs it with its stack", async () => {
      const err = (await inventoryClient.getProduct({ productId: "crash" }).catch((e: unknown) => e)) as ServiceError;
      expect(err).toMatchObject({ code: Code.INTERNAL, message: "internal error" });
      expect(JSON.stringify(err)).not.toMatch(/hunter2|10\.1\.2\.3/);
      const logged = logLines.find((line) => line.msg === "handler failed");
      expect(logged).toMatchObject({ level: 50, rpc: "shop.inventory.v1.InventoryService/GetProduct" });
      expect((logged?.err as { stack?: string } | undefined)?.stack).toContain("ECONNREFUSED 10.1.2.3:5432");
    });
  });

  describe("bad input", () => {
    /** A raw call whose request bytes are exactly `bytes`, as a broken or hostile client sends them. */
    function rawUnary(path: string, bytes: Buffer): Promise<{ code: number; details: string; field?: string }> {
      const channel = new GrpcChannel(`127.0.0.1:${server.port}`, credentials.createInsecure());
      return new Promise((resolve) => {
        channel.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err) => {
            channel.close();
            const field = err?.metadata?.get("x-error-field")[0];
            resolve({ code: err?.code ?? Code.OK, details: err?.details ?? "", field: typeof field === "string" ? field : undefined });
          },
        );
      });
    }

    it("answers undecodable requests with INVALID_ARGUMENT, not INTERNAL", async () => {
      const path = "/shop.inventory.v1.InventoryService/GetProduct";
      const cases = {
        truncated: Buffer.from([0x0a, 0x05, 0x61]),
        wrongWireType: Buffer.from([0x0d, 0x01, 0x02, 0x03, 0x04]),
        invalidUtf8: Buffer.from([0x0a, 0x02, 0xc3, 0x28]),
        varintOverflow: Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      };
      for (const [name, bytes] of Object.entries(cases)) {
        const answer = await rawUnary(path, bytes);
        expect({ name, ...answer }).toMatchObject({ name, code: Code.INVALID_ARGUMENT, field: "request" });
        expect(answer.details).toMatch(/^request: is not a valid shop\.inventory\.v1\.GetProductRequest message/);
      }
    });

    it("answers undecodable messages of a client stream with INVALID_ARGUMENT", async () => {
      const channel = new GrpcChannel(`127.0.0.1:${server.port}`, credentials.createInsecure());
      const answer = await new Promise<{ code: number; details: string }>((resolve) => {
        const call = channel.makeClientStreamRequest(
          "/shop.file.v1.FileService/Upload",
          (b: Buffer) => b,
          (b: Buffer) => b,
          (err) => resolve({ code: err?.code ?? Code.OK, details: err?.details ?? "" }),
        );
        call.write(Buffer.from([0x0a, 0x7f]));
        call.end();
      });
      channel.close();
      expect(answer.code).toBe(Code.INVALID_ARGUMENT);
      expect(answer.details).toMatch(/UploadRequest message/);
    });

    it("rejects a NUL character in any string field with INVALID_ARGUMENT naming it, before the handler runs", async () => {
      const err = await inventoryClient.getProduct({ productId: "crash\u0000" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: Code.INVALID_ARGUMENT, field: "product_id" });
      expect((err as Error).message).toMatch(/product_id: must not contain a NUL character/);
      const stream = fileClient.download({ fileId: "f\u0000" });
      await expect(stream[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, field: "file_id" });
    });

    it("sends an error field with any characters safely, and the client gets it back intact", async () => {
      const err = await inventoryClient.getProduct({ productId: "odd-field" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: Code.INVALID_ARGUMENT, field: 'template_data["ké\n%\u0000"]' });
    });
  });

  describe("server streaming", () => {
    it("streams every message in order", async () => {
      const received = [];
      for await (const response of fileClient.download({ fileId: "f1" })) received.push(response.data);
      expect(received).toEqual([
        expect.objectContaining({ case: "info", value: expect.objectContaining({ id: "f1", fileName: "invoice.pdf" }) }),
        { case: "chunk", value: new Uint8Array([0]) },
        { case: "chunk", value: new Uint8Array([1]) },
        { case: "chunk", value: new Uint8Array([2]) },
      ]);
    });

    it("surfaces a handler error to the consumer", async () => {
      const consume = async () => {
        for await (const _ of fileClient.download({ fileId: "missing" })) {
          // nothing arrives
        }
      };
      await expect(consume()).rejects.toMatchObject({ code: Code.NOT_FOUND, message: "file missing not found" });
    });

    it("produces only as fast as the client reads, and stops the handler when the client breaks off", async () => {
      const stoppedBefore = downloads.stopped;
      downloads.produced = 0;
      let consumed = 0;
      for await (const response of fileClient.download({ fileId: "endless" })) {
        if (response.data.case === "chunk") consumed++;
        // The buffers in between hold a few dozen chunks at most; without backpressure the
        // producer runs hundreds ahead and keeps going.
        expect(downloads.produced - consumed).toBeLessThan(64);
        if (consumed === 50) break;
      }
      await until(() => downloads.stopped === stoppedBefore + 1);
      expect(downloads.lastSignal?.aborted).toBe(true);
    });

    it("aborts ctx.signal when the client cancels through its AbortSignal", async () => {
      const stoppedBefore = downloads.stopped;
      const controller = new AbortController();
      const consume = async () => {
        for await (const response of fileClient.download({ fileId: "quiet" }, { signal: controller.signal })) {
          if (response.data.case === "info") controller.abort();
        }
      };
      await expect(consume()).rejects.toMatchObject({ code: Code.CANCELLED });
      await until(() => downloads.stopped === stoppedBefore + 1);
      expect(downloads.lastSignal?.aborted).toBe(true);
    });
  });

  describe("client streaming", () => {
    it("hands the handler every request and returns its response", async () => {
      async function* chunks() {
        yield { data: { case: "metadata" as const, value: { fileName: "a.txt", contentType: "text/plain" } } };
        for (const part of ["hello ", "world"]) yield { data: { case: "chunk" as const, value: new TextEncoder().encode(part) } };
      }
      const { file } = await fileClient.upload(chunks());
      expect(file).toMatchObject({
        fileName: "a.txt",
        sizeBytes: 11n,
        sha256: createHash("sha256").update("hello world").digest("hex"),
      });
    });

    it("passes the handler's ServiceError through and stops reading the caller's requests", async () => {
      let sourceClosed = false;
      async function* chunksWithoutMetadata() {
        try {
          for (;;) yield { data: { case: "chunk" as const, value: new Uint8Array(1024) } };
        } finally {
          sourceClosed = true;
        }
      }
      await expect(fileClient.upload(chunksWithoutMetadata())).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        field: "metadata",
      });
      // The endless source was stopped (its generator returned), not drained forever.
      await until(() => sourceClosed);
    });
  });

  describe("reflection", () => {
    const buf = "node_modules/.bin/buf";

    it("lets buf curl list the methods, including grpc.health.v1", async () => {
      const { stdout } = await run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", `http://127.0.0.1:${server.port}`]);
      const methods = stdout.trim().split("\n");
      expect(methods).toEqual(
        expect.arrayContaining([
          "shop.inventory.v1.InventoryService/GetProduct",
          "shop.inventory.v1.InventoryService/ListStockMovements",
          "shop.file.v1.FileService/Upload",
          "shop.file.v1.FileService/Download",
          "grpc.health.v1.Health/Check",
        ]),
      );
    });

    it("lets buf curl call a method with JSON", async () => {
      const { stdout } = await run(buf, [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-d",
        '{"productId":"p9"}',
        `http://127.0.0.1:${server.port}/shop.inventory.v1.InventoryService/GetProduct`,
      ]);
      expect(JSON.parse(stdout)).toMatchObject({
        product: { id: "p9", name: "Red T-shirt", status: "PRODUCT_STATUS_ACTIVE", available: 7 },
      });
    });

    it("lets buf curl call the health check", async () => {
      const { stdout } = await run(buf, [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-d",
        "{}",
        `http://127.0.0.1:${server.port}/grpc.health.v1.Health/Check`,
      ]);
      expect(JSON.parse(stdout)).toEqual({ status: server.health.serving ? "SERVING" : "NOT_SERVING" });
    });
  });

  it("gives handlers the request metadata, peer and deadline", async () => {
    let seen: CallContext | undefined;
    const probe = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      services: [
        {
          service: InventoryService,
          implementation: {
            ...inventory,
            async getProduct(_request, ctx) {
              seen = ctx;
              return {};
            },
          },
        },
      ],
    });
    const client = createClient(InventoryService, `127.0.0.1:${probe.port}`, { name: "probe" });
    try {
      const before = Date.now();
      await client.getProduct({ productId: "p1" }, { metadata: { "x-tenant": "t1" }, deadlineMs: 2_000 });
      expect(seen?.metadata.get("x-tenant")).toEqual(["t1"]);
      expect(seen?.peer).toMatch(/127\.0\.0\.1/);
      expect(seen?.deadline?.getTime()).toBeGreaterThan(before + 1_000);
      expect(seen?.deadline?.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
      expect(seen?.signal.aborted).toBe(false);
    } finally {
      client.close();
      await probe.shutdown(1_000);
    }
  });
});

describe("grpc server shutdown", () => {
  it("reports NOT_SERVING to watchers, then cancels what is still running after the grace period", async () => {
    const server = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      logger,
      services: [{ service: FileService, implementation: files }],
    });
    const health = healthClient(server.port);
    const fileClient = createClient(FileService, `127.0.0.1:${server.port}`, { name: "file" });
    try {
      server.health.setServing();
      const statuses: string[] = [];
      const watch = health.watch({ service: "" });
      watch.on("data", (response) => statuses.push(response.status));
      const watchEnded = new Promise((resolve) => watch.on("error", resolve).on("end", resolve));
      await until(() => statuses.includes("SERVING"));

      // A stream that would outlive the grace period.
      const quiet = (async () => {
        for await (const _ of fileClient.download({ fileId: "quiet" })) {
          // only the info message arrives
        }
      })();
      await until(() => downloads.lastSignal !== undefined && !downloads.lastSignal.aborted);
      const signal = downloads.lastSignal;

      const stopped = server.shutdown(300);
      await until(() => statuses.at(-1) === "NOT_SERVING");
      await stopped;
      expect(signal?.aborted).toBe(true);
      await expect(quiet).rejects.toBeInstanceOf(ServiceError);
      await watchEnded;
      // A second call is harmless and resolves as well.
      await server.shutdown();
    } finally {
      fileClient.close();
      health.close();
      await server.shutdown(0);
    }
  });

  it("refuses to start when an implementation lacks a method", async () => {
    const { getProduct: _omitted, ...partial } = inventory;
    await expect(
      startGrpcServer({
        port: 0,
        logger,
        services: [{ service: InventoryService, implementation: partial as typeof inventory }],
      }),
    ).rejects.toThrow("no getProduct() for rpc GetProduct");
  });
});
