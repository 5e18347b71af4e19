import { type Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { Code, ServiceError } from "../lib/errors.js";
import { encodeErrorField, ERROR_FIELD_TRAILER } from "../lib/grpc/index.js";
import type { Logger } from "../lib/log.js";
import { CORRELATION_HEADER, isValidCorrelationId } from "../lib/telemetry/index.js";

/**
 * Errors at the edge. Everything a route or RPC throws ends up here: a ServiceError (from an
 * upstream or from the gateway's own checks) keeps its code and message; anything else is a bug
 * and becomes INTERNAL "internal error" (logged, never shown). REST answers
 * `{ "error": { "code": "invalid_argument", "message": "...", "field": "..." } }` with the HTTP
 * status below; Connect / gRPC / gRPC-Web get the same code natively.
 */

/** A ServiceError with edge-only details: an HTTP status other than the code's default, Retry-After. */
export class GatewayError extends ServiceError {
  constructor(
    code: Code,
    message: string,
    readonly options: { field?: string; httpStatus?: number; retryAfterSeconds?: number; headers?: Record<string, string> } = {},
  ) {
    super(code, message, options.field);
    this.name = "GatewayError";
  }
}

/** HTTP status of a gRPC code for REST answers. */
export function httpStatusOf(code: Code): number {
  switch (code) {
    case Code.OK:
      return 200;
    case Code.CANCELLED:
      return 499;
    case Code.INVALID_ARGUMENT:
    case Code.OUT_OF_RANGE:
      return 400;
    case Code.UNAUTHENTICATED:
      return 401;
    case Code.PERMISSION_DENIED:
      return 403;
    case Code.NOT_FOUND:
      return 404;
    // The resource exists but its state forbids the change (cancel a shipped order): a conflict.
    case Code.FAILED_PRECONDITION:
    case Code.ALREADY_EXISTS:
    case Code.ABORTED:
      return 409;
    case Code.RESOURCE_EXHAUSTED:
      return 429;
    case Code.UNIMPLEMENTED:
      return 501;
    // An upstream could not be reached or did not answer in time: retry later.
    case Code.UNAVAILABLE:
    case Code.DEADLINE_EXCEEDED:
      return 503;
    default:
      return 500;
  }
}

/** "invalid_argument" for INVALID_ARGUMENT: the code as Connect and Google APIs spell it in JSON. */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").toLowerCase();
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** Retry-After for an error that says "try again later", in whole seconds. */
function retryAfter(error: ServiceError): number | undefined {
  if (error instanceof GatewayError && error.options.retryAfterSeconds !== undefined) return error.options.retryAfterSeconds;
  // An upstream over its own load bound (the order service's saga backlog) says when.
  if (error.retryAfterSeconds !== undefined) return error.retryAfterSeconds;
  // Our own rate limits say when; an upstream outage is worth a retry a second later.
  if (error.code === Code.UNAVAILABLE || error.code === Code.DEADLINE_EXCEEDED) return 1;
  return undefined;
}

/**
 * The ServiceError `error` stands for; unexpected errors are logged here and replaced by
 * INTERNAL "internal error", since their text may hold hostnames, SQL or user data.
 */
export function asServiceError(error: unknown, logger?: Logger): ServiceError {
  if (error instanceof ServiceError) {
    if (error.code === Code.INTERNAL || error.code === Code.UNKNOWN || error.code === Code.DATA_LOSS) {
      logger?.error({ err: error }, "upstream reported an internal error");
    }
    return error;
  }
  if (error instanceof ConnectError) return new ServiceError(error.code as number as Code, error.rawMessage);
  logger?.error({ err: error }, "unexpected error in the gateway");
  return new ServiceError(Code.INTERNAL, "internal error");
}

/** The REST answer for `error`. */
export function toErrorResponse(error: unknown, logger?: Logger): ErrorResponse {
  const e = asServiceError(error, logger);
  const headers: Record<string, string> = { ...(e instanceof GatewayError ? e.options.headers : {}) };
  const seconds = retryAfter(e);
  if (seconds !== undefined) headers["retry-after"] = String(seconds);
  const status = (e instanceof GatewayError ? e.options.httpStatus : undefined) ?? httpStatusOf(e.code);
  const body: ErrorBody = { error: { code: codeName(e.code), message: e.message } };
  if (e.field) body.error.field = e.field;
  return { status, headers, body };
}

/** The ConnectError for `error`: same code, message, Retry-After and the field in `x-error-field`. */
export function toConnectError(error: unknown, logger?: Logger): ConnectError {
  if (error instanceof ConnectError) return error;
  const e = asServiceError(error, logger);
  const metadata = new Headers(e instanceof GatewayError ? e.options.headers : undefined);
  const seconds = retryAfter(e);
  if (seconds !== undefined) metadata.set("retry-after", String(seconds));
  // The field may carry client input (an unknown JSON key): encoded, a header can always hold it.
  if (e.field) metadata.set(ERROR_FIELD_TRAILER, encodeErrorField(e.field));
  // gRPC status codes and Connect codes share their numbers (1 CANCELLED ... 16 UNAUTHENTICATED).
  return new ConnectError(e.message, e.code as number as ConnectCode, metadata);
}

export function invalid(field: string, problem: string): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, `${field}: ${problem}`, { field });
}

export function unauthenticated(message: string): GatewayError {
  return new GatewayError(Code.UNAUTHENTICATED, message, { headers: { "www-authenticate": `Bearer error="invalid_token"` } });
}

export function permissionDenied(message: string, field?: string): GatewayError {
  return new GatewayError(Code.PERMISSION_DENIED, message, { field });
}

/**
 * A client may send its own `x-correlation-id` to find its request in the logs; one that could
 * not travel on (control or non-ASCII characters, too long) is INVALID_ARGUMENT naming the header.
 */
export function checkCorrelationHeader(value: string | null | undefined): void {
  if (value === undefined || value === null || isValidCorrelationId(value)) return;
  throw invalid(CORRELATION_HEADER, "must be 1 to 128 visible ASCII characters");
}
