import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "../../lib/config.js";
import { readFileConfig } from "./service.js";

describe("readFileConfig", () => {
  it("defaults to AWS S3 with the SDK's credential chain when S3_ENDPOINT is unset", () => {
    const config = readFileConfig({});
    expect(config.s3).toMatchObject({ endpoint: undefined, region: "us-east-1", bucket: "ordermesh", forcePathStyle: false, ensureBucket: true });
    expect(config.s3.credentials).toBeUndefined();
    expect(config.maxFileBytes).toBe(10 * 1024 * 1024);
    expect(config.allowedContentTypes).toEqual(["application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"]);
    expect(config.grpcPort).toBe(50055);
  });

  it("uses path-style addressing and the S3RVER keys for a local endpoint", () => {
    const config = readFileConfig({ S3_ENDPOINT: "http://127.0.0.1:4569", S3_BUCKET: "invoices", FILE_CONTENT_TYPES: " Text/Plain , image/png,text/plain" });
    expect(config.s3).toMatchObject({
      endpoint: "http://127.0.0.1:4569",
      bucket: "invoices",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    expect(config.allowedContentTypes).toEqual(["text/plain", "image/png"]);
    expect(readFileConfig({ S3_ENDPOINT: "http://minio:9000", S3_FORCE_PATH_STYLE: "false" }).s3.forcePathStyle).toBe(false);
  });

  it("names every bad setting", () => {
    expect(() => readFileConfig({ S3_ENDPOINT: "ftp://x" })).toThrow(/S3_ENDPOINT/);
    expect(() => readFileConfig({ FILE_CONTENT_TYPES: "pdf" })).toThrow(/FILE_CONTENT_TYPES/);
    expect(() => readFileConfig({ FILE_MAX_BYTES: "0" })).toThrow(/FILE_MAX_BYTES/);
    expect(() => readFileConfig({ S3_BUCKET: "Bad_Bucket" })).toThrow(/S3_BUCKET/);
    expect(() => readFileConfig({ S3_ACCESS_KEY_ID: "only-one" })).toThrow(ConfigError);
  });
});
