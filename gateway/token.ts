import { parseArgs } from "node:util";
import { signDevToken } from "./auth.js";
import { DEV_JWT_SECRET } from "./config.js";

/**
 * Mints an HS256 token for local runs:
 *   npm run token -- --customer <customer-id> [--admin] [--ttl 3600]
 *   npm run token -- --admin                      (sub "admin")
 * Signs with JWT_SECRET (or the gateway's dev secret) and sets JWT_ISSUER / JWT_AUDIENCE when
 * configured, so the token matches the gateway started from the same environment.
 */
const USAGE = "usage: npm run token -- --customer <customer-id> [--admin] [--ttl <seconds>]";

let values: { customer?: string; admin?: boolean; ttl?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      customer: { type: "string" },
      admin: { type: "boolean", default: false },
      ttl: { type: "string", default: "3600" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1) {
  console.error(`--ttl must be a positive number of seconds\n${USAGE}`);
  process.exit(2);
}
if (!values.customer && !values.admin) {
  console.error(`--customer <id> or --admin is required\n${USAGE}`);
  process.exit(2);
}
if (process.env.JWT_JWKS_URL && !process.env.JWT_SECRET) {
  console.error("JWT_JWKS_URL is set: tokens come from your identity provider; this tool signs HS256 dev tokens only");
  process.exit(2);
}
const token = await signDevToken({
  sub: values.customer ?? "admin",
  admin: values.admin,
  ttlSeconds: ttl,
  secret: process.env.JWT_SECRET?.trim() || DEV_JWT_SECRET,
  issuer: process.env.JWT_ISSUER?.trim() || undefined,
  audience: process.env.JWT_AUDIENCE?.trim() || undefined,
});
process.stdout.write(`${token}\n`);
