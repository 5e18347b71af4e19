import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { EntityManager, Knex } from "@mikro-orm/postgresql";
import {
  InventoryInsufficientSchema,
  InventoryProductChangedSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  ReleaseReason,
} from "../../gen/shop/events/v1/inventory_events_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderCreatedSchema, OrderPaymentFailedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { AvailabilityProblem, InventoryService, MovementType, ProductStatus, StockStatus } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { Code } from "../../lib/errors.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { listDeadLetters } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { setupTelemetry } from "../../lib/telemetry/index.js";
import { EventLog, publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { DEV_CATALOG, seedCatalog } from "./seed.js";
import { type InventoryConfig, start } from "./service.js";
import { lockReservationsAndStock } from "./stock-lock.js";
import { deferStockWrites } from "./stock-write.js";
import { adjust, applyToReservation, replenish } from "./stock-store.js";
import { runTransaction, sql } from "../../lib/db/index.js";
import { expectCode } from "../../test/harness/expect-code.js";

/** The part of a node-postgres connection the statement count wraps. */
interface PgConnection {
  query(...args: unknown[]): Promise<unknown>;
}

function orderCreated(orderId: string, lines: { productId: string; quantity: number }[]) {
  return { orderId, customerId: uuidv7(), lines: lines.map((l) => ({ ...l, unitPrice: { currencyCode: "USD", amountMinor: 100n } })) };
}

describe("inventory service", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof InventoryService>;
  let log: EventLog;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("inventory");
    // Spans kept in memory (the first start in this process sets telemetry up for both suites).
    service = await start({ ...config, reservationTtlMs: 60_000, sweepIntervalMs: 50 }, { logger: runtime.logger, inMemoryTelemetry: true });
    client = createClient(InventoryService, `127.0.0.1:${service.grpcPort}`, { name: "inventory", deadlineMs: 10_000 });
    log = new EventLog(runtime.bus);
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  async function product(quantity: number, overrides: { lowStockThreshold?: number; priceMinor?: bigint } = {}) {
    const { product } = await client.createProduct({
      sku: `sku-${uuidv7()}`,
      name: "Widget",
      price: { currencyCode: "USD", amountMinor: overrides.priceMinor ?? 1999n },
      initialQuantity: quantity,
      lowStockThreshold: overrides.lowStockThreshold ?? 2,
    });
    return product!;
  }

  /** The statements `work` runs on its transaction's connection, the commit's included. */
  async function statementsOf(work: (em: EntityManager) => Promise<unknown>): Promise<number> {
    let count = 0;
    let restore = () => {};
    try {
      await runTransaction(service.orm, async (em) => {
        const source = em.getTransactionContext<Knex.Transaction>()!.client as unknown as { acquireConnection(): Promise<PgConnection> };
        const connection = await source.acquireConnection();
        const query = connection.query;
        connection.query = (...args) => (count++, query.apply(connection, args));
        restore = () => (connection.query = query);
        await work(em);
      });
    } finally {
      restore();
    }
    // COMMIT is not the work's (BEGIN was sent before the count began).
    return count - 1;
  }

  /** initial + replenished + adjusted (the movement log) = available + reserved + sold. */
  async function expectConserved(productId: string) {
    const { product: p } = await client.getProduct({ productId });
    const { movements } = await client.listStockMovements({ productId, pageSize: 100 });
    const added = movements.filter((m) => m.type === MovementType.REPLENISH || m.type === MovementType.ADJUST).reduce((sum, m) => sum + m.quantity, 0);
    expect(p!.available + p!.reserved + p!.sold).toBe(added);
  }

  describe("catalog RPCs", () => {
    it("creates, reads, updates and lists products", async () => {
      const created = await product(10);
      expect(created).toMatchObject({ status: ProductStatus.ACTIVE, available: 10, stockStatus: StockStatus.IN_STOCK });
      const { product: updated } = await client.updateProduct({ productId: created.id, name: "Gadget", status: ProductStatus.INACTIVE });
      expect(updated).toMatchObject({ name: "Gadget", status: ProductStatus.INACTIVE, price: { amountMinor: 1999n } });
      const { products, missingProductIds } = await client.batchGetProducts({ productIds: [created.id, uuidv7()] });
      expect(products.map((p) => p.id)).toEqual([created.id]);
      expect(missingProductIds).toHaveLength(1);
      // BatchGetProducts reads with plain SQL, GetProduct through MikroORM: the same product either way.
      expect(products[0]).toEqual(updated);
      const listed = await client.listProducts({ pageSize: 1, status: ProductStatus.INACTIVE });
      expect(listed.products.map((p) => p.id)).toEqual([created.id]);
    });

    it("updates a product while its stock moves (every stock move bumps the row's version)", async () => {
      const p = await product(100);
      const prices = [2001n, 2002n, 2003n, 2004n, 2005n];
      const [updates] = await Promise.all([
        Promise.allSettled(prices.map((amountMinor) => client.updateProduct({ productId: p.id, price: { currencyCode: "USD", amountMinor } }))),
        Promise.all(Array.from({ length: 20 }, () => client.reserve({ orderId: uuidv7(), lines: [{ productId: p.id, quantity: 1 }] }))),
      ]);
      expect(updates.filter((u) => u.status === "rejected")).toEqual([]);
      const { product: after } = await client.getProduct({ productId: p.id });
      expect(prices).toContain(after!.price!.amountMinor);
      expect(after).toMatchObject({ available: 80, reserved: 20 });
    });

    it("pages through products without repeats", async () => {
      for (let i = 0; i < 3; i++) await product(1);
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await client.listProducts({ pageSize: 2, pageToken });
        seen.push(...page.products.map((p) => p.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBeGreaterThanOrEqual(3);
    });

    it("answers bad input with INVALID_ARGUMENT naming the field", async () => {
      await expectCode(client.getProduct({ productId: "../etc/passwd" }), Code.INVALID_ARGUMENT, /product_id/);
      await expectCode(
        client.createProduct({ sku: "x", name: "x", price: { currencyCode: "usd", amountMinor: 1n }, initialQuantity: 1 }),
        Code.INVALID_ARGUMENT,
        /price.currency_code/,
      );
      await expectCode(
        client.createProduct({ sku: "x", name: "x", price: { currencyCode: "USD", amountMinor: -1n } }),
        Code.INVALID_ARGUMENT,
        /price.amount_minor/,
      );
      await expectCode(client.createProduct({ sku: "", name: "x", price: { currencyCode: "USD", amountMinor: 1n } }), Code.INVALID_ARGUMENT, /sku/);
      await expectCode(client.replenish({ productId: uuidv7(), quantity: 0 }), Code.INVALID_ARGUMENT, /quantity/);
      await expectCode(client.reserve({ orderId: uuidv7(), lines: [] }), Code.INVALID_ARGUMENT, /lines/);
      await expectCode(client.reserve({ orderId: uuidv7(), lines: [{ productId: uuidv7(), quantity: -3 }] }), Code.INVALID_ARGUMENT, /lines\[0\].quantity/);
      await expectCode(client.listProducts({ pageToken: "garbage" }), Code.INVALID_ARGUMENT, /page_token/);
    });

    it("rejects a duplicate sku with ALREADY_EXISTS and an unknown product with NOT_FOUND", async () => {
      const p = await product(1);
      await expectCode(client.createProduct({ sku: p.sku, name: "dup", price: { currencyCode: "USD", amountMinor: 1n } }), Code.ALREADY_EXISTS);
      await expectCode(client.getProduct({ productId: uuidv7() }), Code.NOT_FOUND);
    });

    it("replenishes and adjusts stock, never below zero, and logs every movement", async () => {
      const p = await product(5, { lowStockThreshold: 3 });
      await client.replenish({ productId: p.id, quantity: 7, reason: "delivery" });
      const { product: adjusted } = await client.adjustStock({ productId: p.id, delta: -10, reason: "stock count" });
      expect(adjusted?.available).toBe(2);
      expect((await client.getStockStatus({ productId: p.id })).status).toBe(StockStatus.LOW_STOCK);
      await expectCode(client.adjustStock({ productId: p.id, delta: -3, reason: "loss" }), Code.FAILED_PRECONDITION, /would leave -1/);
      const { movements } = await client.listStockMovements({ productId: p.id });
      expect(movements.map((m) => [m.type, m.quantity])).toEqual([
        [MovementType.REPLENISH, 5],
        [MovementType.REPLENISH, 7],
        [MovementType.ADJUST, -10],
      ]);
      await expectConserved(p.id);
    });
  });

  describe("CheckAvailability", () => {
    it("answers per line without reserving anything", async () => {
      const plenty = await product(10);
      const few = await product(1);
      const inactive = await product(5);
      await client.updateProduct({ productId: inactive.id, status: ProductStatus.INACTIVE });
      const unknown = uuidv7();
      const response = await client.checkAvailability({
        lines: [
          { productId: plenty.id, quantity: 10 },
          { productId: few.id, quantity: 2 },
          { productId: inactive.id, quantity: 1 },
          { productId: unknown, quantity: 1 },
        ],
      });
      expect(response.allAvailable).toBe(false);
      expect(response.lines.map((l) => [l.productId, l.requested, l.available, l.orderable, l.problem])).toEqual([
        [plenty.id, 10, 10, true, AvailabilityProblem.UNSPECIFIED],
        [few.id, 2, 1, false, AvailabilityProblem.INSUFFICIENT_STOCK],
        [inactive.id, 1, 5, false, AvailabilityProblem.INACTIVE],
        [unknown, 1, 0, false, AvailabilityProblem.UNKNOWN_PRODUCT],
      ]);
      expect((await client.checkAvailability({ lines: [{ productId: plenty.id, quantity: 3 }] })).allAvailable).toBe(true);
      expect((await client.getProduct({ productId: plenty.id })).product).toMatchObject({ available: 10, reserved: 0 });
    });

    it("names bad lines", async () => {
      const p = await product(1);
      await expectCode(client.checkAvailability({ lines: [] }), Code.INVALID_ARGUMENT, /^lines/);
      await expectCode(client.checkAvailability({ lines: [{ productId: p.id, quantity: 0 }] }), Code.INVALID_ARGUMENT, /^lines\[0\]\.quantity/);
      await expectCode(client.checkAvailability({ lines: [{ productId: "x", quantity: 1 }] }), Code.INVALID_ARGUMENT, /^lines\[0\]\.product_id/);
      await expectCode(
        client.checkAvailability({
          lines: [
            { productId: p.id, quantity: 1 },
            { productId: p.id.toUpperCase(), quantity: 1 },
          ],
        }),
        Code.INVALID_ARGUMENT,
        /^lines\[1\]\.product_id: duplicates lines\[0\]/,
      );
    });
  });

  describe("Reserve and Release RPCs", () => {
    it("reserves all lines or none", async () => {
      const a = await product(5);
      const b = await product(1);
      const orderId = uuidv7();
      await expectCode(
        client.reserve({
          orderId,
          lines: [
            { productId: a.id, quantity: 2 },
            { productId: b.id, quantity: 2 },
          ],
        }),
        Code.FAILED_PRECONDITION,
        new RegExp(`${b.id}: 2 requested, 1 available`),
      );
      expect((await client.getProduct({ productId: a.id })).product?.available).toBe(5);
      const { reservation } = await client.reserve({
        orderId,
        lines: [
          { productId: a.id, quantity: 2 },
          { productId: b.id, quantity: 1 },
        ],
      });
      expect(reservation?.lines).toHaveLength(2);
      expect((await client.getProduct({ productId: a.id })).product).toMatchObject({ available: 3, reserved: 2 });
      await client.release({ orderId, reason: "test" });
      expect((await client.getProduct({ productId: a.id })).product).toMatchObject({ available: 5, reserved: 0 });
      await expectConserved(a.id);
      await expectConserved(b.id);
    });

    it("never oversells: 50 concurrent reservations for 10 units, exactly 10 succeed", async () => {
      const p = await product(10);
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => client.reserve({ orderId: uuidv7(), lines: [{ productId: p.id, quantity: 1 }] })),
      );
      const succeeded = results.filter((r) => r.status === "fulfilled").length;
      const refused = results.filter((r) => r.status === "rejected" && (r.reason as { code: Code }).code === Code.FAILED_PRECONDITION).length;
      expect(succeeded).toBe(10);
      expect(refused).toBe(40);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 0, reserved: 10, sold: 0 });
      await expectConserved(p.id);
    });
  });

  describe("saga", () => {
    it("reserves on order.created, once even when the event is delivered twice", async () => {
      const p = await product(10);
      const orderId = uuidv7();
      const eventId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 3 }]), eventId);
      const reserved = await log.expectEvent(InventoryReservedSchema, orderId);
      expect(reserved.lines).toEqual([expect.objectContaining({ productId: p.id, quantity: 3 })]);
      // The same event again under another message id: JetStream cannot de-duplicate it.
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 3 }]), eventId, uuidv7());
      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(marker, [{ productId: p.id, quantity: 1 }]));
      await log.expectEvent(InventoryReservedSchema, marker);
      expect(await log.events(InventoryReservedSchema, orderId)).toHaveLength(1);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 6, reserved: 4 });
    });

    it("locks a whole batch's reservations and stock first: named products and those an order's reservation holds", async () => {
      const [held, named, other] = [await product(5), await product(5), await product(5)];
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: held.id, quantity: 1 }]));
      await log.expectEvent(InventoryReservedSchema, orderId);
      const lockedNow = async (table: "products" | "reservations", column: string, id: string) => {
        // NOWAIT from another connection: fails at once on a row the batch's transaction holds.
        try {
          await service.orm.em.fork().getConnection().execute(`SELECT 1 FROM ${table} WHERE ${column} = ? FOR UPDATE NOWAIT`, [id]);
          return false;
        } catch (error) {
          if ((error as { code?: string }).code === "55P03") return true;
          throw error;
        }
      };
      await service.orm.em.fork().transactional(async (em) => {
        const locked = await lockReservationsAndStock(em, { productIds: [named.id, "not-a-uuid"], orderIds: [orderId.toUpperCase(), uuidv7()] });
        expect(await lockedNow("reservations", "order_id", orderId)).toBe(true);
        expect(await lockedNow("products", "id", held.id)).toBe(true);
        expect(await lockedNow("products", "id", named.id)).toBe(true);
        expect(await lockedNow("products", "id", other.id)).toBe(false);
        // What the handlers decide on, read in the same statement.
        expect(locked.reservations.get(orderId)).toMatchObject({ status: "ACTIVE", lines: [{ productId: held.id, quantity: 1 }] });
        expect(locked.stock.get(held.id)).toMatchObject({ available: 4, reserved: 1 });
        expect([...locked.reservations.values()].filter((r) => r === null)).toHaveLength(1);
      });
      expect(await lockedNow("products", "id", held.id)).toBe(false);
    });

    it.each([
      ["each written at once", false],
      ["all written at the commit", true],
    ])("applies several orders in one transaction, each deciding on what the ones before it wrote (%s)", async (_, deferred) => {
      const p = await product(5);
      const [first, second, third, cancelled] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
      const lines = (quantity: number) => [{ productId: p.id, quantity }];
      const results = await runTransaction(service.orm, async (em) => {
        if (deferred) deferStockWrites(em);
        await lockReservationsAndStock(em, { orderIds: [first, second, third, cancelled], productIds: [p.id] });
        const reserve = (orderId: string, quantity: number) =>
          applyToReservation(em, orderId, { type: "reserve", customerId: "c", lines: lines(quantity), ttlMs: 60_000 });
        return [
          await reserve(first, 3),
          // Only 2 left after the first order: the batch's own write is what this decides on.
          await reserve(second, 3),
          await reserve(third, 2),
          await applyToReservation(em, first, { type: "commit", customerId: "c", lines: lines(3) }),
          await applyToReservation(em, cancelled, { type: "release", reason: "CANCELLED" }),
          // A late order.created after the cancellation, in the same batch: the tombstone stops it.
          await reserve(cancelled, 1),
          // A repeated order.created of an order reserved earlier in the batch.
          await reserve(third, 2),
        ];
      });
      expect(results.map((r) => r.kind)).toEqual(["reserved", "insufficient", "reserved", "committed", "recorded", "ignored", "ignored"]);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 0, reserved: 2, sold: 3 });
      await expectConserved(p.id);
      // The rows as the results said: the first order inserted and committed in one transaction.
      const rows = await sql(
        service.orm.em.fork(),
        "SELECT r.order_id, r.status, r.release_reason, (SELECT count(*)::int FROM reservation_lines l WHERE l.reservation_id = r.id) AS lines FROM reservations r WHERE r.order_id = ANY(?::uuid[]) ORDER BY r.order_id",
        [[first, second, third, cancelled]],
      );
      expect(rows).toEqual([
        { order_id: first, status: "COMMITTED", release_reason: null, lines: 1 },
        { order_id: third, status: "ACTIVE", release_reason: null, lines: 1 },
        { order_id: cancelled, status: "RELEASED", release_reason: "CANCELLED", lines: 0 },
      ]);
      const { movements } = await client.listStockMovements({ productId: p.id, pageSize: 100 });
      expect(movements.map((m) => [m.type, m.quantity])).toEqual(
        expect.arrayContaining([
          [MovementType.RESERVE, 3],
          [MovementType.RESERVE, 2],
          [MovementType.COMMIT, 3],
        ]),
      );
      expect(movements).toHaveLength(4);
    });

    it("writes a batch that defers its writes in one statement at the commit", async () => {
      const p = await product(50);
      const orders = Array.from({ length: 10 }, () => uuidv7());
      const statements = await statementsOf(async (em) => {
        deferStockWrites(em);
        await lockReservationsAndStock(em, { orderIds: orders, productIds: [p.id] });
        for (const orderId of orders) {
          await applyToReservation(em, orderId, { type: "reserve", customerId: "c", lines: [{ productId: p.id, quantity: 2 }], ttlMs: 60_000 });
        }
        await applyToReservation(em, orders[0], { type: "release", reason: "CANCELLED" });
      });
      // The lock, then one write at the commit.
      expect(statements).toBe(2);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 32, reserved: 18, sold: 0 });
      await expectConserved(p.id);
    });

    it("fails the commit of a batch whose reservation insert lost to a concurrent one, having written nothing", async () => {
      const p = await product(10);
      const [raced, other] = [uuidv7(), uuidv7()];
      const lines = [{ productId: p.id, quantity: 1 }];
      const reserve = (em: EntityManager, orderId: string) => applyToReservation(em, orderId, { type: "reserve", customerId: "c", lines, ttlMs: 60_000 });
      const batch = runTransaction(service.orm, async (em) => {
        deferStockWrites(em);
        await lockReservationsAndStock(em, { orderIds: [raced, other], productIds: [p.id] });
        expect((await reserve(em, other)).kind).toBe("reserved");
        expect((await reserve(em, raced)).kind).toBe("reserved");
        // The order is cancelled meanwhile: its tombstone is committed before the batch's insert.
        const cancelled = await runTransaction(service.orm, (em2) => applyToReservation(em2, raced, { type: "release", reason: "CANCELLED" }));
        expect(cancelled.kind).toBe("recorded");
      });
      await expect(batch).rejects.toThrow(`a concurrent transaction reserved for order ${raced} first`);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 10, reserved: 0 });
      // Applied one at a time, as the consumer then does, each decides on the rows as they are.
      expect((await runTransaction(service.orm, (em) => reserve(em, other))).kind).toBe("reserved");
      expect((await runTransaction(service.orm, (em) => reserve(em, raced))).kind).toBe("ignored");
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 9, reserved: 1 });
      await expectConserved(p.id);
    });

    it("costs one statement per step: the lock (none when the batch holds it) and the write", async () => {
      const p = await product(50);
      const [cold, batched] = [uuidv7(), uuidv7()];
      const lines = [{ productId: p.id, quantity: 1 }];
      const counts = {
        reserve: await statementsOf((em) => applyToReservation(em, cold, { type: "reserve", customerId: "c", lines, ttlMs: 60_000 })),
        reserveInBatch: await statementsOf(async (em) => {
          await lockReservationsAndStock(em, { orderIds: [batched], productIds: [p.id] });
          await applyToReservation(em, batched, { type: "reserve", customerId: "c", lines, ttlMs: 60_000 });
        }),
        commit: await statementsOf((em) => applyToReservation(em, cold, { type: "commit", customerId: "c", lines })),
        release: await statementsOf((em) => applyToReservation(em, batched, { type: "release", reason: "CANCELLED" })),
        replenish: await statementsOf((em) => replenish(em, p.id, 5, "delivery")),
        adjust: await statementsOf((em) => adjust(em, p.id, -3, "stock count")),
      };
      expect(counts).toEqual({ reserve: 2, reserveInBatch: 2, commit: 2, release: 2, replenish: 2, adjust: 2 });
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 51, reserved: 0, sold: 1 });
      await expectConserved(p.id);
    });

    it("never oversells when consumer batches and Reserve RPCs take the same product at once", async () => {
      const p = await product(10);
      const viaEvents = Array.from({ length: 15 }, () => uuidv7());
      const [rpcResults] = await Promise.all([
        Promise.allSettled(Array.from({ length: 15 }, () => client.reserve({ orderId: uuidv7(), lines: [{ productId: p.id, quantity: 1 }] }))),
        Promise.all(viaEvents.map((orderId) => publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 1 }])))),
      ]);
      // One order after the other: EventLog reads the stream with a cursor that concurrent calls would share.
      const outcomes = async () => {
        const counts: { reserved: number; insufficient: number }[] = [];
        for (const orderId of viaEvents) {
          counts.push({
            reserved: (await log.events(InventoryReservedSchema, orderId)).length,
            insufficient: (await log.events(InventoryInsufficientSchema, orderId)).length,
          });
        }
        return counts;
      };
      const answered = await waitFor(
        async () => {
          const counts = await outcomes();
          return counts.every((c) => c.reserved + c.insufficient === 1) && counts;
        },
        { message: "every order.created answered once" },
      );
      const reservedByEvents = answered.filter((c) => c.reserved === 1).length;
      const reservedByRpc = rpcResults.filter((r) => r.status === "fulfilled").length;
      expect(reservedByEvents + reservedByRpc).toBe(10);
      // A refused Reserve was refused for want of stock, not by a deadlock or a lost race.
      const refusals = rpcResults.flatMap((r) => (r.status === "rejected" ? [(r.reason as { code?: unknown }).code] : []));
      expect(refusals).toEqual(refusals.map(() => Code.FAILED_PRECONDITION));
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 0, reserved: 10, sold: 0 });
      await expectConserved(p.id);
    });

    it("publishes inventory.insufficient naming the short products", async () => {
      const p = await product(1);
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 2 }]));
      const insufficient = await log.expectEvent(InventoryInsufficientSchema, orderId);
      expect(insufficient.shortages).toEqual([expect.objectContaining({ productId: p.id, requested: 2, available: 1 })]);
      expect((await client.getProduct({ productId: p.id })).product?.available).toBe(1);
    });

    it("commits on order.confirmed and returns stock on order.cancelled after that", async () => {
      const p = await product(5);
      const orderId = uuidv7();
      const created = orderCreated(orderId, [{ productId: p.id, quantity: 2 }]);
      await publishEvent(runtime.bus, OrderCreatedSchema, created);
      await log.expectEvent(InventoryReservedSchema, orderId);
      await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId, customerId: created.customerId, lines: created.lines });
      await waitFor(async () => (await client.getProduct({ productId: p.id })).product?.sold === 2, { message: "stock sold" });
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, customerId: created.customerId, reason: "customer" });
      const released = await log.expectEvent(InventoryReleasedSchema, orderId);
      expect(released.reason).toBe(ReleaseReason.CANCELLED);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 5, reserved: 0, sold: 0 });
      await expectConserved(p.id);
    });

    it("announces product_changed when available stock runs out or comes back, and on no other stock move", async () => {
      const p = await product(2);
      const changes = async () => (await log.events(InventoryProductChangedSchema)).filter((e) => e.productId === p.id).length;
      const available = async () => (await client.getProduct({ productId: p.id })).product!.available;
      const [first, second, saga] = [uuidv7(), uuidv7(), uuidv7()];
      await client.reserve({ orderId: first, lines: [{ productId: p.id, quantity: 1 }] }); // 2 -> 1
      await client.reserve({ orderId: second, lines: [{ productId: p.id, quantity: 1 }] }); // 1 -> 0: sold out (1)
      await client.release({ orderId: second, reason: "test" }); // 0 -> 1: back (2)
      await client.replenish({ productId: p.id, quantity: 5, reason: "delivery" }); // 1 -> 6
      await client.adjustStock({ productId: p.id, delta: -6, reason: "stock count" }); // 6 -> 0: sold out (3)
      await client.replenish({ productId: p.id, quantity: 3, reason: "delivery" }); // 0 -> 3: back (4)
      // The saga's moves go through the same place: reserve to zero, commit (no change of available), cancel after it.
      const created = orderCreated(saga, [{ productId: p.id, quantity: 3 }]);
      await publishEvent(runtime.bus, OrderCreatedSchema, created); // 3 -> 0: sold out (5)
      await log.expectEvent(InventoryReservedSchema, saga);
      await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: saga, customerId: created.customerId, lines: created.lines });
      await waitFor(async () => (await client.getProduct({ productId: p.id })).product?.sold === 3, { message: "stock sold" });
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: saga, customerId: created.customerId, reason: "customer" }); // 0 -> 3: back (6)
      await waitFor(async () => (await available()) === 3, { message: "sold units returned" });

      // One aggregate's events are published in order: once the sixth is out, any extra one would be too.
      await waitFor(async () => (await changes()) >= 6 || undefined, { message: "six product_changed events" });
      expect(await changes()).toBe(6);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 3, reserved: 1, sold: 0 });
    });

    /** Resolves once `consumer` has committed the event `eventId`. */
    async function handled(consumer: string, eventId: string): Promise<void> {
      await waitFor(
        async () =>
          (await service.orm.em.getConnection().execute("SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?", [consumer, eventId])).length ===
          1,
        { message: `${consumer} to handle event ${eventId}` },
      );
    }

    it("counts nothing as sold when order.cancelled is handled before order.confirmed", async () => {
      const p = await product(5);
      const orderId = uuidv7();
      const created = orderCreated(orderId, [{ productId: p.id, quantity: 2 }]);
      await publishEvent(runtime.bus, OrderCreatedSchema, created);
      await log.expectEvent(InventoryReservedSchema, orderId);
      // Cancelled 0.2 s after the confirmation, but the release consumer gets there first.
      const cancelled = await publishEvent(runtime.bus, OrderCancelledSchema, {
        orderId,
        customerId: created.customerId,
        reason: "customer",
        wasCharged: true,
      });
      await handled("inventory-release-cancelled", cancelled);
      const confirmed = await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId, customerId: created.customerId, lines: created.lines });
      await handled("inventory-commit", confirmed);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 5, reserved: 0, sold: 0 });
      expect((await log.expectEvent(InventoryReleasedSchema, orderId)).reason).toBe(ReleaseReason.CANCELLED);
      expect((await log.events(InventoryReleasedSchema, orderId)).map((e) => e.reason)).toEqual([ReleaseReason.CANCELLED]);
      expect(await log.events(InventoryInsufficientSchema, orderId)).toHaveLength(0);
      await expectConserved(p.id);
    });

    it("takes the stock of an order confirmed before its order.created arrived, without waiting", async () => {
      const p = await product(5);
      const orderId = uuidv7();
      const created = orderCreated(orderId, [{ productId: p.id, quantity: 3 }]);
      const confirmed = await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId, customerId: created.customerId, lines: created.lines });
      await handled("inventory-commit", confirmed);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 2, reserved: 0, sold: 3 });
      const createdId = await publishEvent(runtime.bus, OrderCreatedSchema, created);
      await handled("inventory-reserve", createdId);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 2, reserved: 0, sold: 3 });
      expect(await log.events(InventoryReservedSchema, orderId)).toHaveLength(0);
      // A cancellation afterwards returns the sold units.
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, customerId: created.customerId, reason: "customer", wasCharged: true });
      expect((await log.expectEvent(InventoryReleasedSchema, orderId)).reason).toBe(ReleaseReason.CANCELLED);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 5, reserved: 0, sold: 0 });
      await expectConserved(p.id);
    });

    it("cancels a paid order whose stock is gone by the time its early confirmation arrives", async () => {
      const p = await product(1);
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, {
        orderId,
        customerId: uuidv7(),
        lines: orderCreated(orderId, [{ productId: p.id, quantity: 2 }]).lines,
      });
      const insufficient = await log.expectEvent(InventoryInsufficientSchema, orderId);
      expect(insufficient.shortages).toEqual([expect.objectContaining({ productId: p.id, requested: 2, available: 1 })]);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 1, sold: 0 });
    });

    it("releases on payment failure", async () => {
      const p = await product(5);
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 5 }]));
      await log.expectEvent(InventoryReservedSchema, orderId);
      await publishEvent(runtime.bus, OrderPaymentFailedSchema, { orderId, reason: "declined" });
      expect((await log.expectEvent(InventoryReleasedSchema, orderId)).reason).toBe(ReleaseReason.PAYMENT_FAILED);
      expect((await client.getProduct({ productId: p.id })).product).toMatchObject({ available: 5, reserved: 0 });
    });

    it("does not reserve for an order cancelled before its order.created arrived", async () => {
      const p = await product(5);
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, reason: "fast cancel" });
      // The two events go to different consumers; let the cancellation land first.
      await waitFor(async () => (await service.orm.em.getConnection().execute("SELECT 1 FROM reservations WHERE order_id = ?", [orderId])).length === 1, {
        message: "cancellation recorded",
      });
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(orderId, [{ productId: p.id, quantity: 1 }]));
      const marker = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(marker, [{ productId: p.id, quantity: 1 }]));
      await log.expectEvent(InventoryReservedSchema, marker);
      expect(await log.events(InventoryReservedSchema, orderId)).toHaveLength(0);
    });
  });
});

