import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ERROR_FIELD_TRAILER } from "../lib/grpc/index.js";

/**
 * connect-es reports a request body it cannot decode as INTERNAL (`parse binary: premature EOF`,
 * a compressed flag without an encoding, a gzip stream that ends early) and a unary call without
 * its message as UNIMPLEMENTED, although all of them are the client's fault. Its own comment on
 * the compressed flag says InvalidArgument; that is what clients get here, on Connect, gRPC and
 * gRPC-Web alike.
 *
 * Those errors are raised while connect reads the body, before any interceptor or handler runs,
 * and serialized right after. The one hook that sees them is the call's abort signal: every
 * protocol handler aborts the call's context with the error just before writing it out. So the
 * request gate registers {@link reclassifyDecodeErrors}, which corrects the code in place.
 */

/** The errors connect-node raises for a request it cannot decode, by their fixed messages. */
const DECODE_ERRORS: { code: Code; message: RegExp }[] = [
  { code: Code.Internal, message: /^parse binary: / },
  { code: Code.Internal, message: /^received compressed envelope, but do not know how to decompress$/ },
  { code: Code.Internal, message: /^decompression failed$/ },
  { code: Code.Unimplemented, message: /^protocol error: (missing|received extra) input message for / },
];

/** True for an error connect-node raised because the request could not be decoded. */
export function isDecodeError(error: unknown): error is ConnectError {
  return error instanceof ConnectError && DECODE_ERRORS.some((e) => e.code === error.code && e.message.test(error.rawMessage));
}

function invalidRequestMessage(ctx: Pick<HandlerContext, "method">, error: ConnectError): string {
  return `request: is not a valid ${ctx.method.input.typeName} message (${error.rawMessage})`;
}

/**
 * The error to answer with for `error` thrown inside a handler: a decode error surfaces there
 * for streaming requests (the handler reads the messages); it becomes INVALID_ARGUMENT.
 */
export function asClientError(ctx: Pick<HandlerContext, "method">, error: unknown): unknown {
  if (!isDecodeError(error)) return error;
  return new ConnectError(invalidRequestMessage(ctx, error), Code.InvalidArgument, { [ERROR_FIELD_TRAILER]: "request" });
}

/** Makes a decode error of this call go out as INVALID_ARGUMENT naming the request. */
export function reclassifyDecodeErrors(ctx: HandlerContext): void {
  if (ctx.signal.aborted) return;
  ctx.signal.addEventListener(
    "abort",
    () => {
      const reason: unknown = ctx.signal.reason;
      if (!isDecodeError(reason)) return;
      const writable = reason as { code: Code; rawMessage: string };
      writable.code = Code.InvalidArgument;
      writable.rawMessage = invalidRequestMessage(ctx, reason);
      reason.metadata.set(ERROR_FIELD_TRAILER, "request");
    },
    { once: true },
  );
}
