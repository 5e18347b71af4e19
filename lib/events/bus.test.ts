import { describe, expect, it } from "@jest/globals";
import { natsServers } from "./bus.js";

describe("natsServers", () => {
  it("splits a NATS_URL list into the servers the client seeds from", () => {
    expect(natsServers("nats://127.0.0.1:4222")).toEqual(["nats://127.0.0.1:4222"]);
    expect(natsServers(" nats://a:4222 ,nats://b:4222,, tls://c:4222 ")).toEqual(["nats://a:4222", "nats://b:4222", "tls://c:4222"]);
  });

  it("refuses an empty list", () => {
    expect(() => natsServers(" , ")).toThrow("no NATS server URL given");
  });
});
