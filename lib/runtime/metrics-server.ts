import { createServer, type Server } from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";

export interface MetricsServer {
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text: process and Node.js runtime metrics plus whatever the
 * service registers) and `/healthz` (200 only while `ready()` says so, else 503) on its own
 * port, so scraping and probes never compete with RPC traffic.
 */
export async function startMetricsServer(options: {
  port: number;
  /** Interface to bind (default loopback). */
  host?: string;
  service: string;
  ready: () => boolean;
  /** Extra fields of the /healthz answer, e.g. which dependency is unreachable. */
  details?: () => Record<string, unknown>;
}): Promise<MetricsServer> {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const server: Server = createServer(async (req, res) => {
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (req.url === "/metrics") {
      res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
    } else if (req.url === "/healthz") {
      const ready = options.ready();
      res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: ready ? "SERVING" : "NOT_SERVING", ...options.details?.() }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    registry,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
