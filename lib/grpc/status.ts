import { Metadata, status as Code, type ServiceError as GrpcCallError, type StatusObject } from "@grpc/grpc-js";
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from "../db/connection-errors.js";
import { isInfrastructureCode, ServiceError } from "../errors.js";

/** Trailer that carries `ServiceError.field`, so the caller's ServiceError names the field too. */
export const ERROR_FIELD_TRAILER = "x-error-field";
/** Trailer that carries `ServiceError.retryAfterSeconds` to the caller (and so to Retry-After). */
export const RETRY_AFTER_TRAILER = "x-retry-after";

/**
 * Trailer naming the upstream whose failure made this call fail: "I am fine, my dependency is
 * not". A caller's breaker does not count such errors against the hop it guards.
 */
export const UPSTREAM_TRAILER = "ordermesh-upstream";

/**
 * The error of a call to upstream `upstream`. `dependency` is set when the upstream answered but
 * said that one of ITS upstreams failed (the UPSTREAM_TRAILER); `local` when the call never left
 * this process (refused by our own limits).
 */
export class UpstreamCallError extends ServiceError {
  constructor(
    code: Code,
    message: string,
    field: string | undefined,
    readonly upstream: string,
    readonly dependency?: string,
    readonly local = false,
    retryAfterSeconds?: number,
  ) {
    super(code, message, field, retryAfterSeconds);
    this.name = "UpstreamCallError";
  }
}

/**
 * A field path as an ASCII metadata value. Paths can carry client input (an unknown JSON key, a
 * map key), and grpc-js throws on a value outside printable ASCII, so anything else, and `%`
 * itself, is percent-encoded as UTF-8 (the encoding grpc-message uses). Capped, since a
 * header is no place for a client's megabyte.
 */
export function encodeErrorField(field: string): string {
  const capped = field.length > 200 ? `${field.slice(0, 200)}...` : field;
  // Unpaired surrogates would make encodeURIComponent throw: replace them first.
  const wellFormed = capped.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  return wellFormed.replace(/[^\x20-\x24\x26-\x7e]+/g, (run) => encodeURIComponent(run));
}

/** The field path written by {@link encodeErrorField}; a value that does not decode is kept as is. */
export function decodeErrorField(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The message callers see for any error that is not a ServiceError. */
export const INTERNAL_MESSAGE = "internal error";

/** A handler outcome as it goes on the wire, and whether the handler meant it. */
export interface HandlerStatus extends StatusObject {
  /** False when the handler threw something other than a ServiceError: a bug or an outage to log. */
  readonly expected: boolean;
}

/**
 * The status a server sends for an error a handler threw. A ServiceError goes out as it is;
 * anything else becomes INTERNAL with a fixed message, since its text may contain SQL, hostnames
 * or user data, except that a database that cannot be reached is UNAVAILABLE. `cancelledBy` is the reason the call was aborted, if it was: errors caused by the
 * abort (a failed write, an AbortError) are reported as that reason rather than as bugs.
 */
export function statusFromError(err: unknown, cancelledBy?: ServiceError): HandlerStatus {
  const status = ownStatus(err, cancelledBy);
  // Failed because a call this handler made failed: say whose fault it is, so our callers'
  // breakers leave us out of it. A deadline of that inner call is an outage to our caller.
  const dependency = isInfrastructureCode(status.code) ? failedDependency(err) : undefined;
  if (dependency) {
    status.metadata.set(UPSTREAM_TRAILER, dependency);
    if (status.code === Code.DEADLINE_EXCEEDED) return { ...status, code: Code.UNAVAILABLE };
  }
  return status;
}

function ownStatus(err: unknown, cancelledBy?: ServiceError): HandlerStatus {
  if (err instanceof ServiceError && err.code !== Code.OK) {
    const metadata = new Metadata();
    if (err.field) metadata.set(ERROR_FIELD_TRAILER, encodeErrorField(err.field));
    if (err.retryAfterSeconds !== undefined) metadata.set(RETRY_AFTER_TRAILER, String(err.retryAfterSeconds));
    return { code: err.code, details: err.message, metadata, expected: true };
  }
  if (cancelledBy) {
    return { code: cancelledBy.code, details: cancelledBy.message, metadata: new Metadata(), expected: true };
  }
  // An outage, not a bug: the caller should retry later, and a gateway answers 503 + Retry-After.
  if (isDatabaseUnavailable(err)) {
    return { code: Code.UNAVAILABLE, details: DATABASE_UNAVAILABLE_MESSAGE, metadata: new Metadata(), expected: true };
  }
  return { code: Code.INTERNAL, details: INTERNAL_MESSAGE, metadata: new Metadata(), expected: false };
}

/**
 * The upstream to blame for `err`: the deepest dependency named by an upstream call error with an
 * infrastructure code found in `err` or its `cause` chain (handlers often wrap what a client
 * threw: `causedBy(unavailable("inventory unavailable"), error)`).
 */
export function failedDependency(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const marked = current as { upstream?: unknown; dependency?: unknown; code?: unknown };
    if (typeof marked.upstream === "string" && current instanceof ServiceError && isInfrastructureCode(current.code)) {
      return typeof marked.dependency === "string" && marked.dependency ? marked.dependency : marked.upstream;
    }
    current = current.cause;
  }
  return undefined;
}

/** True for the error objects grpc-js hands to client callbacks and stream listeners. */
export function isGrpcCallError(err: unknown): err is GrpcCallError {
  return err instanceof Error && typeof (err as Partial<GrpcCallError>).code === "number" && "details" in err;
}

/**
 * The ServiceError a client surfaces for a failed call: the upstream code and its details
 * message (without grpc-js's "14 UNAVAILABLE: " prefix), and the field named by the upstream.
 * Anything that is not a call error is returned unchanged.
 */
export function toServiceError(err: unknown, upstream = "upstream"): unknown {
  if (err instanceof ServiceError || !isGrpcCallError(err)) return err;
  const field = err.metadata?.get(ERROR_FIELD_TRAILER)[0];
  const dependency = err.metadata?.get(UPSTREAM_TRAILER)[0];
  const retryAfter = Number(err.metadata?.get(RETRY_AFTER_TRAILER)[0]);
  const code = isBrokenTransport(err.code, err.details) ? Code.UNAVAILABLE : err.code;
  return new UpstreamCallError(
    code,
    err.details || Code[err.code],
    typeof field === "string" ? decodeErrorField(field) : undefined,
    upstream,
    typeof dependency === "string" && dependency ? dependency : undefined,
    false,
    Number.isInteger(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

/**
 * grpc-js reports a call cut off by a broken HTTP/2 session as INTERNAL, although the server
 * never answered: it is a transport failure, worth a retry and counted by the breaker, not a
 * server bug (the gateway would otherwise answer 500 to an overloaded burst).
 */
function isBrokenTransport(code: Code, details: string | undefined): boolean {
  return code === Code.INTERNAL && /RST_STREAM|Session closed|Connection dropped|Stream refused/i.test(details ?? "");
}
