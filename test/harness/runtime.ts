import { type EventBus, busNames, connectBus } from "../../lib/events/index.js";
import { createLogger, type Logger } from "../../lib/log.js";
import type { RuntimeConfig } from "../../lib/runtime/index.js";
import { createTestDatabase, type TestDatabase, testInfra, uniqueId } from "./index.js";

export interface TestRuntime {
  /** Runtime settings for one service: random ports, its own database, the suite's namespace. */
  config(service: string): Promise<RuntimeConfig>;
  /** A bus connection in the suite's namespace, for publishing and reading events. */
  bus: EventBus;
  logger: Logger;
  eventsPrefix: string;
  /** Drops the suite's databases and closes the bus. */
  cleanup(): Promise<void>;
}

/** A namespace for one suite: its stream names and the databases of the services it starts. */
export async function createTestRuntime(): Promise<TestRuntime> {
  const eventsPrefix = uniqueId("s");
  const bus = await connectBus({ natsUrl: testInfra().natsUrl, names: busNames(eventsPrefix), name: `test-${eventsPrefix}` });
  const databases: TestDatabase[] = [];
  return {
    bus,
    eventsPrefix,
    logger: createLogger("test", { level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    async config(service) {
      const db = await createTestDatabase(`${service.slice(0, 3)}_`);
      databases.push(db);
      return { grpcPort: 0, metricsPort: 0, databaseUrl: db.url, natsUrl: testInfra().natsUrl, eventsPrefix };
    },
    async cleanup() {
      await bus.close();
      await Promise.all(databases.map((db) => db.drop()));
    },
  };
}
