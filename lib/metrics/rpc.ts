import { Gauge, Histogram } from "prom-client";
import { platformRegistry } from "./registry.js";

/** Seconds; RPCs in the mesh take a millisecond or two, the slow ones seconds. */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const serverDuration = new Histogram({
  name: "rpc_server_duration_seconds",
  help: "Duration of RPCs served, by service, method and gRPC status code (OpenTelemetry rpc.server.duration)",
  labelNames: ["rpc_system", "rpc_service", "rpc_method", "rpc_grpc_status_code"],
  buckets: RPC_BUCKETS,
  registers: [platformRegistry],
});

const clientDuration = new Histogram({
  name: "rpc_client_duration_seconds",
  help: "Duration of RPCs made, by upstream, service, method and gRPC status code (OpenTelemetry rpc.client.duration)",
  labelNames: ["peer_service", "rpc_service", "rpc_method", "rpc_grpc_status_code"],
  buckets: RPC_BUCKETS,
  registers: [platformRegistry],
});

/** Records one call's duration by its status code. */
export type RpcObserver = (code: number, seconds: number) => void;

/**
 * An observer for one method, made once per method: the label sets of the 17 status codes are
 * bound on first use, so a call costs one histogram observe.
 */
function observer(histogram: Histogram, labels: Record<string, string>): RpcObserver {
  const bound: ({ observe(value: number): void } | undefined)[] = [];
  return (code, seconds) => {
    let child = bound[code];
    if (!child) child = bound[code] = histogram.labels({ ...labels, rpc_grpc_status_code: String(code) });
    child.observe(seconds);
  };
}

/** Server-side duration of `service`/`method` (`service` is the full name, `shop.order.v1.OrderService`). */
export function rpcServerObserver(service: string, method: string, system = "grpc"): RpcObserver {
  return observer(serverDuration, { rpc_system: system, rpc_service: service, rpc_method: method });
}

/** Client-side duration of calls to `upstream`. */
export function rpcClientObserver(upstream: string, service: string, method: string): RpcObserver {
  return observer(clientDuration, { peer_service: upstream, rpc_service: service, rpc_method: method });
}

/** Circuit state as a number: 0 closed, 1 half-open, 2 open. */
export type CircuitState = 0 | 1 | 2;

const breakers = new Map<string, Set<() => CircuitState>>();

new Gauge({
  name: "ordermesh_circuit_breaker_state",
  help: "State of the circuit breaker per upstream: 0 closed, 1 half-open (trying one call), 2 open (failing fast)",
  labelNames: ["upstream"],
  registers: [platformRegistry],
  collect() {
    this.reset();
    for (const [upstream, states] of breakers) {
      // Several clients of one upstream in a process: the worst state counts.
      let worst = 0;
      for (const state of states) worst = Math.max(worst, state());
      this.set({ upstream }, worst);
    }
  },
});

/** Reports a breaker's state on /metrics until the returned function is called. */
export function trackBreaker(upstream: string, state: () => CircuitState): () => void {
  let states = breakers.get(upstream);
  if (!states) breakers.set(upstream, (states = new Set()));
  states.add(state);
  return () => {
    states.delete(state);
    if (states.size === 0) breakers.delete(upstream);
  };
}
