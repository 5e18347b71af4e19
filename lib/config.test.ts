import { describe, expect, it } from "@jest/globals";
import { address, bool, ConfigError, decimal, int, oneOf, readConfig, str, url, urlList } from "./config.js";

describe("readConfig", () => {
  const spec = {
    port: int("PORT", 50051, { min: 0, max: 65535 }),
    inventoryAddr: address("INVENTORY_ADDR", "127.0.0.1:50052"),
    databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:"]),
    logLevel: oneOf("LOG_LEVEL", ["debug", "info", "warn"] as const, "info"),
    tracing: bool("TRACING", false),
    name: str("SERVICE_NAME", "order"),
  };

  it("applies defaults and parses typed values", () => {
    const config = readConfig(spec, { DATABASE_URL: "postgres://u@h/db", PORT: "7000", TRACING: "yes" });
    expect(config).toEqual({
      port: 7000,
      inventoryAddr: "127.0.0.1:50052",
      databaseUrl: "postgres://u@h/db",
      logLevel: "info",
      tracing: true,
      name: "order",
    });
  });

  it("names every bad variable in one error", () => {
    let error: unknown;
    try {
      readConfig(spec, { PORT: "70000", INVENTORY_ADDR: "inventory", DATABASE_URL: "mysql://x/y", TRACING: "maybe" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(4);
    expect(message).toContain('PORT must be an integer between 0 and 65535, got "70000"');
    expect(message).toContain('INVENTORY_ADDR must be host:port, got "inventory"');
    expect(message).toContain("DATABASE_URL must use postgres: or postgresql:");
    expect(message).toContain('TRACING must be true or false, got "maybe"');
  });

  it("reports a missing required variable", () => {
    expect(() => readConfig(spec, {})).toThrow("DATABASE_URL is required but not set");
  });

  it("treats blank values as unset", () => {
    expect(readConfig({ port: int("PORT", 1) }, { PORT: "  " }).port).toBe(1);
  });

  it("reads decimals within a range", () => {
    const spec = { rate: decimal("RATE", 0, { min: 0, max: 1 }) };
    expect(readConfig(spec, { RATE: "0.25" }).rate).toBe(0.25);
    expect(readConfig(spec, {}).rate).toBe(0);
    expect(() => readConfig(spec, { RATE: "1.5" })).toThrow('RATE must be a number between 0 and 1, got "1.5"');
    expect(() => readConfig(spec, { RATE: "abc" })).toThrow("RATE must be a number");
  });

  it("reads a comma-separated URL list (a NATS cluster), checking and trimming every entry", () => {
    const spec = { nats: urlList("NATS_URL", ["nats:", "tls:"], "nats://127.0.0.1:4222") };
    expect(readConfig(spec, {}).nats).toBe("nats://127.0.0.1:4222");
    expect(readConfig(spec, { NATS_URL: "nats://a:4222, nats://b:4222 ,tls://c:4222" }).nats).toBe("nats://a:4222,nats://b:4222,tls://c:4222");
    let error: unknown;
    try {
      readConfig(spec, { NATS_URL: "nats://a:4222,http://b:80,,not a url" });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems).toEqual([
      'NATS_URL[1] must use nats: or tls:, got "http:"',
      'NATS_URL[2] is empty (the list is comma-separated URLs), got "nats://a:4222,http://b:80,,not a url"',
      'NATS_URL[3] must be a URL, got "not a url"',
    ]);
    expect(() => readConfig(spec, { NATS_URL: "postgres://x/y" })).toThrow('NATS_URL must use nats: or tls:, got "postgres:"');
  });
});
