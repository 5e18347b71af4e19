import type { JsonObject } from "@bufbuild/protobuf";
import { ADMIN_ROLE, signDevToken } from "../auth.js";
import { invalid } from "../errors.js";
import { onlyQuery, type RestContext, type Route } from "./router.js";

/**
 * Sign-in for local runs: the web app's "pick the dev customer or an admin". These routes exist
 * only while the gateway runs with the built-in development secret, which is public anyway
 * (`npm run token` mints the same tokens); with JWT_SECRET or JWT_JWKS_URL they are not
 * registered and answer 404 like any unknown path, and the web app asks for a pasted token.
 */

export interface DevTokenOptions {
  secret: string;
  issuer?: string;
  audience?: string;
  /** The customer `npm run seed` creates; the default pick of the sign-in page. */
  devCustomerId: string;
  ttlSeconds?: number;
}

/** The subject of admin tokens minted here (as `npm run token -- --admin`). */
export const DEV_ADMIN_SUBJECT = "admin";
const DEFAULT_TTL_SECONDS = 8 * 3600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readRequest(ctx: RestContext, devCustomerId: string): { sub: string; admin: boolean } {
  const body = ctx.body ?? {};
  for (const key of Object.keys(body)) {
    if (key !== "role" && key !== "customer_id" && key !== "customerId") throw invalid(key, "unknown field");
  }
  const role = body.role;
  if (role !== "customer" && role !== "admin") throw invalid("role", `must be "customer" or "admin", got ${JSON.stringify(role ?? null).slice(0, 40)}`);
  const customerId = body.customer_id ?? body.customerId ?? "";
  if (typeof customerId !== "string") throw invalid("customer_id", "must be a string");
  if (role === "admin") {
    if (customerId !== "") throw invalid("customer_id", "is only for role customer");
    return { sub: DEV_ADMIN_SUBJECT, admin: true };
  }
  if (customerId !== "" && !UUID.test(customerId)) throw invalid("customer_id", `must be a UUID, got "${customerId.slice(0, 40)}"`);
  return { sub: customerId || devCustomerId, admin: false };
}

/** `GET /api/v1/dev/token` (who can be picked) and `POST /api/v1/dev/token` (mint one). */
export function devTokenRoutes(options: DevTokenOptions): Route[] {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  return [
    {
      method: "GET",
      path: "/api/v1/dev/token",
      access: "public",
      summary: "Dev secret only: who the sign-in page can mint a token for",
      async handle(ctx) {
        onlyQuery(ctx);
        return { json: { dev_customer_id: options.devCustomerId, admin_subject: DEV_ADMIN_SUBJECT, ttl_seconds: ttlSeconds } };
      },
    },
    {
      method: "POST",
      path: "/api/v1/dev/token",
      access: "public",
      summary: 'Dev secret only: mint a token, {"role": "customer"|"admin", "customer_id"?}',
      async handle(ctx) {
        onlyQuery(ctx);
        const { sub, admin } = readRequest(ctx, options.devCustomerId);
        const token = await signDevToken({ sub, admin, ttlSeconds, secret: options.secret, issuer: options.issuer, audience: options.audience });
        const json: JsonObject = {
          token,
          sub,
          roles: admin ? [ADMIN_ROLE] : ["customer"],
          expires_at: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
        };
        return { json };
      },
    },
  ];
}
