import { once } from "node:events";
import { create, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Client as Channel,
  credentials,
  status as Code,
  type ChannelOptions,
  type ClientReadableStream,
  type ClientWritableStream,
  type Metadata,
  type ServiceError as CallError,
} from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { ServiceError } from "../errors.js";
import { trackBreaker } from "../metrics/index.js";
import { getCorrelationId, tagOrder } from "../telemetry/index.js";
import type { Logger } from "../log.js";
import { createBreaker, throughBreaker, type Breaker, type BreakerOptions } from "./breaker.js";
import { Bulkhead } from "./bulkhead.js";
import { backoffMs, RetryBudget, type RetryOptions } from "./retry-budget.js";
import { deserializer, methodPath, serializer } from "./service-definition.js";
import { toServiceError, UpstreamCallError } from "./status.js";
import { clientMethodTelemetry, endSpan, type MethodTelemetry, outgoingMetadata, startClientSpan } from "./tracing.js";
import { MAX_MESSAGE_BYTES } from "./limits.js";
import type { CallOptions, Client, ClientStreamingCall, ServerStreamingCall, UnaryCall } from "./types.js";

export interface ClientOptions {
  /** Name of the upstream, for errors, logs, spans (`peer.service`) and the breaker. */
  name: string;
  /** Deadline of unary calls (default 5 s). */
  deadlineMs?: number;
  /** Deadline of streaming calls (default 15 min): they also always end, but run longer. */
  streamDeadlineMs?: number;
  breaker?: BreakerOptions;
  /**
   * Unary calls in flight at once (default unlimited). Further calls queue in this process; time
   * spent there is not the upstream's fault, and a call whose deadline passes there fails
   * UNAVAILABLE without counting against the breaker.
   */
  maxInFlight?: number;
  /** The longest a call waits for one of the `maxInFlight` slots (default: half its deadline). */
  maxQueueMs?: number;
  /** Retries of unary calls that never reached the upstream, with jitter and a budget (default off). */
  retry?: RetryOptions;
  logger?: Logger;
  /** grpc-js channel options, merged over the defaults below. */
  channelOptions?: ChannelOptions;
}

/** A typed client plus the handles of its connection and circuit breaker. */
export type GrpcClient<S extends DescService> = Client<S> & {
  /** Closes the channel and shuts the breaker down; later calls fail with UNAVAILABLE. */
  close(): void;
  /** The circuit breaker guarding this upstream (state, stats, events). */
  readonly breaker: Breaker;
};

const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  // Detect a dead connection (upstream pod killed without FIN) while calls are waiting on it.
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  // Reconnect attempts stay within the breaker's reset timeout, so its trial call can reach a
  // recovered upstream instead of failing on a channel still backing off.
  "grpc.max_reconnect_backoff_ms": 5_000,
  // Retries are the mesh's job; a retry policy picked up from DNS would multiply attempts.
  "grpc.service_config_disable_resolution": 1,
};

const DEFAULT_DEADLINE_MS = 5_000;
const DEFAULT_STREAM_DEADLINE_MS = 15 * 60_000;

/** Everything the call functions of one client share. */
interface Upstream {
  readonly name: string;
  readonly channel: Channel;
  readonly breaker: Breaker;
  readonly bulkhead?: Bulkhead;
  readonly retry: Required<Pick<RetryOptions, "maxAttempts" | "baseDelayMs" | "maxDelayMs">>;
  readonly budget: RetryBudget;
  /** The absolute deadline of a call starting now. */
  deadline(options: CallOptions, streaming: boolean): Date;
}

/**
 * A typed client for `service` at `address` (`host:port`). Every call has a deadline, runs in a
 * CLIENT span whose context (and the correlation id) travels in the metadata, and goes through
 * one circuit breaker per client that counts only failures of this hop (not those the upstream
 * blames on its own upstreams). Errors are UpstreamCallErrors (ServiceErrors) with the upstream's
 * code and message. Optionally unary calls are bounded in flight (`maxInFlight`) and retried
 * when they never reached the upstream (`retry`); where the mesh retries, leave retries off, or
 * attempts multiply.
 */
