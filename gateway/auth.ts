import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { Code } from "../lib/errors.js";
import { GatewayError } from "./errors.js";

/**
 * Who is calling: `sub` is the customer id for customers. Role `admin` may act on every
 * customer's resources and use catalog, stock, delivery status and DLQ operations.
 */
export interface Principal {
  readonly sub: string;
  readonly roles: readonly string[];
  readonly admin: boolean;
}

export const ADMIN_ROLE = "admin";

export interface AuthOptions {
  /** HS256 shared secret (local runs and tests). */
  secret?: string;
  /** JWKS endpoint for asymmetric tokens (production): RS*, PS*, ES*, EdDSA. */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Accepted clock skew (default 5 s). */
  clockToleranceSeconds?: number;
}

export type Authenticator = (token: string) => Promise<Principal>;

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

const WWW_AUTHENTICATE = "www-authenticate";
const VERIFIED_TOKENS_KEPT = 10_000;
const VERIFIED_TOKEN_TTL_MS = 60_000;

function rejected(message: string, missing = false): GatewayError {
  const challenge = missing ? `Bearer realm="ordermesh"` : `Bearer realm="ordermesh", error="invalid_token"`;
  return new GatewayError(Code.UNAUTHENTICATED, message, { headers: { [WWW_AUTHENTICATE]: challenge } });
}

/**
 * The token of an `Authorization: Bearer <token>` header, undefined without the header, and
 * UNAUTHENTICATED for any other scheme or a malformed value.
 */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (header === undefined || header === null || header === "") return undefined;
  const match = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i.exec(header);
  if (!match) throw rejected('authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Verifies JWTs with jose and turns them into Principals. HS256 tokens are checked against the
 * secret, anything else against the JWKS (each only if configured: the algorithm allow-list
 * prevents alg confusion, e.g. an HS256 token "signed" with a public key). `sub` and `exp` are
 * required; `roles` is an optional array of strings.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  if (!options.secret && !options.jwksUrl) throw new Error("auth needs a secret or a JWKS URL");
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 3_000 }) : undefined;
  const algorithms = [...(secret ? ["HS256"] : []), ...(jwks ? ASYMMETRIC : [])];
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === "HS256" && secret) return secret;
    if (jwks) return jwks(header, token);
    throw new joseErrors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  // Verified tokens, so a client's every request does not pay for the signature check again.
  // A hit is only the very same token string; it is kept until the token expires, and at most a
  // minute, so a signing key withdrawn from the JWKS stops working within that minute.
  const verified = new Map<string, { principal: Principal; until: number }>();
  return async (token) => {
    const now = Date.now();
    const hit = verified.get(token);
    if (hit && now < hit.until) return hit.principal;
    if (hit) verified.delete(token);
    let payload: JWTPayload;
    try {
      decodeProtectedHeader(token);
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["sub", "exp"],
        clockTolerance: options.clockToleranceSeconds ?? 5,
      }));
    } catch (error) {
      throw verificationError(error, jwks !== undefined);
    }
    const principal = principalOf(payload);
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
    verified.set(token, { principal, until: Math.min(now + VERIFIED_TOKEN_TTL_MS, (payload.exp ?? 0) * 1000) });
    return principal;
  };
}

function principalOf(payload: JWTPayload): Principal {
  const sub = payload.sub;
  if (typeof sub !== "string" || sub.trim() === "" || sub.length > 256) throw rejected("invalid token: sub must be a non-empty string");
  const roles = payload.roles ?? [];
  if (!Array.isArray(roles) || roles.some((role) => typeof role !== "string")) {
    throw rejected("invalid token: roles must be an array of strings");
  }
  return { sub, roles: roles as string[], admin: roles.includes(ADMIN_ROLE) };
}

/** A readable UNAUTHENTICATED for a jose failure; a JWKS endpoint that cannot be reached is UNAVAILABLE. */
function verificationError(error: unknown, usesJwks: boolean): GatewayError {
  if (error instanceof joseErrors.JWTExpired) return rejected("token expired");
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return rejected("invalid token: signature verification failed");
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return rejected("invalid token: signing algorithm not allowed");
  if (error instanceof joseErrors.JWTClaimValidationFailed) return rejected(`invalid token: ${error.message}`);
  if (error instanceof joseErrors.JWKSNoMatchingKey) return rejected("invalid token: no matching signing key");
  const keysDown = error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || !(error instanceof joseErrors.JOSEError);
  if (usesJwks && keysDown) return new GatewayError(Code.UNAVAILABLE, "token signing keys are unavailable; retry later", { retryAfterSeconds: 1 });
  return rejected("invalid token: malformed");
}

/** Error for a request that needs a token but has none. */
export function missingToken(): GatewayError {
  return rejected("missing bearer token (Authorization: Bearer <token>)", true);
}

export interface DevTokenOptions {
  sub: string;
  admin?: boolean;
  /** Lifetime in seconds (default 1 h). */
  ttlSeconds?: number;
  secret: string;
  issuer?: string;
  audience?: string;
}

/** An HS256 token for local runs and tests (`npm run token`). */
export async function signDevToken(options: DevTokenOptions): Promise<string> {
  const jwt = new SignJWT({ roles: options.admin ? [ADMIN_ROLE] : ["customer"] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 3600));
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
