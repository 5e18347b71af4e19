import { expect } from "@jest/globals";
import type { Code } from "../../lib/errors.js";

export interface CallFailure {
  code: Code;
  message: string;
  field?: string;
}

/**
 * Asserts that `promise` fails with gRPC `code` (and, when given, a message matching `message`
 * and the named `field`); returns the failure for further assertions.
 */
export async function expectCode(promise: Promise<unknown>, code: Code, message?: RegExp, field?: string): Promise<CallFailure> {
  const failure = await promise.then(
    () => undefined,
    (error: unknown) => error as CallFailure,
  );
  expect(failure?.code).toBe(code);
  if (message) expect(failure?.message).toMatch(message);
  if (field) expect(failure?.field).toBe(field);
  return failure!;
}
