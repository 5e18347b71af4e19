import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { trace } from "@opentelemetry/api";
import { setupTelemetry, shutdownTelemetry } from "./index.js";

describe("OTLP export", () => {
  let server: Server;
  const received: { url?: string; type?: string; body: Buffer }[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ url: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces", async () => {
    const { port } = server.address() as { port: number };
    setupTelemetry({ serviceName: "otlp-test", otlpEndpoint: `http://127.0.0.1:${port}` });
    trace.getTracer("t").startSpan("exported-span").end();
    await shutdownTelemetry(); // flushes the batch processor, as runMain does at exit
    expect(received.map((r) => r.url)).toContain("/v1/traces");
    // OTLP/HTTP with the JSON encoding, the exporter's default.
    expect(received.map((r) => r.type)).toContain("application/json");
    expect(Buffer.concat(received.map((r) => r.body)).toString("utf8")).toContain("exported-span");
  });
});
