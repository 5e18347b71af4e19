import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { isServing } from "../../dev/health-check.js";
import { start } from "../../services/inventory/service.js";
import { waitFor } from "../harness/index.js";
import { expectCode } from "../harness/expect-code.js";
import { createTestRuntime, type TestRuntime } from "../harness/runtime.js";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.js";
import { Code } from "../../lib/errors.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";

/**
 * A service whose PostgreSQL goes away: callers hear UNAVAILABLE (not INTERNAL), and its health
 * (grpc.health.v1 and /healthz) says NOT_SERVING until the database is back.
 */
describe("a service while its database is unreachable", () => {
  let runtime: TestRuntime;
  let proxy: TcpProxy;
  let service: RunningService;
  let client: GrpcClient<typeof InventoryService>;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("inventory");
    const direct = new URL(config.databaseUrl);
    proxy = await startTcpProxy(direct.hostname, Number(direct.port));
    const viaProxy = new URL(config.databaseUrl);
    viaProxy.port = String(proxy.port);
    service = await start(
      { ...config, databaseUrl: viaProxy.toString(), healthCheckIntervalMs: 100, reservationTtlMs: 60_000, sweepIntervalMs: 60_000 },
      { logger: runtime.logger },
    );
    // A high volume threshold: this test looks at codes, not at the test client's own breaker.
    client = createClient(InventoryService, `127.0.0.1:${service.grpcPort}`, { name: "inventory", deadlineMs: 10_000, breaker: { volumeThreshold: 1_000 } });
  });

  afterAll(async () => {
    client?.close();
    await proxy?.restore().catch(() => undefined);
    await service?.stop();
    await proxy?.close();
    await runtime?.cleanup();
  });

  const healthz = async () => {
    const res = await fetch(`http://127.0.0.1:${service.metricsPort}/healthz`);
    return { status: res.status, body: (await res.json()) as { status: string; unreachable?: string[] } };
  };

  it("answers UNAVAILABLE and reports NOT_SERVING, then recovers by itself", async () => {
    const { product } = await client.createProduct({
      sku: `sku-${uuidv7()}`,
      name: "Lamp",
      price: { currencyCode: "USD", amountMinor: 500n },
      initialQuantity: 3,
    });
    const address = `127.0.0.1:${service.grpcPort}`;
    expect(await isServing(address)).toBe(true);

    await proxy.cut();
    await expectCode(client.getProduct({ productId: product!.id }), Code.UNAVAILABLE, /^database unavailable; retry later$/);
    await waitFor(async () => !(await isServing(address)), { message: "grpc.health.v1 to report NOT_SERVING" });
    expect(await healthz()).toEqual({ status: 503, body: { status: "NOT_SERVING", unreachable: ["database"] } });

    await proxy.restore();
    await waitFor(() => isServing(address), { timeoutMs: 20_000, message: "grpc.health.v1 to report SERVING again" });
    expect(await healthz()).toEqual({ status: 200, body: { status: "SERVING" } });
    await waitFor(() => client.getProduct({ productId: product!.id }).then((r) => r.product?.id === product!.id), {
      timeoutMs: 20_000,
      message: "reads to work again",
    });
  });
});
