import { Code, ConnectError } from "@connectrpc/connect";
import { RestError } from "./api.js";

/** What to tell a person about a failed call. */
export interface Problem {
  title: string;
  detail: string;
  /** The request field the gateway named, if any (e.g. `items[0].quantity`). */
  field?: string;
  /** Worth trying again later (the service is down, overloaded or slow). */
  retryable: boolean;
  notFound: boolean;
}

const REST_CODES: Record<string, Code> = {
  invalid_argument: Code.InvalidArgument,
  out_of_range: Code.OutOfRange,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  unimplemented: Code.Unimplemented,
};

function titleOf(code: Code): string {
  switch (code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return "Please check your input";
    case Code.Unauthenticated:
      return "Sign-in not accepted";
    case Code.PermissionDenied:
      return "Not allowed";
    case Code.NotFound:
      return "Not found";
    case Code.AlreadyExists:
      return "Already exists";
    case Code.FailedPrecondition:
    case Code.Aborted:
      return "Not possible right now";
    case Code.ResourceExhausted:
      return "Too many requests";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return "Service unavailable";
    case Code.Canceled:
      return "Cancelled";
    default:
      return "Something went wrong";
  }
}

/** Turns any error of a call into words for the page. */
export function describeError(error: unknown): Problem {
  let code = Code.Unknown;
  let message = error instanceof Error ? error.message : String(error);
  let field: string | undefined;
  if (error instanceof ConnectError) {
    code = error.code;
    message = error.rawMessage;
    field = error.metadata.get("x-error-field") ?? undefined;
    // fetch failing outright (gateway gone, network down) arrives as Unavailable/Unknown without text.
    if (/fetch|network|Failed to fetch/i.test(message) && code !== Code.Unavailable) code = Code.Unavailable;
  } else if (error instanceof RestError) {
    code = REST_CODES[error.code] ?? (error.status >= 500 || error.status === 0 ? Code.Unavailable : Code.Unknown);
    field = error.field;
  }
  const retryable = code === Code.Unavailable || code === Code.DeadlineExceeded || code === Code.ResourceExhausted;
  let detail = message || "no details";
  if (code === Code.Unavailable && /fetch|network|cannot reach/i.test(detail))
    detail = "The gateway cannot be reached. Check that it is running, then try again.";
  else if (retryable && !/retry|try again/i.test(detail)) detail = `${capitalize(detail)}. Please try again in a moment.`;
  else detail = capitalize(detail);
  return { title: titleOf(code), detail, field, retryable, notFound: code === Code.NotFound };
}

/** Capitalizes a sentence, but not one that starts with a field name (`failure_rate: …`). */
function capitalize(text: string): string {
  if (!/^[a-z]+(\s|$)/.test(text)) return text;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
