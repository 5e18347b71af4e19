/**
 * Every Prometheus metric of the platform, defined in one place: RPC durations and breaker
 * states (lib/grpc, gateway), consumer counters and pending counts (lib/events), outbox depth
 * and DLQ size (sampled by lib/runtime), and the order service's business counters.
 */
export { labelProcess, platformRegistry } from "./registry.js";
export { type CircuitState, rpcClientObserver, type RpcObserver, rpcServerObserver, trackBreaker } from "./rpc.js";
export { consumerMetrics, type ConsumerMetrics, setConsumerPending, setDeadLetters, setOutbox } from "./events.js";
export { orderMetrics } from "./orders.js";