export function createClient<S extends DescService>(service: S, address: string, options: ClientOptions): GrpcClient<S> {
  const channelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...options.channelOptions };
  const channel = new Channel(address, credentials.createInsecure(), channelOptions);
  const breaker = createBreaker(options.name, options.breaker, options.logger);
  const untrack = trackBreaker(options.name, () => (breaker.halfOpen ? 1 : breaker.opened ? 2 : 0));
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const streamDeadlineMs = options.streamDeadlineMs ?? DEFAULT_STREAM_DEADLINE_MS;
  const maxDeadlineMs = options.breaker?.timeoutMs ?? Infinity;
  const retry = options.retry ?? {};
  const upstream: Upstream = {
    name: options.name,
    channel,
    breaker,
    bulkhead: options.maxInFlight ? new Bulkhead(options.name, options.maxInFlight, options.maxQueueMs) : undefined,
    retry: { maxAttempts: Math.max(1, retry.maxAttempts ?? 1), baseDelayMs: retry.baseDelayMs ?? 50, maxDelayMs: retry.maxDelayMs ?? 1_000 },
    budget: new RetryBudget(retry.budgetTokens, retry.budgetRatio),
    deadline: (callOptions, streaming) => {
      const ms = streaming ? (callOptions.deadlineMs ?? streamDeadlineMs) : Math.min(callOptions.deadlineMs ?? deadlineMs, maxDeadlineMs);
      return new Date(Date.now() + ms);
    },
  };

  const methods: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.localName === "close" || method.localName === "breaker") {
      throw new Error(`${service.typeName}: rpc ${method.name} collides with GrpcClient.${method.localName}`);
    }
    switch (method.methodKind) {
      case "unary":
        methods[method.localName] = unaryCall(upstream, method);
        break;
      case "server_streaming":
        methods[method.localName] = serverStreamingCall(upstream, method);
        break;
      case "client_streaming":
        methods[method.localName] = clientStreamingCall(upstream, method);
        break;
      // bidi_streaming: not supported; `Client<S>` has no such key.
    }
  }
  return Object.assign(methods, {
    breaker,
    close() {
      channel.close();
      breaker.shutdown();
      untrack();
    },
  }) as GrpcClient<S>;
}

function unaryCall(upstream: Upstream, method: DescMethod): UnaryCall<DescMessage, DescMessage> {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  const telemetry = clientMethodTelemetry(upstream.name, method);
  return async (request, options = {}) => {
    // Built here so that bad input fails in the caller, never as an upstream failure.
    const message = create(method.input, request);
    return traced(upstream, method, telemetry, message, options, (metadata) =>
      withRetries(upstream, method, options, (deadline) =>
        throughBreaker(
          upstream.breaker,
          () =>
            new Promise<Message>((resolve, reject) => {
              // Runs only on abort, which is listened for once `call` exists.
              const cancel = () => call.cancel();
              const callback = (err: CallError | null, response?: Message) => {
                options.signal?.removeEventListener("abort", cancel);
                if (err) reject(toServiceError(err, upstream.name));
                else resolve(response as Message);
              };
              const call = upstream.channel.makeUnaryRequest(path, serialize, deserialize, message, metadata, { deadline }, callback);
              options.signal?.addEventListener("abort", cancel, { once: true });
            }),
        ),
      ),
    );
  };
}

/** grpc-js details of a call that failed before its request left this process. */
const NOT_SENT = /No connection established|Failed to connect|ECONNREFUSED|Name resolution failed|getaddrinfo|ENOTFOUND/i;

/**
 * Whether a failed attempt may be tried again: UNAVAILABLE from this hop itself (not blamed on a
 * dependency, not refused locally by an open circuit), and either the request never left (safe
 * for any method) or the method is declared free of side effects.
 */
function retryable(error: unknown, method: DescMethod): boolean {
  if (!(error instanceof UpstreamCallError) || error.code !== Code.UNAVAILABLE || error.dependency || error.local) return false;
  // 0 is IDEMPOTENCY_UNKNOWN; NO_SIDE_EFFECTS (1) and IDEMPOTENT (2) may be repeated.
  return NOT_SENT.test(error.message) || method.idempotency !== 0;
}

