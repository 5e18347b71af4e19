import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { dropDatabase, serviceDatabaseUrl } from "../lib/db/index.js";
import { startTcpProxy, type TcpProxy } from "../test/harness/tcp-proxy.js";
import { testInfra, uniqueId, waitFor } from "../test/harness/index.js";
import { isServing } from "./health-check.js";
import { type Mesh, startMesh } from "./mesh.js";

/**
 * The chaos scenario restarts a SIGKILLed service while PostgreSQL may be down too (it kills
 * both). A start that fails on the database must be tried again, as any restart policy would,
 * not leave the service down for the rest of the run.
 */
describe("mesh restart while the database is down", () => {
  let proxy: TcpProxy;
  let mesh: Mesh | undefined;
  let databaseUrl: string;
  const logs: string[] = [];

  beforeAll(async () => {
    const direct = new URL(testInfra().databaseUrl);
    proxy = await startTcpProxy(direct.hostname, Number(direct.port));
    const throughProxy = new URL(direct);
    throughProxy.port = String(proxy.port);
    const databasePrefix = `${uniqueId("mr")}_`;
    databaseUrl = serviceDatabaseUrl(testInfra().databaseUrl, `${databasePrefix}delivery`);
    mesh = await startMesh({
      ...testInfra(),
      databaseUrl: throughProxy.toString(),
      databasePrefix,
      eventsPrefix: uniqueId("mr"),
      services: ["delivery"],
      env: { LOG_LEVEL: "warn" },
      onLog: (_service, line) => {
        logs.push(line);
        if (logs.length > 200) logs.shift();
      },
    });
  }, 120_000);

  afterAll(async () => {
    await mesh?.stop();
    await proxy?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  }, 30_000);

  it("launches a service whose start failed on the database again until it is SERVING", async () => {
    await mesh!.kill("delivery");
    await proxy.cut();
    const linesBefore = logs.length;
    const restarted = mesh!.restart("delivery");
    let settled = false;
    void restarted.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The first start fails: it cannot reach the database and exits with its error.
    await waitFor(() => logs.length > linesBefore && mesh!.pid("delivery") === undefined, { timeoutMs: 60_000, message: "a failed start" });
    expect(settled).toBe(false);
    await proxy.restore();
    await restarted;
    expect(await isServing(mesh!.address("delivery"), 2_000)).toBe(true);
  }, 120_000);
});
