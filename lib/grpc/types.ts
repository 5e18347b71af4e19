import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "../log.js";

/** What a handler knows about the call it serves, besides the request. */
export interface CallContext {
  /** Request metadata (headers) as received. */
  readonly metadata: Metadata;
  /** Aborted when the client cancels, the deadline passes or the server force-closes the call. */
  readonly signal: AbortSignal;
  /** When the caller stops waiting, if it set a deadline. */
  readonly deadline?: Date;
  /** The caller's address, e.g. `ipv4:127.0.0.1:53122`. */
  readonly peer: string;
  /** The server logger with `rpc` bound; lines also carry trace and correlation ids. */
  readonly logger: Logger;
}

/** Handles a unary RPC. May return a plain init object; the server builds the message. */
export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (request: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>>;

/**
 * Handles a server-streaming RPC. The server pulls the next message only after the previous one
 * was accepted by the transport (backpressure) and stops pulling when `ctx.signal` aborts; a
 * handler that waits for something else (a subscription, a timer) should also listen to it.
 */
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

/** Handles a client-streaming RPC: consumes the requests, resolves with the single response. */
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>>;

/** The shape of a generated method descriptor of kind `K`. */
type Rpc<K extends string, I, O> = { methodKind: K; input: I; output: O };

type MethodHandler<M> =
  M extends Rpc<"unary", infer I extends DescMessage, infer O extends DescMessage>
    ? UnaryHandler<I, O>
    : M extends Rpc<"server_streaming", infer I extends DescMessage, infer O extends DescMessage>
      ? ServerStreamingHandler<I, O>
      : M extends Rpc<"client_streaming", infer I extends DescMessage, infer O extends DescMessage>
        ? ClientStreamingHandler<I, O>
        : never;

/** Method names (localName) of `S` except bidi streaming ones, which lib/grpc does not support. */
export type SupportedMethodName<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends { methodKind: "bidi_streaming" } ? never : K;
}[keyof S["method"]];

/**
 * The handlers of a generated service, by method localName (`getProduct` for `GetProduct`),
 * in the style of connect-es `ServiceImpl`: every method must be implemented, with its types.
 */
export type ServiceImplementation<S extends DescService> = string extends keyof S["method"]
  ? UntypedImplementation
  : { [K in SupportedMethodName<S>]: MethodHandler<S["method"][K]> };

/** Handlers of a service known only at runtime (a plain DescService, e.g. from a registry). */
export type UntypedImplementation = Record<string, (...args: never[]) => unknown>;

/** Per-call options of a client method. */
export interface CallOptions {
  /** Overrides the client's default deadline for this call. */
  deadlineMs?: number;
  /** Cancels the call (the caller sees CANCELLED). */
  signal?: AbortSignal;
  /** Extra request metadata. Trace context and correlation id are added from the active context. */
  metadata?: Record<string, string>;
}

/** Calls a unary RPC. */
export type UnaryCall<I extends DescMessage, O extends DescMessage> = (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>;

/** Calls a server-streaming RPC; the call starts when iteration starts, and `break` cancels it. */
export type ServerStreamingCall<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/** Calls a client-streaming RPC, sending `requests` with backpressure. */
export type ClientStreamingCall<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageInitShape<I>>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

type ClientMethod<M> =
  M extends Rpc<"unary", infer I extends DescMessage, infer O extends DescMessage>
    ? UnaryCall<I, O>
    : M extends Rpc<"server_streaming", infer I extends DescMessage, infer O extends DescMessage>
      ? ServerStreamingCall<I, O>
      : M extends Rpc<"client_streaming", infer I extends DescMessage, infer O extends DescMessage>
        ? ClientStreamingCall<I, O>
        : never;

/** A typed client of a generated service, in the style of connect-es `Client`. */
export type Client<S extends DescService> = {
  [K in SupportedMethodName<S>]: ClientMethod<S["method"][K]>;
};
