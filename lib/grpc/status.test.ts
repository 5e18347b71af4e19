import { describe, expect, it } from "@jest/globals";
import { Metadata, status } from "@grpc/grpc-js";
import { ServiceError } from "../errors.js";
import { toServiceError } from "./status.js";

function callError(code: status, details: string) {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

describe("toServiceError", () => {
  it("keeps the upstream's code and message", () => {
    const error = toServiceError(callError(status.NOT_FOUND, "order 42 not found")) as ServiceError;
    expect(error).toBeInstanceOf(ServiceError);
    expect([error.code, error.message]).toEqual([status.NOT_FOUND, "order 42 not found"]);
  });

  it("reports a call cut off by a broken HTTP/2 session as UNAVAILABLE, not INTERNAL", () => {
    const details = "Received RST_STREAM with code 2 triggered by internal client error: Session closed with error code 2";
    expect((toServiceError(callError(status.INTERNAL, details)) as ServiceError).code).toBe(status.UNAVAILABLE);
    expect((toServiceError(callError(status.INTERNAL, "internal error")) as ServiceError).code).toBe(status.INTERNAL);
  });
});
