import { describe, expect, it } from "@jest/globals";
import { createLogger } from "../log.js";
import { Shutdown } from "./shutdown.js";

/** A logger that keeps what `error` was given, to assert on failures. */
function recordingLogger() {
  const errors: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = createLogger("shutdown-test", { level: "silent" });
  logger.error = ((fields: Record<string, unknown>, message: string) => void errors.push({ fields, message })) as unknown as typeof logger.error;
  return { logger, errors };
}

describe("Shutdown", () => {
  it("closes phase by phase, and within a phase the last added first", async () => {
    const { logger } = recordingLogger();
    const closed: string[] = [];
    const shutdown = new Shutdown(["first", "last"] as const, logger);
    const closer = (name: string) => ({ name, close: () => void closed.push(name) });
    shutdown.add("last", closer("client"));
    shutdown.add("first", closer("server"));
    shutdown.add("last", closer("store"));
    shutdown.add("first", closer("listener"));
    await shutdown.close();
    expect(closed).toEqual(["listener", "server", "store", "client"]);
  });

  it("waits for an asynchronous closer before the next one", async () => {
    const { logger } = recordingLogger();
    const closed: string[] = [];
    const shutdown = new Shutdown(["only"] as const, logger);
    shutdown.add("only", { name: "b", close: () => void closed.push("b") });
    shutdown.add("only", { name: "a", close: () => new Promise<void>((resolve) => setImmediate(() => resolve(void closed.push("a")))) });
    await shutdown.close();
    expect(closed).toEqual(["a", "b"]);
  });

  it("closes each closer once, however often close() is called", async () => {
    const { logger } = recordingLogger();
    let calls = 0;
    const shutdown = new Shutdown(["only"] as const, logger);
    shutdown.add("only", { name: "counted", close: () => void calls++ });
    const first = shutdown.close();
    expect(shutdown.close()).toBe(first);
    await first;
    await shutdown.close();
    expect(calls).toBe(1);
  });

  it("logs a closer that throws or rejects and still closes the others", async () => {
    const { logger, errors } = recordingLogger();
    const closed: string[] = [];
    const shutdown = new Shutdown(["early", "late"] as const, logger);
    shutdown.add("late", { name: "database", close: () => void closed.push("database") });
    shutdown.add("early", { name: "consumer", close: () => void closed.push("consumer") });
    shutdown.add("early", { name: "broken client", close: () => Promise.reject(new Error("socket hang up")) });
    shutdown.add("early", {
      name: "throwing store",
      close: () => {
        throw new Error("already destroyed");
      },
    });
    await expect(shutdown.close()).resolves.toBeUndefined();
    expect(closed).toEqual(["consumer", "database"]);
    expect(errors.map((e) => e.fields.closing)).toEqual(["throwing store", "broken client"]);
    expect(errors.map((e) => (e.fields.err as Error).message)).toEqual(["already destroyed", "socket hang up"]);
  });

  it("closes at once what is added after closing began", async () => {
    const { logger } = recordingLogger();
    const shutdown = new Shutdown(["only"] as const, logger);
    await shutdown.close();
    let closed = false;
    shutdown.add("only", { name: "late", close: () => void (closed = true) });
    expect(closed).toBe(true);
  });

  it("refuses a phase it was not given", () => {
    const shutdown = new Shutdown(["only"] as const, recordingLogger().logger);
    expect(() => shutdown.add("other" as "only", { name: "x", close: () => undefined })).toThrow(/unknown shutdown phase "other"/);
  });
});
