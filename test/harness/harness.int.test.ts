import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createTestDatabase, type TestDatabase, testInfra, uniqueId } from "./index.js";

describe("test harness", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  it("gives each suite its own empty PostgreSQL database", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT current_database() AS name, count(*)::int AS tables FROM information_schema.tables WHERE table_schema = 'public'",
      );
      expect(rows[0].name).toBe(new URL(db.url).pathname.slice(1));
      expect(rows[0].tables).toBe(0);
    } finally {
      await client.end();
    }
  });

  it("runs nats-server with JetStream enabled", async () => {
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
    } finally {
      await nc.close();
    }
  });

  it("runs an S3-compatible server that round-trips objects", async () => {
    const s3 = new S3Client({
      endpoint: testInfra().s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    try {
      const bucket = uniqueId("b");
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: "hello", ContentType: "text/plain" }));
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" }));
      expect(await object.Body?.transformToString()).toBe("hello");
    } finally {
      s3.destroy();
    }
  });
});