/**
 * One unary call: waits for a slot (bulkhead), then runs `attempt` until it succeeds, fails in a
 * way not worth retrying, runs out of attempts or budget, or the next backoff would pass the
 * deadline. All attempts share the call's one deadline.
 */
async function withRetries<T>(upstream: Upstream, method: DescMethod, options: CallOptions, attempt: (deadline: Date) => Promise<T>): Promise<T> {
  const deadline = upstream.deadline(options, false);
  const release = upstream.bulkhead ? await upstream.bulkhead.acquire(deadline, options.signal) : undefined;
  try {
    for (let n = 1; ; n++) {
      try {
        const result = await attempt(deadline);
        upstream.budget.onSuccess();
        return result;
      } catch (error) {
        if (!retryable(error, method)) throw error;
        const withinBudget = upstream.budget.onRetryableFailure();
        if (n >= upstream.retry.maxAttempts || !withinBudget || options.signal?.aborted) throw error;
        const wait = backoffMs(n, upstream.retry.baseDelayMs, upstream.retry.maxDelayMs);
        if (Date.now() + wait >= deadline.getTime()) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  } finally {
    release?.();
  }
}

function clientStreamingCall(upstream: Upstream, method: DescMethod): ClientStreamingCall<DescMessage, DescMessage> {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  const telemetry = clientMethodTelemetry(upstream.name, method);
  return (requests, options = {}) =>
    traced(upstream, method, telemetry, undefined, options, (metadata) =>
      throughBreaker(
        upstream.breaker,
        () =>
          new Promise<Message>((resolve, reject) => {
            // Aborted when the call is over, to stop pulling from `requests`.
            const over = new AbortController();
            // Set when `requests` itself fails: the caller gets that error, not our CANCELLED.
            let sourceError: { error: unknown } | undefined;
            const cancel = () => call.cancel();
            const deadline = upstream.deadline(options, true);
            const callback = (err: CallError | null, response?: Message) => {
              over.abort();
              options.signal?.removeEventListener("abort", cancel);
              if (sourceError) reject(sourceError.error);
              else if (err) reject(toServiceError(err, upstream.name));
              else resolve(response as Message);
            };
            const call = upstream.channel.makeClientStreamRequest(path, serialize, deserialize, metadata, { deadline }, callback);
            options.signal?.addEventListener("abort", cancel, { once: true });
            sendAll(requests, call, method.input, over.signal).catch((error: unknown) => {
              if (over.signal.aborted) return;
              sourceError = { error };
              cancel();
            });
          }),
      ),
    );
}

/** Writes every request, waiting for the transport when its buffer is full, then half-closes. */
async function sendAll(
  requests: AsyncIterable<MessageInitShape<DescMessage>>,
  call: ClientWritableStream<MessageInitShape<DescMessage>>,
  schema: DescMessage,
  over: AbortSignal,
): Promise<void> {
  for await (const request of requests) {
    // The server answered early (often an error): stop, which also ends the caller's generator.
    if (over.aborted) return;
    if (!call.write(create(schema, request))) await once(call, "drain", { signal: over });
  }
  call.end();
}

function serverStreamingCall(upstream: Upstream, method: DescMethod): ServerStreamingCall<DescMessage, DescMessage> {
  const telemetry = clientMethodTelemetry(upstream.name, method);
  return (request, options = {}) => receiveAll(upstream, method, telemetry, request, options);
}

/**
 * The responses of a server-streaming call. As a generator it starts the call on the first
 * `next()`, and a consumer that stops early (`break`) cancels the call through `finally`.
 * The breaker guards establishing the stream; errors after that reach the consumer uncounted.
 */
async function* receiveAll(
  upstream: Upstream,
  method: DescMethod,
  telemetry: MethodTelemetry,
  request: MessageInitShape<DescMessage>,
  options: CallOptions,
): AsyncGenerator<Message> {
  const message = create(method.input, request);
  throwIfAborted(method, options.signal);
  const started = performance.now();
  const { span, ctx } = startClientSpan(method, upstream.name, context.active(), telemetry.requestOrderId?.(message));
  let call: ClientReadableStream<Message> | undefined;
  const cancel = () => call?.cancel();
  options.signal?.addEventListener("abort", cancel, { once: true });
  // Until the stream completes or fails, leaving means the consumer stopped early.
  let outcome: { code: Code; details?: string } = { code: Code.CANCELLED, details: "consumer stopped" };
  try {
    const metadata = outgoingMetadata(ctx, options.metadata);
    const deadline = upstream.deadline(options, true);
    const open = () => openStream(upstream, method, message, metadata, deadline, options.signal);
    call = await throughBreaker(upstream.breaker, open);
    // Aborted in the instant between the stream opening and `call` being set.
    if (options.signal?.aborted) call.cancel();
    for await (const response of call) yield response;
    outcome = { code: Code.OK };
  } catch (err) {
    const error = toServiceError(err, upstream.name);
    outcome = error instanceof ServiceError ? { code: error.code, details: error.message } : { code: Code.UNKNOWN };
    throw error;
  } finally {
    options.signal?.removeEventListener("abort", cancel);
    if (outcome.code !== Code.OK) call?.cancel();
    endSpan(span, SpanKind.CLIENT, outcome.code, outcome.details);
    telemetry.observe(outcome.code, (performance.now() - started) / 1000);
  }
}

/**
 * Starts the call and resolves once the server has answered with headers (or ended cleanly),
 * which is what the breaker measures; `signal` cancels it while it waits for them.
 */
function openStream(
  upstream: Upstream,
  method: DescMethod,
  message: Message,
  metadata: Metadata,
  deadline: Date,
  signal: AbortSignal | undefined,
): Promise<ClientReadableStream<Message>> {
  return new Promise<ClientReadableStream<Message>>((resolve, reject) => {
    const call = upstream.channel.makeServerStreamRequest(methodPath(method), serializer(method.input), deserializer(method.output), message, metadata, {
      deadline,
    });
    const cancel = () => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    const settle = (outcome: () => void) => {
      signal?.removeEventListener("abort", cancel);
      outcome();
    };
    // Errors reach the consumer through iteration. This no-op keeps one that arrives while
    // nobody iterates (the consumer broke out, then we cancelled) from being an uncaught 'error'.
    call.on("error", () => undefined);
    call.once("error", (err) => settle(() => reject(toServiceError(err, upstream.name))));
    call.once("metadata", () => settle(() => resolve(call)));
    call.once("status", (status) => {
      if (status.code === Code.OK) settle(() => resolve(call));
    });
  });
}

/**
 * Runs one unary or client-streaming call in a CLIENT span, with the span's context and the
 * correlation id in its metadata, and records its duration. When only the response names the
 * order (CreateOrder), the client span and the caller's span get its id.
 */
async function traced<T extends Message>(
  upstream: Upstream,
  method: DescMethod,
  telemetry: MethodTelemetry,
  request: Message | undefined,
  options: CallOptions,
  run: (metadata: Metadata) => Promise<T>,
): Promise<T> {
  throwIfAborted(method, options.signal);
  const started = performance.now();
  const parent = context.active();
  const { span, ctx, orderId } = startClientSpan(method, upstream.name, parent, request && telemetry.requestOrderId?.(request));
  try {
    const result = await context.with(ctx, () => run(outgoingMetadata(ctx, options.metadata)));
    let learned = orderId;
    if (!learned && telemetry.responseOrderId) {
      learned = telemetry.responseOrderId(result);
      tagOrder(learned, span);
    }
    // A caller that did not know its order (the gateway's span of GET /deliveries/{id}) learns it here.
    if (learned && !getCorrelationId(parent)) tagOrder(learned, trace.getSpan(parent));
    endSpan(span, SpanKind.CLIENT, Code.OK);
    telemetry.observe(Code.OK, (performance.now() - started) / 1000);
    return result;
  } catch (err) {
    const code = err instanceof ServiceError ? err.code : Code.UNKNOWN;
    if (err instanceof ServiceError) endSpan(span, SpanKind.CLIENT, err.code, err.message);
    else endSpan(span, SpanKind.CLIENT, Code.UNKNOWN, "caller error", err);
    telemetry.observe(code, (performance.now() - started) / 1000);
    throw err;
  }
}

/** A call cancelled before it starts never reaches the breaker (where it would count as a success). */
function throwIfAborted(method: DescMethod, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ServiceError(Code.CANCELLED, `${method.name} cancelled before it started`);
}
