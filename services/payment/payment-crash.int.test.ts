import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { type Mesh, startMesh } from "../../dev/mesh.js";
import { InventoryReservedSchema } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { OrderCreatedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { dropDatabase, serviceDatabaseUrl } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { EventLog, publishEvent } from "../../test/harness/event-log.js";
import { testInfra, uniqueId, waitFor } from "../../test/harness/index.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";

/** The payment process (services/payment/main.ts) killed with SIGKILL in the middle of a batch of charges. */
describe("payment process crash", () => {
  let runtime: TestRuntime;
  let mesh: Mesh;
  let databaseUrl: string;
  const logs: string[] = [];

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const databasePrefix = `${uniqueId("pc")}_`;
    databaseUrl = serviceDatabaseUrl(testInfra().databaseUrl, `${databasePrefix}payment`);
    mesh = await startMesh({
      ...testInfra(),
      databasePrefix,
      eventsPrefix: runtime.eventsPrefix,
      services: ["payment"],
      // Slow enough that the kill lands mid-batch.
      env: { LOG_LEVEL: "warn", PAYMENT_PROVIDER_LATENCY_MS: "20" },
      onLog: (_service, line) => {
        logs.push(line);
        if (logs.length > 200) logs.shift();
      },
    });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    await runtime?.cleanup();
    if (databaseUrl) await dropDatabase(databaseUrl);
  }, 30_000);

  it("loses and duplicates nothing when killed mid-batch and restarted", async () => {
    const log = new EventLog(runtime.bus);
    const orders = Array.from({ length: 120 }, (_, i) => ({
      orderId: uuidv7(),
      customerId: uuidv7(),
      amountMinor: BigInt(100 + i),
      token: i % 10 === 0 ? "tok_declined" : "tok_visa",
    }));
    for (const o of orders) {
      await publishEvent(runtime.bus, OrderCreatedSchema, {
        orderId: o.orderId,
        customerId: o.customerId,
        total: { currencyCode: "USD", amountMinor: o.amountMinor },
        paymentMethod: { token: o.token },
      });
    }
    for (const o of orders) await publishEvent(runtime.bus, InventoryReservedSchema, { orderId: o.orderId, customerId: o.customerId, reservationId: uuidv7() });

    const outcomes = async () => [...(await log.events(PaymentCompletedSchema)), ...(await log.events(PaymentFailedSchema))];
    await waitFor(async () => (await outcomes()).length >= 10, { timeoutMs: 20_000, message: "the first outcomes" });
    await mesh.kill("payment", "SIGKILL");
    const beforeKill = (await outcomes()).length;
    expect(beforeKill).toBeLessThan(orders.length);
    await mesh.restart("payment");

    await waitFor(async () => (await outcomes()).length >= orders.length, {
      timeoutMs: 40_000,
      message: `an outcome for each of ${orders.length} orders; last logs:\n${logs.slice(-10).join("\n")}`,
    });
    const completed = await log.events(PaymentCompletedSchema);
    const failed = await log.events(PaymentFailedSchema);
    const byOrder = new Map<string, number>();
    for (const e of [...completed, ...failed]) byOrder.set(e.orderId, (byOrder.get(e.orderId) ?? 0) + 1);
    expect(byOrder.size).toBe(orders.length);
    expect([...byOrder.values()].every((n) => n === 1)).toBe(true);
    expect(failed.map((e) => e.orderId).sort()).toEqual(
      orders
        .filter((o) => o.token === "tok_declined")
        .map((o) => o.orderId)
        .sort(),
    );
    for (const e of completed) {
      const order = orders.find((o) => o.orderId === e.orderId)!;
      expect(e.amount?.amountMinor).toBe(order.amountMinor);
    }

    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        "SELECT count(*)::int AS payments, count(DISTINCT order_id)::int AS orders, count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed FROM payments",
      );
      expect(rows[0]).toEqual({ payments: orders.length, orders: orders.length, completed: completed.length });
      const { rows: tokens } = await db.query("SELECT count(*)::int AS held FROM payment_intents WHERE token IS NOT NULL");
      expect(tokens[0].held).toBe(0);
    } finally {
      await db.end();
    }
  }, 90_000);
});