describe("inventory reservation expiry and dev catalog", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let log: EventLog;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("inventory");
    service = await start({ ...config, reservationTtlMs: 300, sweepIntervalMs: 50 }, { logger: runtime.logger, inMemoryTelemetry: true });
    log = new EventLog(runtime.bus);
  });

  afterAll(async () => {
    await service?.stop();
    await runtime?.cleanup();
  });

  it("releases a reservation whose expiry passed with inventory.released(EXPIRED)", async () => {
    expect(await seedCatalog(service.orm)).toBe(5);
    const productId = DEV_CATALOG[0].id;
    const orderId = uuidv7();
    await publishEvent(runtime.bus, OrderCreatedSchema, {
      orderId,
      customerId: uuidv7(),
      lines: [{ productId, quantity: 4, unitPrice: { currencyCode: "USD", amountMinor: 1n } }],
    });
    await log.expectEvent(InventoryReservedSchema, orderId);
    const released = await log.expectEvent(InventoryReleasedSchema, orderId);
    expect(released.reason).toBe(ReleaseReason.EXPIRED);
    expect(released.lines).toEqual([expect.objectContaining({ productId, quantity: 4 })]);
    const [row] = await service.orm.em.getConnection().execute("SELECT available, reserved FROM products WHERE id = ?", [productId]);
    expect(row).toEqual({ available: DEV_CATALOG[0].available, reserved: 0 });

    // The expiry is timer work: a trace of its own, linked to the trace that made the
    // reservation, and the inventory.released event it publishes travels in it.
    const spans = setupTelemetry({ serviceName: "inventory" }).memory!;
    const ofOrder = () => spans.getFinishedSpans().filter((span) => span.attributes["shop.order.id"] === orderId);
    const expiry = await waitFor(() => ofOrder().find((span) => span.name === "expire reservation"), { message: "the expiry's span" });
    expect(expiry.parentSpanContext).toBeUndefined();
    expect(expiry.links).toHaveLength(1);
    // The link points at the span that made the reservation: the consumer of order.created.
    const reserved = spans.getFinishedSpans().find((span) => span.spanContext().spanId === expiry.links[0].context.spanId);
    expect(reserved?.name).toMatch(/^process .*order\.created$/);
    expect(expiry.spanContext().traceId).not.toBe(reserved?.spanContext().traceId);
    const send = await waitFor(() => ofOrder().find((span) => span.name.startsWith("send ") && span.name.endsWith("inventory.released")), {
      message: "the relay's span of inventory.released",
    });
    expect(send.spanContext().traceId).toBe(expiry.spanContext().traceId);
  });

  it("re-takes an expired reservation's stock on confirmation, but not once the order was cancelled", async () => {
    const productId = DEV_CATALOG[1].id;
    const stock = async () => (await service.orm.em.getConnection().execute("SELECT available, reserved, sold FROM products WHERE id = ?", [productId]))[0];
    const before = await stock();
    const lines = [{ productId, quantity: 2, unitPrice: { currencyCode: "USD", amountMinor: 1n } }];
    const handled = (consumer: string, eventId: string) =>
      waitFor(
        async () =>
          (await service.orm.em.getConnection().execute("SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?", [consumer, eventId])).length ===
          1,
        { message: `${consumer} to handle ${eventId}` },
      );

    // Paid while the reservation expired: the confirmation takes the units again.
    const paid = uuidv7();
    await publishEvent(runtime.bus, OrderCreatedSchema, { orderId: paid, customerId: uuidv7(), lines });
    expect((await log.expectEvent(InventoryReleasedSchema, paid)).reason).toBe(ReleaseReason.EXPIRED);
    await handled("inventory-commit", await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: paid, lines }));
    expect(await stock()).toEqual({ ...before, available: before.available - 2, sold: before.sold + 2 });

    // Expired, then confirmed and cancelled at once; the cancellation is handled first.
    const cancelled = uuidv7();
    await publishEvent(runtime.bus, OrderCreatedSchema, { orderId: cancelled, customerId: uuidv7(), lines });
    expect((await log.expectEvent(InventoryReleasedSchema, cancelled)).reason).toBe(ReleaseReason.EXPIRED);
    await handled(
      "inventory-release-cancelled",
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: cancelled, reason: "customer", wasCharged: true }),
    );
    await handled("inventory-commit", await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: cancelled, lines }));
    expect(await stock()).toEqual({ ...before, available: before.available - 2, sold: before.sold + 2 });
  });

  it("loads the dev catalog once", async () => {
    expect(await seedCatalog(service.orm)).toBe(0);
    const [{ count }] = await service.orm.em.getConnection().execute("SELECT count(*)::int AS count FROM products");
    expect(count).toBe(5);
  });
});

