import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import type { CallOptions } from "../../lib/grpc/index.js";
import type { Principal } from "../auth.js";

/**
 * One call through the public API, whichever door it came in by (Connect, gRPC, gRPC-Web or a
 * REST route): who is calling and when to give up.
 */
export interface Call {
  readonly principal: Principal;
  /** Aborted when the client goes away or the gateway shuts down; cancels the upstream call. */
  readonly signal: AbortSignal;
  /** The request's Idempotency-Key header, if any (CreateOrder passes it to the order service). */
  readonly idempotencyKey?: string;
}

type Rpc<K extends string, I, O> = { methodKind: K; input: I; output: O };

type ApiMethod<M> =
  M extends Rpc<"unary", infer I extends DescMessage, infer O extends DescMessage>
    ? (request: MessageShape<I>, call: Call) => Promise<MessageShape<O>>
    : M extends Rpc<"server_streaming", infer I extends DescMessage, infer O extends DescMessage>
      ? (request: MessageShape<I>, call: Call) => AsyncIterable<MessageShape<O>>
      : M extends Rpc<"client_streaming", infer I extends DescMessage, infer O extends DescMessage>
        ? (requests: AsyncIterable<MessageShape<I>>, call: Call) => Promise<MessageShape<O>>
        : never;

/**
 * The public API of service `S` as the gateway offers it: every RPC, with authorization and
 * ownership enforced, forwarding to the upstream. Connect routes and REST routes both call it,
 * so the rules exist once.
 */
export type Api<S extends DescService> = { [K in keyof S["method"]]: ApiMethod<S["method"][K]> };

/** Upstream call options of `call`: its cancellation. Trace context comes from the active context. */
export function upstreamOptions(call: Call): CallOptions {
  return { signal: call.signal };
}
