import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Code, ServiceError } from "../../lib/errors.js";
import { testInfra, uniqueId } from "../../test/harness/index.js";
import { S3Put } from "./s3-put.js";
import { ObjectStore, type S3Settings } from "./storage.js";

const KEYS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

function settings(bucket: string, overrides: Partial<S3Settings> = {}): S3Settings {
  return {
    endpoint: testInfra().s3Endpoint,
    region: "us-east-1",
    bucket,
    credentials: KEYS,
    forcePathStyle: true,
    ensureBucket: true,
    connectTimeoutMs: 3_000,
    socketTimeoutMs: 10_000,
    maxAttempts: 3,
    ...overrides,
  };
}

async function readAll(store: ObjectStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("S3Put against the harness's S3", () => {
  const bucket = `s3put-${uniqueId()}`;
  let store: ObjectStore;
  let sdk: S3Client;

  beforeAll(async () => {
    store = new ObjectStore(settings(bucket));
    await store.ensureBucket();
    sdk = new S3Client({ endpoint: testInfra().s3Endpoint, region: "us-east-1", forcePathStyle: true, credentials: KEYS });
  });

  afterAll(() => {
    store?.destroy();
    sdk?.destroy();
  });

  it("stores what it is given, read back by the SDK path, with content type and metadata", async () => {
    const cases = [
      { key: "invoices/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.pdf", body: randomBytes(5_000) },
      // Keys that need percent-encoding in the signed path.
      { key: "uploads/a b+c=d&e(1)*!'~ü.txt", body: Buffer.from("hello") },
      { key: "uploads/empty", body: Buffer.alloc(0) },
    ];
    for (const { key, body } of cases) {
      await store.put(key, body, { contentType: "application/pdf", metadata: { "file-id": "f1", "order-id": "o1" } });
      expect((await readAll(store, key)).equals(body)).toBe(true);
      const head = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentType).toBe("application/pdf");
      expect(head.Metadata).toEqual({ "file-id": "f1", "order-id": "o1" });
      await head.Body?.transformToByteArray();
    }
  });

  it("replaces an object put twice at one key, over a kept-alive connection", async () => {
    await store.put("k/twice", Buffer.from("first"), { contentType: "text/plain" });
    await store.put("k/twice", Buffer.from("second"), { contentType: "text/plain" });
    expect((await readAll(store, "k/twice")).toString()).toBe("second");
  });

  // s3rver checks the access key but not v4 signatures: s3-put.test.ts has a bad secret refused.
  it("says clearly that an unknown key is refused, without retrying", async () => {
    const unknownKey = new S3Put({ ...settings(bucket), credentials: () => Promise.resolve({ accessKeyId: "NOBODY", secretAccessKey: "x" }) });
    try {
      const request = { key: "k/refused", body: Buffer.from("x"), contentType: "text/plain" };
      await expect(unknownKey.put(request)).rejects.toMatchObject({ name: "S3ResponseError", code: "InvalidAccessKeyId", status: 403 });
    } finally {
      unknownKey.destroy();
    }

    // Through the store it is UNAVAILABLE naming the reason, as every S3 failure is.
    const refused = new ObjectStore(settings(bucket, { credentials: { accessKeyId: "NOBODY", secretAccessKey: "x" }, ensureBucket: false }));
    try {
      const error = await refused.put("k/refused", Buffer.from("x"), { contentType: "text/plain" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceError);
      expect(error).toMatchObject({ code: Code.UNAVAILABLE, message: expect.stringContaining("InvalidAccessKeyId, HTTP 403") });
    } finally {
      refused.destroy();
    }
  });

  it("reports a missing bucket as unavailable, not as a missing object", async () => {
    const missing = new ObjectStore(settings(`nobucket-${uniqueId()}`, { ensureBucket: false }));
    try {
      await expect(missing.put("k", Buffer.from("x"), { contentType: "text/plain" })).rejects.toMatchObject({
        code: Code.UNAVAILABLE,
        message: expect.stringContaining("NoSuchBucket, HTTP 404"),
      });
    } finally {
      missing.destroy();
    }
  });
});
