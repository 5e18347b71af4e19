import { Code, ServiceError } from "../errors.js";

/**
 * Thrown by a handler for an event that can never succeed (it contradicts the service's
 * state, refers to something that cannot exist, ...). The consumer does not retry it: the
 * event goes straight to the dead-letter stream for an operator to inspect.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermanentError";
  }
}

/** True for failures a retry cannot fix: PermanentError and INVALID_ARGUMENT service errors. */
export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentError || (error instanceof ServiceError && error.code === Code.INVALID_ARGUMENT);
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
