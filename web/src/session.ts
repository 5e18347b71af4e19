/**
 * Who is signed in: the bearer token and what it says about its holder. The claims are read
 * only to shape the page (customer or admin, whose orders); the gateway verifies every call.
 * Kept in sessionStorage: one sign-in per tab, gone when the tab closes.
 */
export interface Session {
  token: string;
  sub: string;
  admin: boolean;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

const KEY = "ordermesh.session";

/** Reads a JWT's claims; throws a readable error for anything that is not a usable token. */
export function sessionFromToken(raw: string): Session {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("This is not a JWT: it must have three parts separated by dots.");
  let claims: { sub?: unknown; exp?: unknown; roles?: unknown };
  try {
    const json = atob(
      parts[1]
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(parts[1].length / 4) * 4, "="),
    );
    claims = JSON.parse(json) as typeof claims;
  } catch {
    throw new Error("The token's payload cannot be read.");
  }
  if (typeof claims.sub !== "string" || claims.sub === "") throw new Error("The token has no subject (sub).");
  if (typeof claims.exp !== "number") throw new Error("The token has no expiry (exp).");
  const expiresAt = claims.exp * 1000;
  if (expiresAt <= Date.now()) throw new Error("The token has expired.");
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  return { token, sub: claims.sub, admin: roles.includes("admin"), expiresAt };
}

export function loadSession(): Session | undefined {
  try {
    const stored = sessionStorage.getItem(KEY);
    if (!stored) return undefined;
    const session = sessionFromToken(stored);
    return session;
  } catch {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(KEY, session.token);
  else sessionStorage.removeItem(KEY);
}
