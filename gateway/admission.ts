import { Code } from "../lib/errors.js";
import { type Authenticator, bearerToken, missingToken, type Principal } from "./auth.js";
import { GatewayError } from "./errors.js";
import { RateLimiter, retryAfterSeconds } from "./rate-limit.js";

/**
 * Admission of one request, the same for every door (REST, Connect, gRPC, gRPC-Web):
 *
 * 1. the global token bucket (429 / RESOURCE_EXHAUSTED when the whole gateway is over its rate);
 * 2. the bearer token, verified with jose;
 * 3. the bucket of the principal (`sub`), or of the client address when there is no valid token,
 *    so that failed logins are rate limited too;
 * 4. only then a missing or bad token is refused (401 / UNAUTHENTICATED).
 *
 * Load shedding happens before all of this, in the server, as soon as the request arrives.
 */
export interface AdmissionOptions {
  authenticate: Authenticator;
  rateLimit: { perPrincipalRps: number; perPrincipalBurst: number; globalRps: number; globalBurst: number };
  /** Called for each refusal, for metrics. */
  onRefused?: (reason: "global_rate" | "principal_rate" | "unauthenticated") => void;
}

export class Gatekeeper {
  readonly #authenticate: Authenticator;
  readonly #global: RateLimiter;
  readonly #perPrincipal: RateLimiter;
  readonly #onRefused: NonNullable<AdmissionOptions["onRefused"]>;

  constructor(options: AdmissionOptions) {
    this.#authenticate = options.authenticate;
    this.#global = new RateLimiter({ ratePerSecond: options.rateLimit.globalRps, burst: options.rateLimit.globalBurst });
    this.#perPrincipal = new RateLimiter({ ratePerSecond: options.rateLimit.perPrincipalRps, burst: options.rateLimit.perPrincipalBurst });
    this.#onRefused = options.onRefused ?? (() => undefined);
  }

  /**
   * The principal of a request with `authorization` header from `clientAddress`; throws the
   * refusal. Without `required`, a request without token is let through anonymously.
   */
  async admit(authorization: string | null | undefined, clientAddress: string, required = true): Promise<Principal | undefined> {
    const global = this.#global.take("*");
    if (!global.ok) {
      this.#onRefused("global_rate");
      throw rateLimited("the gateway is over its request rate", global.retryAfterMs);
    }
    let principal: Principal | undefined;
    let refusal: unknown;
    try {
      const token = bearerToken(authorization);
      if (token) principal = await this.#authenticate(token);
      else if (required) refusal = missingToken();
    } catch (error) {
      refusal = error;
    }
    const own = this.#perPrincipal.take(principal ? `sub:${principal.sub}` : `addr:${clientAddress}`);
    if (!own.ok) {
      this.#onRefused("principal_rate");
      throw rateLimited("too many requests from this client", own.retryAfterMs);
    }
    if (refusal) {
      this.#onRefused("unauthenticated");
      throw refusal;
    }
    return principal;
  }
}

function rateLimited(message: string, retryAfterMs: number): GatewayError {
  const seconds = retryAfterSeconds(retryAfterMs);
  return new GatewayError(Code.RESOURCE_EXHAUSTED, `rate limit exceeded: ${message}; retry after ${seconds} s`, { retryAfterSeconds: seconds });
}

export function overloaded(): GatewayError {
  return new GatewayError(Code.UNAVAILABLE, "the gateway is overloaded; retry later", { retryAfterSeconds: 1 });
}

export function tooManyStreams(): GatewayError {
  return new GatewayError(Code.UNAVAILABLE, "too many tracking streams are open; retry later", { retryAfterSeconds: 5 });
}
