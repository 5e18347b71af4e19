// Public API of lib/grpc: grpc-js servers and clients for protobuf-es generated services.
export { startGrpcServer, type GrpcServer, type GrpcServerOptions, type ServiceRegistration } from "./server.js";
export { createClient, type ClientOptions, type GrpcClient } from "./client.js";
export { createBreaker, isUpstreamFailure, throughBreaker, type Breaker, type BreakerOptions } from "./breaker.js";
export type { ServerHealth } from "./health.js";
export { methodPath, toServiceDefinition } from "./service-definition.js";
export { decodeErrorField, encodeErrorField, ERROR_FIELD_TRAILER, INTERNAL_MESSAGE } from "./status.js";
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
