import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "../../lib/config.js";
import { readOrderConfig } from "./service.js";

describe("order service configuration", () => {
  it("has defaults for everything", () => {
    expect(readOrderConfig({})).toMatchObject({
      grpcPort: 50051,
      inventoryAddr: "127.0.0.1:50052",
      inventoryDeadlineMs: 2_000,
      watchPollMs: 1_000,
    });
  });

  it("reads the inventory address and deadline", () => {
    expect(readOrderConfig({ INVENTORY_ADDR: "inventory:50052", INVENTORY_DEADLINE_MS: "750" })).toMatchObject({
      inventoryAddr: "inventory:50052",
      inventoryDeadlineMs: 750,
    });
  });

  it("names every bad variable", () => {
    expect(() => readOrderConfig({ INVENTORY_ADDR: "inventory", INVENTORY_DEADLINE_MS: "soon" })).toThrow(ConfigError);
    try {
      readOrderConfig({ INVENTORY_ADDR: "inventory", INVENTORY_DEADLINE_MS: "soon" });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([expect.stringContaining("INVENTORY_ADDR"), expect.stringContaining("INVENTORY_DEADLINE_MS")]);
    }
  });
});
