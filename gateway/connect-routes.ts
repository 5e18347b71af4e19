import { type DescMethod, type DescService, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { type ConnectRouter, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "../lib/log.js";
import { CORRELATION_HEADER } from "../lib/telemetry/index.js";
import { requireStorableMessage } from "../lib/text.js";
import type { Gatekeeper } from "./admission.js";
import type { Call, PublicApi } from "./api/index.js";
import type { Principal } from "./auth.js";
import { asClientError, reclassifyDecodeErrors } from "./decode-errors.js";
import { checkCorrelationHeader, type GatewayError, toConnectError, unauthenticated } from "./errors.js";
import { IDEMPOTENCY_HEADER, type IdempotencyBackend, idempotencyKey, keyInProgress, keyReused, requestHash } from "./idempotency.js";
import { FaultService } from "../gen/shop/admin/v1/fault_pb.js";
import { type FaultAdmin, faultApi } from "./faults.js";
import { REFLECTION_PATHS, registerReflection } from "./reflection.js";
import { UPSTREAM_SERVICES } from "./upstreams.js";

/** Services the gateway implements itself (admin), besides the upstreams it fronts. */
export const GATEWAY_SERVICES = [FaultService] as const;

/**
 * The public services over Connect, gRPC and gRPC-Web (connect-node): each RPC goes through the
 * same API layer as the REST routes (authorization, ownership), then to the upstream over gRPC.
 */

/** What the server decided about a request before it reached connect (shedding, client address). */
export interface RpcRequestInfo {
  clientAddress: string;
  rejection?: GatewayError;
}

export const requestInfoKey = createContextKey<RpcRequestInfo>({ clientAddress: "unknown" }, { description: "gateway request info" });
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated principal" });

/** Every RPC path served, e.g. `/shop.order.v1.OrderService/CreateOrder`, with its kind. */
export function rpcPaths(): Map<string, "unary" | "stream"> {
  const paths = new Map<string, "unary" | "stream">();
  for (const service of [...Object.values(UPSTREAM_SERVICES), ...GATEWAY_SERVICES]) {
    for (const method of service.methods) {
      // Only WatchOrder is a long-lived tracking stream; Download and Upload end with the file.
      const tracking = method.methodKind === "server_streaming" && method.name === "WatchOrder";
      paths.set(`/${service.typeName}/${method.name}`, tracking ? "stream" : "unary");
    }
  }
  for (const path of REFLECTION_PATHS) paths.set(path, "unary");
  return paths;
}

/**
 * Runs before connect reads the request body: the shedding verdict, rate limits and the token.
 * A refusal ends the call without reading the body.
 */
export function requestGate(gatekeeper: Gatekeeper): (ctx: HandlerContext) => Promise<void> {
  return async (ctx) => {
    // First, before connect reads the body: it is what can fail to decode.
    reclassifyDecodeErrors(ctx);
    try {
      const info = ctx.values.get(requestInfoKey);
      if (info.rejection) throw info.rejection;
      checkCorrelationHeader(ctx.requestHeader.get(CORRELATION_HEADER));
      // Reflection describes only the public API: no token needed (buf curl, grpcurl).
      const required = !ctx.service.typeName.startsWith("grpc.reflection.");
      const principal = await gatekeeper.admit(ctx.requestHeader.get("authorization"), info.clientAddress, required);
      ctx.values.set(principalKey, principal);
    } catch (error) {
      throw toConnectError(error);
    }
  };
}

function callOf(ctx: HandlerContext): Call {
  const principal = ctx.values.get(principalKey);
  if (!principal) throw unauthenticated("missing bearer token");
  return { principal, signal: ctx.signal, idempotencyKey: idempotencyKey(ctx.requestHeader.get(IDEMPOTENCY_HEADER)) };
}

type AnyApi = Record<string, (...args: never[]) => unknown>;

/** A connect ServiceImpl that calls `api` and turns its errors into ConnectErrors. */
function adapt<S extends DescService>(service: S, api: AnyApi, store: IdempotencyBackend<string>, logger: Logger): ServiceImpl<S> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const fn = api[method.localName] as unknown as (input: unknown, call: Call) => unknown;
    switch (method.methodKind) {
      case "unary":
        impl[method.localName] = async (input: Message, ctx: HandlerContext) => {
          try {
            requireStorableMessage(method.input, input);
            const call = callOf(ctx);
            const run = () => fn(input, call) as Promise<Message>;
            const key = call.idempotencyKey;
            return await (key ? idempotent(store, method, input, { ...call, idempotencyKey: key }, ctx, run) : run());
          } catch (error) {
            throw toConnectError(asClientError(ctx, error), logger);
          }
        };
        break;
      case "client_streaming":
        impl[method.localName] = async (input: AsyncIterable<Message>, ctx: HandlerContext) => {
          try {
            return await (fn(storable(method, input), callOf(ctx)) as Promise<unknown>);
          } catch (error) {
            throw toConnectError(asClientError(ctx, error), logger);
          }
        };
        break;
      case "server_streaming":
        impl[method.localName] = async function* (input: Message, ctx: HandlerContext) {
          try {
            requireStorableMessage(method.input, input);
            yield* fn(input, callOf(ctx)) as AsyncIterable<unknown>;
          } catch (error) {
            throw toConnectError(asClientError(ctx, error), logger);
          }
        };
        break;
      default:
        break; // no bidi RPCs in the public API; connect answers UNIMPLEMENTED
    }
  }
  return impl as ServiceImpl<S>;
}

