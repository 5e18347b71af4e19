// npm run seed: loads the development data (five products, one customer) into the inventory
// and order databases on the PostgreSQL server of DATABASE_URL. Existing rows are kept.
import { openDatabase, serviceDatabaseUrl } from "../lib/db/index.js";
import { eventsMigration } from "../lib/events/index.js";
import { createLogger } from "../lib/log.js";
import { entities as inventoryEntities } from "../services/inventory/entities.js";
import { seedCatalog } from "../services/inventory/seed.js";
import { migrations as inventoryMigrations } from "../services/inventory/service.js";
import { entities as orderEntities } from "../services/order/entities.js";
import { DEV_CUSTOMER, seedDevCustomer } from "../services/order/seed.js";
import { migrations as orderMigrations } from "../services/order/service.js";

const logger = createLogger("seed");
const server = process.env.DATABASE_URL ?? "postgres://postgres:postgres@127.0.0.1:5432/postgres";

const inventory = await openDatabase({
  url: serviceDatabaseUrl(server, "ordermesh_inventory"),
  entities: inventoryEntities,
  migrations: [eventsMigration, ...inventoryMigrations],
});
try {
  logger.info({ added: await seedCatalog(inventory) }, "dev catalog (5 products)");
} finally {
  await inventory.close(true);
}

const order = await openDatabase({
  url: serviceDatabaseUrl(server, "ordermesh_order"),
  entities: orderEntities,
  migrations: [eventsMigration, ...orderMigrations],
});
try {
  logger.info({ added: await seedDevCustomer(order), customer_id: DEV_CUSTOMER.id }, "dev customer");
} finally {
  await order.close(true);
}