describe("inventory consumer batches", () => {
  let runtime: TestRuntime;
  let config: InventoryConfig;
  let service: RunningService | undefined;
  let client: GrpcClient<typeof InventoryService> | undefined;
  let log: EventLog;

  async function startInventory(): Promise<GrpcClient<typeof InventoryService>> {
    service = await start(config, { logger: runtime.logger, inMemoryTelemetry: true });
    client = createClient(InventoryService, `127.0.0.1:${service.grpcPort}`, { name: "inventory", deadlineMs: 10_000 });
    return client;
  }

  async function stopInventory(): Promise<void> {
    client?.close();
    client = undefined;
    await service?.stop();
    service = undefined;
  }

  beforeAll(async () => {
    runtime = await createTestRuntime();
    config = { ...(await runtime.config("inventory")), reservationTtlMs: 60_000, sweepIntervalMs: 60_000 };
    log = new EventLog(runtime.bus);
  });

  afterAll(async () => {
    await stopInventory();
    await runtime?.cleanup();
  });

  /** Event ids in this suite's dead-letter stream. */
  async function deadLetters(): Promise<string[]> {
    return (await listDeadLetters(runtime.bus.jsm, runtime.bus.names)).entries.map((entry) => entry.eventId);
  }

  it("applies events that arrived together; a poisoned one goes to the DLQ alone; a redelivered part applies nothing twice", async () => {
    let rpc = await startInventory();
    const create = async (initialQuantity: number) =>
      (await rpc.createProduct({ sku: `sku-${uuidv7()}`, name: "Batch", price: { currencyCode: "USD", amountMinor: 100n }, initialQuantity })).product!;
    const [a, b] = [await create(10), await create(5)];
    const [o1, o2, o3, o4, o5] = [uuidv7(), uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    const events = {
      o1: orderCreated(o1, [{ productId: a.id, quantity: 2 }]),
      o2: orderCreated(o2, [
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 1 },
      ]),
      // Poisoned: a line of zero units can never be reserved.
      o3: orderCreated(o3, [{ productId: a.id, quantity: 0 }]),
      o4: orderCreated(o4, [{ productId: b.id, quantity: 2 }]),
    };

    // With the service stopped the events wait in the stream, and arrive together when it starts.
    await stopInventory();
    const ids = {
      o1: await publishEvent(runtime.bus, OrderCreatedSchema, events.o1),
      o2: await publishEvent(runtime.bus, OrderCreatedSchema, events.o2),
      o3: await publishEvent(runtime.bus, OrderCreatedSchema, events.o3),
      o4: await publishEvent(runtime.bus, OrderCreatedSchema, events.o4),
    };
    await publishEvent(runtime.bus, OrderCreatedSchema, events.o1, ids.o1, uuidv7());
    rpc = await startInventory();
    for (const orderId of [o1, o2, o4]) await log.expectEvent(InventoryReservedSchema, orderId);
    await waitFor(async () => (await deadLetters()).includes(ids.o3), { message: "the poisoned event in the DLQ" });
    expect(await deadLetters()).toEqual([ids.o3]);
    expect((await rpc.getProduct({ productId: a.id })).product).toMatchObject({ available: 5, reserved: 5 });
    expect((await rpc.getProduct({ productId: b.id })).product).toMatchObject({ available: 2, reserved: 3 });
    const [{ count }] = await service!.orm.em.fork().getConnection().execute("SELECT count(*)::int AS count FROM reservations WHERE order_id = ?", [o3]);
    expect(count).toBe(0);

    // Part of that batch again (same event ids, new message ids), together with a new event.
    await stopInventory();
    await publishEvent(runtime.bus, OrderCreatedSchema, events.o1, ids.o1, uuidv7());
    await publishEvent(runtime.bus, OrderCreatedSchema, events.o2, ids.o2, uuidv7());
    await publishEvent(runtime.bus, OrderCreatedSchema, orderCreated(o5, [{ productId: a.id, quantity: 1 }]));
    await publishEvent(runtime.bus, OrderCreatedSchema, events.o4, ids.o4, uuidv7());
    rpc = await startInventory();
    await log.expectEvent(InventoryReservedSchema, o5);
    for (const orderId of [o1, o2, o4]) expect(await log.events(InventoryReservedSchema, orderId)).toHaveLength(1);
    expect((await rpc.listStockMovements({ orderId: o2, pageSize: 10 })).movements).toHaveLength(2);
    expect((await rpc.getProduct({ productId: a.id })).product).toMatchObject({ available: 4, reserved: 6, sold: 0 });
    expect((await rpc.getProduct({ productId: b.id })).product).toMatchObject({ available: 2, reserved: 3, sold: 0 });
    expect(await deadLetters()).toEqual([ids.o3]);
  });
});
