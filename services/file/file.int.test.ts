import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderCreatedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { type DownloadResponse, FileKind, FileService, type UploadRequestSchema } from "../../gen/shop/file/v1/file_pb.js";
import { sql } from "../../lib/db/index.js";
import { Code } from "../../lib/errors.js";
import { readStream } from "../../lib/events/test-support.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { EventLog, publishEvent } from "../../test/harness/event-log.js";
import { testInfra, uniqueId, waitFor } from "../../test/harness/index.js";
import { asOneDelivery } from "../../test/harness/one-delivery.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { FileMetadata } from "./entities.js";
import { CHUNK_BYTES } from "./rpc.js";
import { type FileConfig, readFileConfig, start } from "./service.js";
import { pdfText } from "./test-support.js";
import { expectCode } from "../../test/harness/expect-code.js";

type UploadMessage = MessageInitShape<typeof UploadRequestSchema>;

const MAX_BYTES = 256 * 1024;

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function* uploadMessages(
  metadata: { fileName: string; contentType?: string; orderId?: string; customerId?: string },
  content: Uint8Array,
  chunkBytes = 10_000,
): AsyncGenerator<UploadMessage> {
  yield { data: { case: "metadata", value: metadata } };
  for (let offset = 0; offset < content.length; offset += chunkBytes) {
    yield { data: { case: "chunk", value: content.subarray(offset, offset + chunkBytes) } };
  }
}

async function* messages(...items: UploadMessage[]): AsyncGenerator<UploadMessage> {
  yield* items;
}

async function download(client: GrpcClient<typeof FileService>, fileId: string) {
  const responses: DownloadResponse[] = [];
  for await (const response of client.download({ fileId })) responses.push(response);
  const [first, ...rest] = responses;
  const chunks = rest.map((r) => (r.data.case === "chunk" ? r.data.value : new Uint8Array()));
  expect(first?.data.case).toBe("info");
  expect(rest.every((r) => r.data.case === "chunk")).toBe(true);
  return { info: first.data.case === "info" ? first.data.value : undefined, chunks, content: Buffer.concat(chunks) };
}

/** Runtime settings plus FILE_* and S3_* read from an environment, as main.ts would. */
async function fileConfig(runtime: TestRuntime, env: NodeJS.ProcessEnv): Promise<FileConfig> {
  return { ...readFileConfig(env), ...(await runtime.config("file")) };
}

