import type { EntityManager } from "@mikro-orm/postgresql";
import type { Database } from "../../lib/db/index.js";
import * as store from "./stock-store.js";

/**
 * The development catalog: five products with fixed ids so that the README's curl lines work
 * on every machine. Loaded only by `npm run seed` (and `npm start`), never implicitly.
 */
export const DEV_CATALOG = [
  {
    id: "0190a000-0000-7000-8000-000000000001",
    sku: "LAPTOP-14",
    name: 'Laptop 14"',
    description: "14-inch laptop, 16 GB RAM",
    priceMinor: 129_900n,
    available: 50,
  },
  {
    id: "0190a000-0000-7000-8000-000000000002",
    sku: "MOUSE-WL",
    name: "Wireless mouse",
    description: "Ergonomic wireless mouse",
    priceMinor: 2_999n,
    available: 500,
  },
  {
    id: "0190a000-0000-7000-8000-000000000003",
    sku: "KEYB-MECH",
    name: "Mechanical keyboard",
    description: "Tenkeyless, brown switches",
    priceMinor: 8_950n,
    available: 200,
  },
  {
    id: "0190a000-0000-7000-8000-000000000004",
    sku: "MON-27-4K",
    name: '27" 4K monitor',
    description: "27-inch IPS, 3840x2160",
    priceMinor: 39_900n,
    available: 80,
  },
  {
    id: "0190a000-0000-7000-8000-000000000005",
    sku: "HEADSET-NC",
    name: "Noise-cancelling headset",
    description: "Over-ear, 30 h battery",
    priceMinor: 19_900n,
    available: 5,
  },
] as const;

/** Inserts the dev catalog; products already there (by sku) are left as they are. Returns the number added. */
export async function seedCatalog(orm: Database): Promise<number> {
  return orm.em.fork().transactional(async (em: EntityManager) => {
    let added = 0;
    for (const p of DEV_CATALOG) {
      const rows = await em.getConnection().execute(
        `INSERT INTO products (id, sku, name, description, price_minor, currency_code, status, available, low_stock_threshold)
         VALUES (?, ?, ?, ?, ?, 'USD', 'ACTIVE', ?, 10) ON CONFLICT (sku) DO NOTHING RETURNING id`,
        [p.id, p.sku, p.name, p.description, p.priceMinor.toString(), p.available],
        "all",
        em.getTransactionContext(),
      );
      if (rows.length > 0) {
        await store.recordInitialStock(em, p.id, p.available);
        added++;
      }
    }
    return added;
  });
}
