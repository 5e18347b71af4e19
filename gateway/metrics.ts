import { performance } from "node:perf_hooks";
import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type RpcObserver, rpcServerObserver } from "../lib/metrics/index.js";
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

const observers = new WeakMap<DescMethod, Record<"grpc" | "connect_rpc", RpcObserver>>();

function observerOf(method: DescMethod, system: "grpc" | "connect_rpc"): RpcObserver {
  let pair = observers.get(method);
  if (!pair) {
    pair = {
      grpc: rpcServerObserver(method.parent.typeName, method.name, "grpc"),
      connect_rpc: rpcServerObserver(method.parent.typeName, method.name, "connect_rpc"),
    };
    observers.set(method, pair);
  }
  return pair[system];
}

/**
 * Records every RPC the gateway serves (Connect, gRPC, gRPC-Web) in rpc_server_duration_seconds
 * by method and status code, like lib/grpc does for the services. Streams are timed until
 * they are established (their length says nothing about the gateway).
 */
export function rpcDurationInterceptor(): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const system = req.header.get("content-type")?.startsWith("application/grpc") ? "grpc" : "connect_rpc";
    const observe = observerOf(req.method, system);
    try {
      const res = await next(req);
      observe(0 /* OK */, (performance.now() - started) / 1000);
      return res;
    } catch (error) {
      observe(ConnectError.from(error).code, (performance.now() - started) / 1000);
      throw error;
    }
  };
}
