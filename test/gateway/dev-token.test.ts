import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLogger } from "../../lib/log.js";
import { DEV_CUSTOMER } from "../../services/order/seed.js";
import { createAuthenticator } from "../../gateway/auth.js";
import { DEV_CUSTOMER_ID, DEV_JWT_SECRET, readGatewayConfig } from "../../gateway/config.js";
import { type RunningGateway, start } from "../../gateway/server.js";

const logger = createLogger("dev-token-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
const DOWN = "127.0.0.1:1";
const UPSTREAMS = { ORDER_ADDR: DOWN, INVENTORY_ADDR: DOWN, PAYMENT_ADDR: DOWN, NOTIFICATION_ADDR: DOWN, FILE_ADDR: DOWN, DELIVERY_ADDR: DOWN };

function gateway(env: Record<string, string>): Promise<RunningGateway> {
  return start(readGatewayConfig({ GATEWAY_PORT: "0", GATEWAY_HOST: "127.0.0.1", METRICS_PORT: "-1", WEB_DIR: "off", ...UPSTREAMS, ...env }), { logger });
}

async function post(base: string, body: unknown) {
  const answer = await fetch(`${base}/api/v1/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: answer.status, json: (await answer.json()) as Record<string, unknown> };
}

describe("dev sign-in (POST /api/v1/dev/token)", () => {
  let dev: RunningGateway;
  let secured: RunningGateway;
  let jwks: RunningGateway;
  let base: string;
  const verify = createAuthenticator({ secret: DEV_JWT_SECRET });

  beforeAll(async () => {
    dev = await gateway({});
    secured = await gateway({ JWT_SECRET: "dev-token-test-real-secret-0123456789abcdef" });
    jwks = await gateway({ JWT_JWKS_URL: "http://127.0.0.1:1/jwks.json" });
    base = `http://127.0.0.1:${dev.port}`;
  });

  afterAll(async () => {
    await Promise.all([dev?.stop(500), secured?.stop(500), jwks?.stop(500)]);
  });

  it("offers the seeded dev customer", async () => {
    expect(DEV_CUSTOMER_ID).toBe(DEV_CUSTOMER.id);
    const answer = await fetch(`${base}/api/v1/dev/token`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ dev_customer_id: DEV_CUSTOMER.id, admin_subject: "admin" });
  });

  it("mints tokens the gateway accepts, without any token of its own", async () => {
    const customer = await post(base, { role: "customer" });
    expect(customer.status).toBe(200);
    expect(await verify(customer.json.token as string)).toMatchObject({ sub: DEV_CUSTOMER.id, admin: false });
    const other = await post(base, { role: "customer", customer_id: "0190a000-0000-7000-8000-0000000000ff" });
    expect(await verify(other.json.token as string)).toMatchObject({ sub: "0190a000-0000-7000-8000-0000000000ff", admin: false });
    const admin = await post(base, { role: "admin" });
    expect(await verify(admin.json.token as string)).toMatchObject({ sub: "admin", admin: true });
    expect(admin.json).toMatchObject({ roles: ["admin"], expires_at: expect.any(String) });
  });

  it("names what is wrong with a request", async () => {
    expect(await post(base, {})).toMatchObject({ status: 400, json: { error: { field: "role" } } });
    expect(await post(base, { role: "root" })).toMatchObject({ status: 400, json: { error: { field: "role" } } });
    expect(await post(base, { role: "customer", customer_id: "x" })).toMatchObject({ status: 400, json: { error: { field: "customer_id" } } });
    expect(await post(base, { role: "admin", customer_id: DEV_CUSTOMER.id })).toMatchObject({ status: 400, json: { error: { field: "customer_id" } } });
    expect(await post(base, { role: "admin", sub: "x" })).toMatchObject({ status: 400, json: { error: { field: "sub" } } });
  });

  it("does not exist with a real secret or a JWKS", async () => {
    for (const g of [secured, jwks]) {
      const url = `http://127.0.0.1:${g.port}/api/v1/dev/token`;
      expect((await fetch(url)).status).toBe(404);
      const minted = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"role":"admin"}' });
      expect(minted.status).toBe(404);
    }
  });
});
