// npm run seed: loads the dev catalog into the inventory database (DATABASE_URL).
import { openDatabase } from "../../lib/db/index.js";
import { eventsMigration } from "../../lib/events/index.js";
import { createLogger } from "../../lib/log.js";
import { readRuntimeConfig } from "../../lib/runtime/index.js";
import { entities } from "./entities.js";
import { seedCatalog } from "./seed.js";
import { migrations } from "./service.js";

const logger = createLogger("inventory-seed");
const config = readRuntimeConfig("inventory");
const orm = await openDatabase({ url: config.databaseUrl, entities, migrations: [eventsMigration, ...migrations], logger });
try {
  const added = await seedCatalog(orm);
  logger.info({ added, total: 5 }, added ? "dev catalog loaded" : "dev catalog already present");
} finally {
  await orm.close(true);
}
