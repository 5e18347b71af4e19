// npm start: the whole system on this machine. Infrastructure from embedded defaults (data
// under .data/) unless DATABASE_URL, NATS_URL or S3_ENDPOINT point at existing servers; the
// seven services and the gateway as child processes; Ctrl-C (or SIGTERM) stops everything.
// ORDERMESH_DATA_DIR moves the data; ORDERMESH_PORTS=random runs beside another copy.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { findJaeger, JAEGER_HOWTO, jaegerOrderSearchUrl } from "../dev/jaeger.js";
import { startStack, type Stack } from "../dev/stack.js";
import { DEV_CATALOG } from "../services/inventory/seed.js";
import { DEV_CUSTOMER } from "../services/order/seed.js";
import { ensureWebBuild } from "./web-build.js";

// Ctrl-C signals the terminal's whole process group at once: PostgreSQL would stop while the
// services still drain. So this process only fronts a supervisor in a process group of its
// own, which receives one SIGTERM and stops everything in order.
if (process.env.ORDERMESH_SUPERVISOR !== "1") {
  const supervisor = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
    env: { ...process.env, ORDERMESH_SUPERVISOR: "1" },
    stdio: ["pipe", "inherit", "inherit"],
    detached: true,
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => supervisor.kill("SIGTERM"));
  supervisor.once("exit", (code) => process.exit(code ?? 1));
} else {
  await supervise();
}

async function supervise(): Promise<void> {
  const COLOURS = [36, 33, 35, 32, 34, 31, 96];
  const labels = new Map<string, string>();
  const useColour = process.stdout.isTTY;

  function label(name: string): string {
    if (!labels.has(name)) {
      const padded = name.padEnd(12);
      labels.set(name, useColour ? `\x1b[${COLOURS[labels.size % COLOURS.length]}m${padded}\x1b[0m` : padded);
    }
    return labels.get(name)!;
  }

  function say(line: string): void {
    process.stdout.write(`${useColour ? "\x1b[1m[start]\x1b[0m" : "[start]"}      ${line}\n`);
  }

  let stack: Stack | undefined;
  let stopping = false;

  function shutdown(): void {
    say("draining the services, then stopping the infrastructure");
    stack!.stop().then(() => {
      say("stopped");
      process.exit(0);
    });
  }

  const requestStop = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`${why}: stopping`);
    // While starting, the stop waits until everything started is known, so nothing is left behind.
    if (stack) shutdown();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => requestStop(signal));
  // The front process holds our stdin open; if it dies without a signal, stop anyway.
  process.stdin.on("end", () => requestStop("front process gone")).resume();

  // Traces: an OTLP endpoint given wins; else a local Jaeger when there is one; else how to get it.
  const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const jaeger = otlpEndpoint ? undefined : findJaeger();
  try {
    // The gateway serves the web app at / from web/dist: build it first if it is missing or old.
    if (process.env.WEB_DIR === undefined) {
      say("building the web app (npm run build:web)");
      if (!(await ensureWebBuild())) say("the web app is up to date");
    }
    stack = await startStack({
      jaegerBin: jaeger?.found ? jaeger.bin : undefined,
      dataDir: process.env.ORDERMESH_DATA_DIR || fileURLToPath(new URL("../.data", import.meta.url)),
      persistent: true,
      databaseUrl: process.env.DATABASE_URL,
      natsUrl: process.env.NATS_URL,
      s3Endpoint: process.env.S3_ENDPOINT,
      standardPorts: process.env.ORDERMESH_PORTS !== "random",
      gatewayPort: process.env.GATEWAY_PORT ? Number(process.env.GATEWAY_PORT) : undefined,
      onProgress: say,
      supervise: true,
      onSupervisorEvent: (event) => {
        if (stopping) return;
        if (event.kind === "exited") {
          const how = event.signal ? `was killed by ${event.signal}` : `exited with code ${event.code}`;
          say(`${event.name} ${how}; restarting it in ${(event.restartInMs / 1000).toFixed(1)} s`);
        } else if (event.kind === "restarted") {
          say(`${event.name} restarted (restart #${event.restarts})`);
        } else {
          say(`${event.name} is ready again`);
        }
      },
      onLog: (name, line) => process.stdout.write(`${label(name)} ${line}\n`),
    });
    if (stopping) {
      shutdown();
      await new Promise(() => {});
    }
    const url = stack.gatewayUrl;
    const token = await stack.token(DEV_CUSTOMER.id);
    const adminToken = await stack.token("admin", { admin: true });
    const order = JSON.stringify({
      customer_id: DEV_CUSTOMER.id,
      items: [{ product_id: DEV_CATALOG[1].id, quantity: 2 }],
      shipping_address: { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: DEV_CUSTOMER.name },
      payment_method: { token: "tok_visa" },
    });
    say(`ready: ${url} serves REST, Connect, gRPC-Web and gRPC`);
    let traces: string;
    if (stack.jaegerUrl) {
      say(`traces: Jaeger UI at ${stack.jaegerUrl} (one trace per order, searchable by tag shop.order.id)`);
      traces = `
    # open the order's trace in Jaeger (every span about it carries shop.order.id)
    echo "${jaegerOrderSearchUrl(stack.jaegerUrl, "$ORDER_ID")}"
`;
    } else if (otlpEndpoint) {
      say(`traces: exported over OTLP/HTTP to ${otlpEndpoint}; find an order's trace by tag shop.order.id`);
      traces = "";
    } else {
      if (jaeger && !jaeger.found) say(`traces: ${jaeger.reason}`);
      for (const line of JAEGER_HOWTO.split("\n")) say(line);
      traces = "";
    }
    say(`open ${url}/ in a browser: the shop and the admin console (pick the dev customer or an admin)`);
    process.stdout.write(`
    export TOKEN=${token}

    # place an order (two wireless mice from the dev catalog) and keep its id
    ORDER_ID=$(curl -s -X POST ${url}/api/v1/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${order}' | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4); echo $ORDER_ID

    # follow it as Server-Sent Events until it reaches a final state (Ctrl-C to leave)
    curl -N ${url}/api/v1/orders/$ORDER_ID/events -H "authorization: Bearer $TOKEN"

    # every event of the order, with its time and the service that published it
    curl -s ${url}/api/v1/orders/$ORDER_ID/timeline -H "authorization: Bearer $TOKEN"

    # the shop over the last hour (admin): funnel, revenue, failures, saga latency, products
    curl -s "${url}/api/v1/analytics/dashboard?window=1h" -H "authorization: Bearer ${adminToken}"

${traces}
    Ctrl-C stops everything; the data stays in .data/ for the next npm start.

  `);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stack?.stop();
    process.exit(1);
  }
}
