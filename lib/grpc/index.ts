// Public API of lib/grpc: grpc-js servers and clients for protobuf-es generated services.
export { hostPort, startGrpcServer, type GrpcServer, type GrpcServerOptions, type ServiceRegistration } from "./server.js";
export { createClient, type ClientOptions, type GrpcClient } from "./client.js";
export { Breaker, CircuitOpenError, createBreaker, isUpstreamFailure, throughBreaker, type BreakerOptions, type BreakerStats } from "./breaker.js";
export { Bulkhead } from "./bulkhead.js";
export { RetryBudget, type RetryOptions } from "./retry-budget.js";
export type { ServerHealth } from "./health.js";
export { methodPath, toServiceDefinition } from "./service-definition.js";
export { decodeErrorField, encodeErrorField, ERROR_FIELD_TRAILER, failedDependency, INTERNAL_MESSAGE, UPSTREAM_TRAILER, UpstreamCallError } from "./status.js";
export type {
  CallContext,
  CallOptions,
  Client,
  ClientStreamingCall,
  ClientStreamingHandler,
  ServerStreamingCall,
  ServerStreamingHandler,
  ServiceImplementation,
  UnaryCall,
  UnaryHandler,
  UntypedImplementation,
} from "./types.js";
