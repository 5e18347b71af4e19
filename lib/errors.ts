import { status } from "@grpc/grpc-js";

export { status as Code } from "@grpc/grpc-js";

/**
 * An error with a gRPC status code. Handlers throw these; the grpc layer sends the code and
 * message as they are, and the gateway maps the code to an HTTP status. Any other error
 * becomes INTERNAL with a generic message, so internals never leak to callers.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** The request field at fault, for INVALID_ARGUMENT. */
    readonly field?: string,
    /** For "try again later" errors: when, in whole seconds (the gateway's Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

/** RESOURCE_EXHAUSTED that says when to come back: the service is over a load bound. */
export function resourceExhausted(message: string, retryAfterSeconds: number): ServiceError {
  return new ServiceError(status.RESOURCE_EXHAUSTED, message, undefined, retryAfterSeconds);
}

/** INVALID_ARGUMENT naming the field: `invalidArgument("items[0].quantity", "must be at least 1")`. */
export function invalidArgument(field: string, problem: string): ServiceError {
  return new ServiceError(status.INVALID_ARGUMENT, `${field}: ${problem}`, field);
}

export function notFound(kind: string, id: string): ServiceError {
  return new ServiceError(status.NOT_FOUND, `${kind} ${id} not found`);
}

export function failedPrecondition(message: string): ServiceError {
  return new ServiceError(status.FAILED_PRECONDITION, message);
}

export function alreadyExists(message: string): ServiceError {
  return new ServiceError(status.ALREADY_EXISTS, message);
}

export function unavailable(message: string): ServiceError {
  return new ServiceError(status.UNAVAILABLE, message);
}

/** True for codes that say something about the infrastructure rather than the request. */
export function isInfrastructureCode(code: status | undefined): boolean {
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED || code === status.INTERNAL || code === status.UNKNOWN;
}

/**
 * `error` with `cause` set: for a ServiceError a handler throws because a call it made failed,
 * so the grpc layer can tell its callers whose failure it was.
 */
export function causedBy<E extends Error>(error: E, cause: unknown): E {
  Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true });
  return error;
}