/** The messages of a client stream, each checked for strings no service can store. */
async function* storable(method: DescMethod, input: AsyncIterable<Message>): AsyncGenerator<Message> {
  for await (const message of input) {
    requireStorableMessage(method.input, message);
    yield message;
  }
}

export function connectRoutes(api: PublicApi, store: IdempotencyBackend<string>, logger: Logger, faults?: FaultAdmin): (router: ConnectRouter) => void {
  const serve = <S extends DescService>(router: ConnectRouter, service: S, impl: unknown) =>
    router.service(service, adapt(service, impl as AnyApi, store, logger));
  return (router) => {
    registerReflection(router, [...Object.values(UPSTREAM_SERVICES), ...GATEWAY_SERVICES]);
    serve(router, UPSTREAM_SERVICES.order, api.order);
    serve(router, UPSTREAM_SERVICES.inventory, api.inventory);
    serve(router, UPSTREAM_SERVICES.payment, api.payment);
    serve(router, UPSTREAM_SERVICES.notification, api.notification);
    serve(router, UPSTREAM_SERVICES.file, api.file);
    serve(router, UPSTREAM_SERVICES.delivery, api.delivery);
    serve(router, UPSTREAM_SERVICES.analytics, api.analytics);
    if (faults) serve(router, FaultService, faultApi(faults));
  };
}

/**
 * Idempotency-Key for unary RPCs: a replay by the same principal with the same request message
 * gets the first response (header `idempotent-replayed: true`); the same key with another
 * message is INVALID_ARGUMENT; only successful responses are kept.
 */
async function idempotent(
  store: IdempotencyBackend<string>,
  method: DescMethod,
  input: Message,
  call: Call & { idempotencyKey: string },
  ctx: HandlerContext,
  run: () => Promise<Message>,
): Promise<Message> {
  const scope = `rpc:${call.principal.sub}`;
  const hash = requestHash(method.parent.typeName, method.name, toBinary(method.input, input));
  const found = await store.claim(scope, call.idempotencyKey);
  if (found.state === "pending") throw keyInProgress();
  if (found.state === "done") {
    if (found.requestHash !== hash) throw keyReused();
    ctx.responseHeader.set("idempotent-replayed", "true");
    // Stored as base64 protobuf: the record may be read by another replica.
    return fromBinary(method.output, Buffer.from(found.value, "base64"));
  }
  try {
    const output = await run();
    await found.reservation.complete(hash, Buffer.from(toBinary(method.output, output)).toString("base64"));
    return output;
  } catch (error) {
    await found.reservation.abandon();
    throw error;
  }
}
