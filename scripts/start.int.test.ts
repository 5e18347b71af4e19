import { afterAll, describe, expect, it } from "@jest/globals";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DEV_CATALOG } from "../services/inventory/seed.js";
import { DEV_CUSTOMER } from "../services/order/seed.js";
import { waitFor } from "../test/harness/index.js";

/** The pid of the descendant of `root` whose command line contains `needle` (only our own processes). */
function descendant(root: number, needle: string): number | undefined {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === root) return true;
    return false;
  };
  for (const pid of parents.keys()) {
    if (!isOurs(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** `npm start` as a newcomer runs it: the whole system, an order through REST, then Ctrl-C. */
describe("npm start", () => {
  let child: ChildProcess | undefined;
  let dataDir: string;
  const output: string[] = [];

  const stopped = () => output.some((line) => line.includes("[start]") && line.endsWith("stopped"));

  afterAll(async () => {
    // After a failure: the front process forwards SIGTERM to the supervisor, which stops all.
    if (child && !stopped()) {
      try {
        process.kill(-child.pid!, "SIGTERM");
        await waitFor(stopped, { timeoutMs: 60_000, message: "npm start to stop" });
      } catch {
        // already gone
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 90_000);

  it("runs the system, confirms an order placed through the REST API, and stops cleanly on SIGINT", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "ordermesh-start-"));
    await chmod(dataDir, 0o755); // as a checkout's .data/ is; PostgreSQL runs as another user
    child = spawn("npm", ["start"], {
      cwd: new URL("..", import.meta.url).pathname,
      // The harness's PostgreSQL (databases ordermesh_*), NATS and S3 would be shared with
      // other suites; this test starts its own, as npm start does on a fresh machine.
      env: { ...process.env, ORDERMESH_DATA_DIR: dataDir, ORDERMESH_PORTS: "random", DATABASE_URL: "", NATS_URL: "", S3_ENDPOINT: "", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so SIGINT reaches it the way Ctrl-C does
    });
    const exited = new Promise<number | null>((resolve) => child!.once("exit", resolve));
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (line) => output.push(line));

    const url = await waitFor(() => output.join("\n").match(/ready: (http:\/\/127\.0\.0\.1:\d+)/)?.[1], {
      timeoutMs: 120_000,
      message: 'npm start to print "ready"',
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${output.slice(-30).join("\n")}`);
    });
    // The curl lines follow the "ready" line in another write: wait for them too.
    const token = await waitFor(() => output.join("\n").match(/export TOKEN=(\S+)/)?.[1], { message: "npm start to print the token" });
    const adminToken = await waitFor(() => output.join("\n").match(/analytics\/dashboard\?window=1h" -H "authorization: Bearer (\S+)"/)?.[1], {
      message: "npm start to print the dashboard line",
    });

    const created = await fetch(`${url}/api/v1/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        customer_id: DEV_CUSTOMER.id,
        items: [{ product_id: DEV_CATALOG[2].id, quantity: 1 }],
        shipping_address: { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada" },
        payment_method: { token: "tok_visa" },
      }),
    });
    expect(created.status).toBeLessThan(300);
    const { id } = (await created.json()) as { id: string };
    await waitFor(
      async () => {
        const res = await fetch(`${url}/api/v1/orders/${id}`, { headers: { authorization: `Bearer ${token}` } });
        return ((await res.json()) as { status: string }).status === "ORDER_STATUS_CONFIRMED";
      },
      { timeoutMs: 30_000, message: "the order to be CONFIRMED" },
    );
    // Analytics runs too: /health lists it, and the printed timeline and dashboard lines work.
    const health = (await (await fetch(`${url}/health`)).json()) as { upstreams: Record<string, { status: string }> };
    expect(health.upstreams.analytics?.status).toBe("SERVING");
    await waitFor(
      async () => {
        const res = await fetch(`${url}/api/v1/orders/${id}/timeline`, { headers: { authorization: `Bearer ${token}` } });
        return res.status === 200 && ((await res.json()) as { entries: { name: string }[] }).entries.some((e) => e.name === "order.confirmed");
      },
      { timeoutMs: 30_000, message: "the order's timeline to show its confirmation" },
    );
    const dashboard = await fetch(`${url}/api/v1/analytics/dashboard?window=1h`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(dashboard.status).toBe(200);
    expect(Number(((await dashboard.json()) as { funnel: { paid: string } }).funnel.paid)).toBeGreaterThanOrEqual(1);

    // A service that dies is restarted, and says so; orders go through again.
    const payment = descendant(child.pid!, "services/payment/main.ts");
    expect(payment).toBeDefined();
    process.kill(payment!, "SIGKILL");
    await waitFor(() => output.some((line) => /\[start\].*payment was killed by SIGKILL; restarting it in/.test(line)), {
      timeoutMs: 30_000,
      message: "npm start to report the dead service",
    });
    await waitFor(() => output.some((line) => /\[start\].*payment is ready again/.test(line)), { timeoutMs: 60_000, message: "payment to be restarted" });
    const again = await fetch(`${url}/api/v1/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        customer_id: DEV_CUSTOMER.id,
        items: [{ product_id: DEV_CATALOG[2].id, quantity: 1 }],
        shipping_address: { line1: "1 Main St", city: "Springfield", postal_code: "12345", country_code: "US", recipient_name: "Ada" },
        payment_method: { token: "tok_visa" },
      }),
    });
    expect(again.status).toBeLessThan(300);
    const second = ((await again.json()) as { id: string }).id;
    await waitFor(
      async () => {
        const res = await fetch(`${url}/api/v1/orders/${second}`, { headers: { authorization: `Bearer ${token}` } });
        return ((await res.json()) as { status: string }).status === "ORDER_STATUS_CONFIRMED";
      },
      { timeoutMs: 60_000, message: "an order placed after the restart to be CONFIRMED" },
    );

    // Ctrl-C: SIGINT to the whole foreground process group (npm, its shell, the front process).
    process.kill(-child.pid!, "SIGINT");
    await waitFor(stopped, {
      timeoutMs: 60_000,
      message: "npm start to report it stopped",
    });
    await exited;
    expect(output.join("\n")).not.toMatch(/"level":"(error|fatal)"/);
    expect(existsSync(join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  }, 300_000);
});
