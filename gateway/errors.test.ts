import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "@jest/globals";
import { Code, invalidArgument, notFound, ServiceError } from "../lib/errors.js";
import { codeName, GatewayError, httpStatusOf, toConnectError, toErrorResponse } from "./errors.js";
import { edgeError } from "./upstreams.js";

describe("error mapping", () => {
  it.each([
    [Code.INVALID_ARGUMENT, 400],
    [Code.OUT_OF_RANGE, 400],
    [Code.UNAUTHENTICATED, 401],
    [Code.PERMISSION_DENIED, 403],
    [Code.NOT_FOUND, 404],
    [Code.ALREADY_EXISTS, 409],
    [Code.FAILED_PRECONDITION, 409],
    [Code.ABORTED, 409],
    [Code.RESOURCE_EXHAUSTED, 429],
    [Code.CANCELLED, 499],
    [Code.UNIMPLEMENTED, 501],
    [Code.UNAVAILABLE, 503],
    [Code.DEADLINE_EXCEEDED, 503],
    [Code.INTERNAL, 500],
    [Code.UNKNOWN, 500],
    [Code.DATA_LOSS, 500],
  ])("gRPC code %s is HTTP %s", (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });

  it("writes the REST error body with code name, message and field", () => {
    const answer = toErrorResponse(invalidArgument("items[0].quantity", "must be at least 1"));
    expect(answer).toEqual({
      status: 400,
      headers: {},
      body: { error: { code: "invalid_argument", message: "items[0].quantity: must be at least 1", field: "items[0].quantity" } },
    });
    expect(toErrorResponse(notFound("order", "x")).body.error).toEqual({ code: "not_found", message: "order x not found" });
  });

  it("adds Retry-After to answers that mean 'later'", () => {
    expect(toErrorResponse(new ServiceError(Code.UNAVAILABLE, "down")).headers["retry-after"]).toBe("1");
    expect(toErrorResponse(new GatewayError(Code.RESOURCE_EXHAUSTED, "slow down", { retryAfterSeconds: 7 })).headers["retry-after"]).toBe("7");
    expect(toErrorResponse(new ServiceError(Code.NOT_FOUND, "x")).headers["retry-after"]).toBeUndefined();
    // An upstream's RESOURCE_EXHAUSTED (e.g. a message too large) is not a "come back later".
    expect(toErrorResponse(new ServiceError(Code.RESOURCE_EXHAUSTED, "too large")).headers["retry-after"]).toBeUndefined();
  });

  it("lets a GatewayError choose its HTTP status (413, 415, 422)", () => {
    expect(toErrorResponse(new GatewayError(Code.INVALID_ARGUMENT, "too big", { httpStatus: 413 })).status).toBe(413);
  });

  it("hides unexpected errors behind INTERNAL 'internal error'", () => {
    const answer = toErrorResponse(new Error("connect ECONNREFUSED 10.0.0.7:5432 password=hunter2"));
    expect(answer.status).toBe(500);
    expect(answer.body.error).toEqual({ code: "internal", message: "internal error" });
  });

  it("converts to ConnectErrors with the same code, the field and Retry-After in metadata", () => {
    const error = toConnectError(invalidArgument("customer_id", "is required"));
    expect(error.code).toBe(ConnectCode.InvalidArgument);
    expect(error.rawMessage).toBe("customer_id: is required");
    expect(error.metadata.get("x-error-field")).toBe("customer_id");
    expect(toConnectError(new ServiceError(Code.UNAVAILABLE, "down")).metadata.get("retry-after")).toBe("1");
    expect(toConnectError(new TypeError("boom"))).toMatchObject({ code: ConnectCode.Internal, rawMessage: "internal error" });
    const passthrough = new ConnectError("x", ConnectCode.NotFound);
    expect(toConnectError(passthrough)).toBe(passthrough);
  });

  it("names codes in snake case", () => {
    expect(codeName(Code.FAILED_PRECONDITION)).toBe("failed_precondition");
  });

  it("replaces transport details (internal addresses) of upstream failures", () => {
    const refused = new ServiceError(Code.UNAVAILABLE, "No connection established. Last error: connect ECONNREFUSED 10.1.2.3:50051");
    expect(edgeError("order", refused)).toMatchObject({ code: Code.UNAVAILABLE, message: "order service unavailable; retry later" });
    const slow = new ServiceError(Code.DEADLINE_EXCEEDED, "Deadline exceeded after 5.001s,remote_addr=10.1.2.3:50051");
    expect(edgeError("payment", slow)).toMatchObject({ message: "payment service did not answer in time; retry later" });
    const own = new ServiceError(Code.UNAVAILABLE, "inventory unavailable (circuit open)");
    expect(edgeError("order", own)).toBe(own);
  });
});
