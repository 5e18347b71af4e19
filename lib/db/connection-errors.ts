/**
 * Recognises errors that say "the database cannot be reached right now" rather than "this query
 * is wrong": refused or reset connections, a server shutting down or restarting, a connection cut
 * in the middle of a query, a pool that cannot get a connection. Callers should hear
 * UNAVAILABLE ("retry later") for these, not INTERNAL.
 */

/** Socket errors of a connection attempt or of an established connection. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs of an unusable server or connection: class 08 (connection exception), 57P01
 * admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, in recovery),
 * 53300 too_many_connections.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300";
}

/** pg and knex report some of these only in their message. */
const MESSAGES =
  /Connection terminated|terminating connection due to administrator command|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|Timeout acquiring a connection|server closed the connection unexpectedly|the database system is (starting up|shutting down|in recovery mode)|Connection is closed/i;

/** True when `error`, or an error it wraps (`cause`, AggregateError), says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.pop();
    if (!current || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const { name, code, sqlState, message, cause, errors } = current as {
      name?: unknown;
      code?: unknown;
      sqlState?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    // MikroORM wraps driver errors it classifies as connection problems in ConnectionException.
    if (name === "ConnectionException") return true;
    if (typeof code === "string" && (SOCKET_CODES.has(code) || isUnavailableSqlState(code))) return true;
    if (typeof sqlState === "string" && isUnavailableSqlState(sqlState)) return true;
    if (typeof message === "string" && MESSAGES.test(message)) return true;
    pending.push(cause);
    if (Array.isArray(errors)) pending.push(...(errors as unknown[]));
  }
  return false;
}

/** What callers are told: no host names, no driver text. */
export const DATABASE_UNAVAILABLE_MESSAGE = "database unavailable; retry later";
