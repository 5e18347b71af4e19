import { describe, expect, it } from "@jest/globals";
import type { EntityManager } from "@mikro-orm/postgresql";
import { lockStock } from "./stock-lock.js";

const P = "0190a000-0000-7000-8000-00000000000a";
const MISSING = "0190a000-0000-7000-8000-00000000000b";

/** An EntityManager in a transaction whose connection answers every statement with `products`, counting them. */
function fakeTransaction(products: Record<string, unknown>[]) {
  const statements: string[] = [];
  const connection = {
    query: async ({ text }: { text: string }) => {
      statements.push(text);
      return { rows: [{ reservations: [], products }], rowCount: 1 };
    },
  };
  const trx = { client: { acquireConnection: async () => connection, releaseConnection: async () => undefined } };
  const em = { getTransactionContext: () => trx } as unknown as EntityManager;
  return { em, statements };
}

describe("stock lock", () => {
  // One counter as text: the mapping makes numbers of whatever the driver returns.
  const row = { id: P, status: "ACTIVE", available: 5, reserved: "2", sold: 1, low_stock_threshold: 3 };

  it("reads products as stock levels, under lock, in one statement", async () => {
    const { em, statements } = fakeTransaction([row]);
    const locked = await lockStock(em, [P.toUpperCase(), MISSING]);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain("FOR UPDATE");
    expect(locked.stock.get(P)).toEqual({ productId: P, status: "ACTIVE", available: 5, reserved: 2, sold: 1, lowStockThreshold: 3 });
    // Read and absent: a product that does not exist.
    expect(locked.stock.get(MISSING)).toBeNull();
  });

  it("issues no statement for products the transaction already holds", async () => {
    const { em, statements } = fakeTransaction([row]);
    const first = await lockStock(em, [P]);
    const again = await lockStock(em, [P]);
    expect(statements).toHaveLength(1);
    expect(again).toBe(first);
  });
});