describe("file service", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof FileService>;
  let log: EventLog;
  let s3: S3Client;
  // A bucket of this suite's own, created by the service at start.
  const bucket = `file-${uniqueId()}`;

  async function objectBytes(key: string): Promise<Buffer> {
    const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await output.Body!.transformToByteArray());
  }

  async function objectKeys(prefix: string): Promise<string[]> {
    const output = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (output.Contents ?? []).map((o) => o.Key!);
  }

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const endpoint = testInfra().s3Endpoint;
    const config = await fileConfig(runtime, { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, FILE_MAX_BYTES: String(MAX_BYTES) });
    service = await start(config, { logger: runtime.logger });
    client = createClient(FileService, `127.0.0.1:${service.grpcPort}`, { name: "file", deadlineMs: 10_000 });
    log = new EventLog(runtime.bus);
    s3 = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  });

  afterAll(async () => {
    client?.close();
    s3?.destroy();
    await service?.stop();
    await runtime?.cleanup();
  });

  describe("invoices", () => {
    const customerId = uuidv7();

    function orderConfirmed(orderId: string) {
      return {
        orderId,
        customerId,
        occurredAt: timestampFromDate(new Date()),
        customerName: "Ada Lovelace",
        customerEmail: "ada@example.com",
        lines: [
          { productId: uuidv7(), productName: "Widget", quantity: 2, unitPrice: { currencyCode: "USD", amountMinor: 1999n } },
          { productId: uuidv7(), productName: "Gadget", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 500n } },
        ],
        total: { currencyCode: "USD", amountMinor: 4498n },
        shippingAddress: { recipientName: "Ada Lovelace", line1: "1 Main St", city: "Springfield", postalCode: "12345", countryCode: "US" },
        paymentId: uuidv7(),
        cardLast4: "4242",
      };
    }

    it("renders the invoice of a confirmed order to S3, records it and publishes file.invoice_generated", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderId));
      const event = await log.expectEvent(FileInvoiceGeneratedSchema, orderId);
      expect(event).toMatchObject({ customerId, storageKey: `invoices/${orderId}.pdf` });

      const pdf = await objectBytes(event.storageKey);
      expect(pdf.subarray(0, 4).toString("latin1")).toBe("%PDF");
      expect(sha256(pdf)).toBe(event.sha256);
      expect(event.sizeBytes).toBe(BigInt(pdf.length));
      const text = pdfText(pdf);
      for (const expected of [orderId, "Ada Lovelace", "ada@example.com", "1 Main St", "Widget", "Gadget", "39.98 USD", "44.98 USD", "**** 4242"]) {
        expect(text).toContain(expected);
      }

      const { file } = await client.getInvoice({ orderId });
      expect(file).toMatchObject({
        id: event.fileId,
        kind: FileKind.INVOICE,
        contentType: "application/pdf",
        orderId,
        customerId,
        sha256: event.sha256,
        sizeBytes: BigInt(pdf.length),
        storageKey: event.storageKey,
      });
      const downloaded = await download(client, event.fileId);
      expect(downloaded.content.equals(pdf)).toBe(true);
    });

    it("generates one invoice per order when order.confirmed is redelivered or repeated", async () => {
      const orderId = uuidv7();
      const confirmed = orderConfirmed(orderId);
      const eventId = await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed);
      const first = await log.expectEvent(FileInvoiceGeneratedSchema, orderId);
      // The same event under another message id (the stream cannot de-duplicate it), and
      // another order.confirmed event for the same order.
      await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed, eventId, uuidv7());
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderId));
      // The consumer handles events in order: once the marker's invoice exists, the repeats were handled.
      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(marker));
      await log.expectEvent(FileInvoiceGeneratedSchema, marker);

      expect(await log.events(FileInvoiceGeneratedSchema, orderId)).toHaveLength(1);
      const { files } = await client.listFiles({ orderId });
      expect(files.map((f) => f.id)).toEqual([first.fileId]);
      expect(sha256(await objectBytes(first.storageKey))).toBe(first.sha256);
    });

    it("never invoices an order that was paid but cancelled before it was confirmed, in any event order", async () => {
      // The charge completed, but the order had been cancelled: it never confirms and is refunded.
      const orderId = uuidv7();
      const paid = { orderId, customerId, paymentId: uuidv7(), amount: { currencyCode: "USD", amountMinor: 4498n }, cardLast4: "4242" };
      await publishEvent(runtime.bus, PaymentCompletedSchema, paid);
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, customerId, reason: "customer", previousStatus: "RESERVED" });
      await publishEvent(runtime.bus, OrderCreatedSchema, { orderId, customerId, total: { currencyCode: "USD", amountMinor: 4498n } });
      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(marker));
      await log.expectEvent(FileInvoiceGeneratedSchema, marker);
      expect(await log.events(FileInvoiceGeneratedSchema, orderId)).toHaveLength(0);
      await expectCode(client.getInvoice({ orderId }), Code.NOT_FOUND);
    });

    /** The transaction id that wrote each order's invoice row. */
    async function writers(orderIds: string[]): Promise<Map<string, string>> {
      const rows = await sql<{ order_id: string; xmin: string }>(
        service.orm.em.fork(),
        "SELECT order_id, xmin::text AS xmin FROM file_metadata WHERE kind = 'INVOICE' AND order_id = ANY(?::uuid[])",
        [orderIds],
      );
      return new Map(rows.map((row) => [row.order_id, row.xmin]));
    }

    it("applies a batch of several orders together: shared transactions, one invoice each, repeats inside the batch ignored", async () => {
      const orderIds = Array.from({ length: 5 }, () => uuidv7());
      await asOneDelivery(runtime, service, "file-invoice-confirmed", async () => {
        for (const orderId of orderIds) await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderId));
        // Another order.confirmed for the first order, in the same batch.
        await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderIds[0]));
      });
      const events = [];
      // One at a time: the event log reads the stream sequentially.
      for (const orderId of orderIds) events.push(await log.expectEvent(FileInvoiceGeneratedSchema, orderId));
      const written = await writers(orderIds);
      expect(written.size).toBe(orderIds.length);
      // Fewer transactions than orders: applied together (a pull's messages may arrive in two reads).
      expect(new Set(written.values()).size).toBeLessThan(orderIds.length);
      for (const event of events) expect(sha256(await objectBytes(event.storageKey))).toBe(event.sha256);
      // The marker's invoice exists once everything before it was handled.
      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(marker));
      await log.expectEvent(FileInvoiceGeneratedSchema, marker);
      expect(await log.events(FileInvoiceGeneratedSchema, orderIds[0])).toHaveLength(1);
    });

    it("dead-letters a poisoned event of a batch alone while the others get their invoices", async () => {
      const good = Array.from({ length: 4 }, () => uuidv7());
      const poisoned = uuidv7();
      await asOneDelivery(runtime, service, "file-invoice-confirmed", async () => {
        for (const orderId of good.slice(0, 2)) await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderId));
        await publishEvent(runtime.bus, OrderConfirmedSchema, { ...orderConfirmed(poisoned), total: { currencyCode: "usd", amountMinor: 1n }, lines: [] });
        for (const orderId of good.slice(2)) await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(orderId));
      });
      for (const orderId of good) await log.expectEvent(FileInvoiceGeneratedSchema, orderId);
      const dead = await waitFor(
        async () => {
          const messages = await readStream(runtime.bus, runtime.bus.names.dlqStream, ">");
          const orders = messages.map((message) => fromBinary(OrderConfirmedSchema, message.data).orderId);
          return orders.includes(poisoned) && orders;
        },
        { message: "the poisoned event in the DLQ" },
      );
      expect(dead.filter((orderId) => orderId === poisoned)).toHaveLength(1);
      expect(dead.filter((orderId) => good.includes(orderId))).toEqual([]);
      expect((await writers([...good, poisoned])).size).toBe(good.length);
      await expectCode(client.getInvoice({ orderId: poisoned }), Code.NOT_FOUND);
    });

    it("applies nothing twice when part of a batch is a redelivery", async () => {
      const done = uuidv7();
      const confirmed = orderConfirmed(done);
      const eventId = await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed);
      const first = await log.expectEvent(FileInvoiceGeneratedSchema, done);
      const before = await objectBytes(first.storageKey);

      const fresh = [uuidv7(), uuidv7()];
      await asOneDelivery(runtime, service, "file-invoice-confirmed", async () => {
        await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(fresh[0]));
        // The same event again (past the stream's de-duplication), and a new one for the same order.
        await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed, eventId, uuidv7());
        await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(done));
        await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(fresh[1]));
      });
      for (const orderId of fresh) await log.expectEvent(FileInvoiceGeneratedSchema, orderId);
      const written = await writers([done, ...fresh]);
      expect(written.get(fresh[0])).toBe(written.get(fresh[1]));
      expect(written.get(done)).not.toBe(written.get(fresh[0]));

      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, orderConfirmed(marker));
      await log.expectEvent(FileInvoiceGeneratedSchema, marker);
      expect(await log.events(FileInvoiceGeneratedSchema, done)).toHaveLength(1);
      expect((await client.listFiles({ orderId: done })).files.map((f) => f.id)).toEqual([first.fileId]);
      // The object is still the one the row describes.
      expect((await objectBytes(first.storageKey)).equals(before)).toBe(true);
    });

    it("dead-letters an order.confirmed no invoice can be made from instead of retrying it", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, { ...orderConfirmed(orderId), lines: [] });
      await waitFor(async () => (await runtime.bus.jsm.streams.info(runtime.bus.names.dlqStream)).state.messages > 0, { message: "the event in the DLQ" });
      await expectCode(client.getInvoice({ orderId }), Code.NOT_FOUND);
    });

    it("answers GetInvoice with NOT_FOUND for an order without one and INVALID_ARGUMENT for a bad id", async () => {
      await expectCode(client.getInvoice({ orderId: uuidv7() }), Code.NOT_FOUND, /invoice/);
      await expectCode(client.getInvoice({ orderId: "../x" }), Code.INVALID_ARGUMENT, /order_id/, "order_id");
    });
  });

  describe("uploads and downloads", () => {
    it("round-trips a multi-chunk binary file with its sha256", async () => {
      const content = randomBytes(3 * CHUNK_BYTES + 1234);
      const orderId = uuidv7();
      const customerId = uuidv7();
      const { file } = await client.upload(uploadMessages({ fileName: "scan 01.png", contentType: "Image/PNG", orderId, customerId }, content, 7_000));
      expect(file).toMatchObject({
        fileName: "scan 01.png",
        contentType: "image/png",
        sizeBytes: BigInt(content.length),
        sha256: sha256(content),
        orderId,
        customerId,
        kind: FileKind.UPLOAD,
        storageKey: `uploads/${file!.id}`,
      });
      expect((await objectBytes(file!.storageKey)).equals(content)).toBe(true);

      const downloaded = await download(client, file!.id);
      expect(downloaded.info).toMatchObject({ id: file!.id, sha256: sha256(content) });
      expect(downloaded.chunks.map((c) => c.length)).toEqual([CHUNK_BYTES, CHUNK_BYTES, CHUNK_BYTES, 1234]);
      expect(sha256(downloaded.content)).toBe(sha256(content));
      expect((await client.getFile({ fileId: file!.id })).file).toEqual(file);
    });

    it("stops a download early without harm", async () => {
      const { file } = await client.upload(uploadMessages({ fileName: "big.csv", contentType: "text/csv" }, randomBytes(MAX_BYTES), 65_536));
      for await (const response of client.download({ fileId: file!.id })) {
        if (response.data.case === "chunk") break;
      }
      expect((await download(client, file!.id)).content.length).toBe(MAX_BYTES);
    });

    it("refuses a file above the size limit and stores nothing", async () => {
      const orderId = uuidv7();
      const before = await objectKeys("uploads/");
      await expectCode(
        client.upload(uploadMessages({ fileName: "huge.pdf", contentType: "application/pdf", orderId }, randomBytes(MAX_BYTES + 1), 32_768)),
        Code.INVALID_ARGUMENT,
        new RegExp(`exceeds ${MAX_BYTES} bytes`),
      );
      expect((await client.listFiles({ orderId })).files).toEqual([]);
      expect(await objectKeys("uploads/")).toEqual(before);
      // Exactly at the limit is fine.
      await client.upload(uploadMessages({ fileName: "max.pdf", contentType: "application/pdf", orderId }, randomBytes(MAX_BYTES), 65_536));
    });

    it.each(["../../etc/passwd", "a/b", "a\\b", "", ".hidden", "\u0000x", "x".repeat(256)])("rejects the file name %j naming the field", async (fileName) => {
      await expectCode(
        client.upload(uploadMessages({ fileName, contentType: "text/plain" }, Buffer.from("hello"))),
        Code.INVALID_ARGUMENT,
        /metadata\.file_name/,
        "metadata.file_name",
      );
    });

    it("rejects a content type outside the allowlist, and a missing one", async () => {
      await expectCode(
        client.upload(uploadMessages({ fileName: "setup.exe", contentType: "application/x-msdownload" }, Buffer.from("MZ"))),
        Code.INVALID_ARGUMENT,
        /not allowed/,
        "metadata.content_type",
      );
      await expectCode(
        client.upload(uploadMessages({ fileName: "blob.bin" }, Buffer.from("x"))),
        Code.INVALID_ARGUMENT,
        /application\/octet-stream is not allowed/,
        "metadata.content_type",
      );
      await expectCode(
        client.upload(uploadMessages({ fileName: "a.txt", contentType: "text/plain\r\nx-evil: 1" }, Buffer.from("x"))),
        Code.INVALID_ARGUMENT,
        /not a media type/,
        "metadata.content_type",
      );
    });

    it("requires metadata first and only once, content, and valid ids", async () => {
      const chunk: UploadMessage = { data: { case: "chunk", value: Buffer.from("x") } };
      const metadata: UploadMessage = { data: { case: "metadata", value: { fileName: "a.txt", contentType: "text/plain" } } };
      await expectCode(client.upload(messages(chunk, metadata)), Code.INVALID_ARGUMENT, /first message/, "metadata");
      await expectCode(client.upload(messages(metadata, chunk, metadata)), Code.INVALID_ARGUMENT, /sent twice/, "metadata");
      await expectCode(client.upload(messages()), Code.INVALID_ARGUMENT, /first message/, "metadata");
      await expectCode(client.upload(messages(metadata)), Code.INVALID_ARGUMENT, /empty/, "chunk");
      await expectCode(
        client.upload(uploadMessages({ fileName: "a.txt", contentType: "text/plain", orderId: "order-1" }, Buffer.from("x"))),
        Code.INVALID_ARGUMENT,
        /metadata\.order_id/,
        "metadata.order_id",
      );
      await expectCode(client.getFile({ fileId: "nope" }), Code.INVALID_ARGUMENT, /file_id/, "file_id");
      await expectCode(client.getFile({ fileId: uuidv7() }), Code.NOT_FOUND);
      const missing = client.download({ fileId: uuidv7() })[Symbol.asyncIterator]().next();
      await expectCode(missing, Code.NOT_FOUND);
    });

    it("lists an order's files newest first, page by page", async () => {
      const orderId = uuidv7();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { file } = await client.upload(uploadMessages({ fileName: `doc-${i}.txt`, contentType: "text/plain", orderId }, Buffer.from(`doc ${i}`)));
        ids.push(file!.id);
      }
      await client.upload(uploadMessages({ fileName: "other.txt", contentType: "text/plain", orderId: uuidv7() }, Buffer.from("other")));

      const pages: string[][] = [];
      let pageToken = "";
      do {
        const page = await client.listFiles({ orderId, pageSize: 2, pageToken });
        pages.push(page.files.map((f) => f.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(pages).toEqual([[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]);
      expect((await client.listFiles({ pageSize: 100 })).files.length).toBeGreaterThanOrEqual(6);
      await expectCode(client.listFiles({ pageToken: "garbage" }), Code.INVALID_ARGUMENT, /page_token/);
      await expectCode(client.listFiles({ orderId: "x" }), Code.INVALID_ARGUMENT, /order_id/);
    });
  });
});

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("file service with S3 down", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof FileService>;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const config = await fileConfig(runtime, { S3_ENDPOINT: endpoint, S3_ENSURE_BUCKET: "false" });
    service = await start({ ...config, s3: { ...config.s3, breaker: { volumeThreshold: 3 } } }, { logger: runtime.logger });
    client = createClient(FileService, `127.0.0.1:${service.grpcPort}`, { name: "file", deadlineMs: 10_000 });
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  it("refuses to start when the bucket cannot be checked", async () => {
    const config = await fileConfig(runtime, { S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}` });
    await expect(start(config, { logger: runtime.logger })).rejects.toThrow(/s3 bucket "ordermesh" at http:\/\/127\.0\.0\.1:\d+ is not usable: ECONNREFUSED/);
  });

  it("answers uploads and downloads with UNAVAILABLE, quickly, then fails fast with the circuit open", async () => {
    const started = Date.now();
    await expectCode(
      client.upload(uploadMessages({ fileName: "a.txt", contentType: "text/plain" }, Buffer.from("hello"))),
      Code.UNAVAILABLE,
      /object storage unavailable/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await client.listFiles({})).files).toEqual([]);

    const id = uuidv7();
    await service.orm.em.fork().insert(FileMetadata, {
      id,
      kind: "UPLOAD",
      fileName: "a.txt",
      contentType: "text/plain",
      sizeBytes: 5,
      sha256: sha256(Buffer.from("hello")),
      storageKey: `uploads/${id}`,
      createdAt: new Date(),
    });
    const downloadStarted = Date.now();
    await expectCode(client.download({ fileId: id })[Symbol.asyncIterator]().next(), Code.UNAVAILABLE, /object storage unavailable/);
    expect(Date.now() - downloadStarted).toBeLessThan(5_000);

    await expectCode(client.upload(uploadMessages({ fileName: "a.txt", contentType: "text/plain" }, Buffer.from("hello"))), Code.UNAVAILABLE);
    const fastStarted = Date.now();
    await expectCode(client.download({ fileId: id })[Symbol.asyncIterator]().next(), Code.UNAVAILABLE, /s3 unavailable \(circuit open\)/);
    expect(Date.now() - fastStarted).toBeLessThan(1_000);
    // Validation does not need S3 and still answers.
    await expectCode(client.upload(uploadMessages({ fileName: "../x", contentType: "text/plain" }, Buffer.from("x"))), Code.INVALID_ARGUMENT);
  });
});
