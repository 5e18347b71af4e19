import type { Database } from "../../lib/db/index.js";

/** The development customer whose id the README's curl lines and the dev token use. */
export const DEV_CUSTOMER = {
  id: "0190a000-0000-7000-8000-0000000000c1",
  email: "ada@example.com",
  name: "Ada Lovelace",
  phone: "+15555550123",
} as const;

/** Inserts the dev customer unless it exists. Loaded only by `npm run seed` and `npm start`. */
export async function seedDevCustomer(orm: Database): Promise<boolean> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute("INSERT INTO customers (id, email, name, phone) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id", [
      DEV_CUSTOMER.id,
      DEV_CUSTOMER.email,
      DEV_CUSTOMER.name,
      DEV_CUSTOMER.phone,
    ]);
  return rows.length > 0;
}
