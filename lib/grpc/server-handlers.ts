import { once } from "node:events";
import { create, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Metadata,
  status as Code,
  type handleBidiStreamingCall,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Deadline,
  type ServerWritableStream,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { context, SpanKind } from "@opentelemetry/api";
import { invalidArgument, isInfrastructureCode, ServiceError } from "../errors.js";
import { lazyChild, type Logger } from "../log.js";
import { requireStorableMessage } from "../text.js";
import { methodName, methodPath, UndecodableRequest } from "./service-definition.js";
import { statusFromError, type HandlerStatus } from "./status.js";
import { tagOrder } from "../telemetry/index.js";
import { endSpan, serverMethodTelemetry, startServerSpan } from "./tracing.js";
import type { CallContext, ClientStreamingHandler, ServerStreamingHandler, UnaryHandler } from "./types.js";

/** The part of a grpc-js server call that every method kind has. */
interface SurfaceCall {
  /** The decoded request of unary and server-streaming calls. */
  readonly request?: Message;
  readonly cancelled: boolean;
  readonly metadata: Metadata;
  getPeer(): string;
  getDeadline(): Deadline;
  once(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

/**
 * grpc-js handlers for every method of `service`, keyed like `toServiceDefinition`. Throws when
 * the implementation lacks a method, so a missing handler fails at startup, not at the first call.
 * Bidi streaming methods answer UNIMPLEMENTED: lib/grpc has no handler type for them.
 */
export function createHandlers(service: DescService, implementation: object, logger: Logger): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    if (method.methodKind === "bidi_streaming") {
      logger.warn({ rpc: methodName(method) }, "bidi streaming is not supported by lib/grpc: answering UNIMPLEMENTED");
      handlers[method.localName] = bidiUnsupported(method);
      continue;
    }
    const handler: unknown = (implementation as Record<string, unknown>)[method.localName];
    if (typeof handler !== "function") {
      throw new Error(`${service.typeName}: the implementation has no ${method.localName}() for rpc ${method.name}`);
    }
    // Bound, so handlers written as class methods keep their `this`.
    handlers[method.localName] = adapt(method, handler.bind(implementation), logger);
  }
  return handlers;
}

function adapt(method: DescMethod, handler: (...args: never[]) => unknown, logger: Logger): UntypedHandleCall {
  switch (method.methodKind) {
    case "unary":
      return unary(method, handler as UnaryHandler<DescMessage, DescMessage>, logger);
    case "server_streaming":
      return serverStreaming(method, handler as ServerStreamingHandler<DescMessage, DescMessage>, logger);
    case "client_streaming":
      return clientStreaming(method, handler as ClientStreamingHandler<DescMessage, DescMessage>, logger);
    default:
      return bidiUnsupported(method);
  }
}

function unary(method: DescMethod, handler: UnaryHandler<DescMessage, DescMessage>, logger: Logger): handleUnaryCall<Message, Message> {
  return (call, callback) => {
    // `create` inside runCall, so a response the schema rejects is logged as a handler bug.
    runCall(method, call, logger, async (ctx) => create(method.output, await handler(checkedRequest(method, call.request), ctx))).then(
      (response) => callback(null, response),
      (status: HandlerStatus) => callback(status),
    );
  };
}

function serverStreaming(
  method: DescMethod,
  handler: ServerStreamingHandler<DescMessage, DescMessage>,
  logger: Logger,
): handleServerStreamingCall<Message, Message> {
  return (call) => {
    runCall(method, call, logger, async (ctx) => {
      // Headers right away: the client learns the stream is up before the first message, which
      // may be long in coming (WatchOrder), and its circuit breaker waits for exactly that.
      const request = checkedRequest(method, call.request);
      call.sendMetadata(new Metadata());
      await pipeToCall(handler(request, ctx), call, method.output, ctx.signal);
    }).then(
      () => call.end(),
      // grpc-js turns an 'error' event on a server stream into the call's final status.
      (status: HandlerStatus) => call.emit("error", status),
    );
  };
}

function clientStreaming(
  method: DescMethod,
  handler: ClientStreamingHandler<DescMessage, DescMessage>,
  logger: Logger,
): handleClientStreamingCall<Message, Message> {
  return (call, callback) => {
    // The call is an object-mode Readable: async iterable, with backpressure towards the client.
    const requests = checkedRequests(method, call as AsyncIterable<Message>);
    runCall(method, call, logger, async (ctx) => create(method.output, await handler(requests, ctx))).then(
      (response) => callback(null, response),
      (status: HandlerStatus) => callback(status),
    );
  };
}

/**
 * The request as the handler may use it: decodable, and every string storable (no NUL, no
 * unpaired surrogate), else INVALID_ARGUMENT naming the field. Once here, for every RPC.
 */
function checkedRequest(method: DescMethod, request: Message | UndecodableRequest): Message {
  if (request instanceof UndecodableRequest) {
    throw invalidArgument("request", `is not a valid ${request.typeName} message: ${request.reason}`);
  }
  requireStorableMessage(method.input, request);
  return request;
}

async function* checkedRequests(method: DescMethod, requests: AsyncIterable<Message | UndecodableRequest>): AsyncGenerator<Message> {
  for await (const request of requests) yield checkedRequest(method, request);
}

function bidiUnsupported(method: DescMethod): handleBidiStreamingCall<Message, Message> {
  return (call) => {
    const details = `${methodPath(method)}: bidi streaming is not supported by this server`;
    call.emit("error", { code: Code.UNIMPLEMENTED, details });
  };
}

/**
 * Runs one call's handler in its SERVER span, with the caller's correlation id and an abort
 * signal, and settles with the handler's result or rejects with the status to send.
 */
async function runCall<T>(method: DescMethod, call: SurfaceCall, logger: Logger, body: (ctx: CallContext) => Promise<T>): Promise<T> {
  const telemetry = serverMethodTelemetry(method);
  const started = performance.now();
  const request = call.request && telemetry.requestOrderId?.(call.request);
  const { span, ctx: spanContext, orderId } = startServerSpan(method, call.metadata, request);
  const abort = new AbortController();
  const onCancelled = () => abort.abort(new ServiceError(Code.CANCELLED, "call cancelled"));
  call.once("cancelled", onCancelled);
  if (call.cancelled) onCancelled();
  const deadline = deadlineOf(call);
  // grpc-js answers DEADLINE_EXCEEDED by itself but does not tell the handler; this does.
  const onDeadline = () => abort.abort(new ServiceError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
  const deadlineTimer = deadline ? setTimeout(onDeadline, deadline.getTime() - Date.now()) : undefined;
  const ctx: CallContext = {
    metadata: call.metadata,
    signal: abort.signal,
    deadline,
    peer: call.getPeer(),
    logger: lazyChild(logger, { rpc: methodName(method) }),
  };
  return context.with(spanContext, async () => {
    try {
      const result = await body(ctx);
      // CreateOrder and friends: the order id exists only in the answer.
      if (!orderId && result && telemetry.responseOrderId) tagOrder(telemetry.responseOrderId(result as unknown as Message), span);
      endSpan(span, SpanKind.SERVER, Code.OK);
      telemetry.observe(Code.OK, (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      const status = statusFromError(err, abort.signal.aborted ? (abort.signal.reason as ServiceError) : undefined);
      logOutcome(ctx.logger, status, err);
      endSpan(span, SpanKind.SERVER, status.code, status.details, status.expected ? undefined : err);
      telemetry.observe(status.code, (performance.now() - started) / 1000);
      throw status;
    } finally {
      clearTimeout(deadlineTimer);
      call.removeListener("cancelled", onCancelled);
    }
  });
}

function logOutcome(logger: Logger, status: HandlerStatus, err: unknown): void {
  if (!status.expected) {
    // The only place the real error is visible: the caller got "internal error".
    logger.error({ err }, "handler failed");
  } else if (isInfrastructureCode(status.code)) {
    logger.warn({ code: Code[status.code], details: status.details }, "call failed");
  } else {
    logger.debug({ code: Code[status.code], details: status.details }, "call failed");
  }
}

/** Writes each message of `source` to the call, waiting for the transport when its buffer is full. */
async function pipeToCall(
  source: AsyncIterable<MessageInitShape<DescMessage>>,
  call: ServerWritableStream<Message, Message>,
  schema: DescMessage,
  signal: AbortSignal,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      // Racing the signal: a cancelled call ends now, even if the handler is blocked on an await.
      const next = await untilAborted(iterator.next(), signal);
      if (next.done) {
        exhausted = true;
        return;
      }
      if (!call.write(create(schema, next.value))) await once(call, "drain", { signal });
    }
  } finally {
    // Leaving early: ask the generator to stop, which runs its `finally` blocks (unsubscribe,
    // release) as soon as its pending await settles. Not awaited, since that await may be long.
    if (!exhausted) Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/** `promise`, or a rejection with the signal's reason if the signal aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    // Always attached, so a rejection after the abort is not reported as unhandled.
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

function deadlineOf(call: SurfaceCall): Date | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}
