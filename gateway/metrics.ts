import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { LoadShedder } from "./shedding.js";
import { circuitState, type Upstreams } from "./upstreams.js";

/** Prometheus metrics of the gateway, served by lib/runtime's metrics server. */
export interface GatewayMetrics {
  request(labels: { protocol: string; route: string; status: number }, seconds: number): void;
  refused(reason: string): void;
}

export function createGatewayMetrics(registry: Registry, shedder: LoadShedder, upstreams: Upstreams): GatewayMetrics {
  const requests = new Counter({
    name: "gateway_requests_total",
    help: "Requests answered, by protocol (rest, connect, grpc, grpc-web), route and HTTP status",
    labelNames: ["protocol", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "gateway_request_duration_seconds",
    help: "Time to answer a request (streams: until they end)",
    labelNames: ["protocol", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const refused = new Counter({
    name: "gateway_refused_total",
    help: "Requests refused before reaching an upstream, by reason (shed, global_rate, principal_rate, unauthenticated)",
    labelNames: ["reason"],
    registers: [registry],
  });
  new Gauge({
    name: "gateway_in_flight_requests",
    help: "Requests being served (tracking streams excluded)",
    registers: [registry],
    collect() {
      this.set(shedder.inFlight);
    },
  });
  new Gauge({
    name: "gateway_open_streams",
    help: "Open tracking streams (SSE and WatchOrder)",
    registers: [registry],
    collect() {
      this.set(shedder.streams);
    },
  });
  new Gauge({
    name: "gateway_upstream_circuit_open",
    help: "1 while the circuit breaker of an upstream is open (failing fast), 0.5 half-open, else 0",
    labelNames: ["upstream"],
    registers: [registry],
    collect() {
      for (const [name, client] of Object.entries(upstreams)) {
        const state = circuitState(client);
        this.set({ upstream: name }, state === "open" ? 1 : state === "half_open" ? 0.5 : 0);
      }
    },
  });
  return {
    request(labels, seconds) {
      requests.inc({ ...labels, status: String(labels.status) });
      duration.observe({ protocol: labels.protocol, route: labels.route }, seconds);
    },
    refused(reason) {
      refused.inc({ reason });
    },
  };
}
