import { describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import { Code } from "../../../lib/errors.js";
import { createLogger } from "../../../lib/log.js";
import { isPermanentFailure, type OutgoingMessage } from "./provider.js";
import { createSimulatedProvider, simulatedBehaviour } from "./simulated.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger("test", { level: "info" }, stream) };
}

function email(recipient: string, idempotencyKey = "n1"): OutgoingMessage {
  return { channel: "EMAIL", recipient, subject: "Your order #ABC is confirmed", body: "secret body", idempotencyKey };
}

async function failure(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  return promise.then(
    () => {
      throw new Error("did not fail");
    },
    (e: unknown) => e as { code: Code; message: string },
  );
}

describe("simulated providers", () => {
  it("log the message with the recipient masked and without the body", async () => {
    const { lines, logger } = capture();
    const provider = createSimulatedProvider({ channel: "EMAIL", logger });
    const { providerMessageId } = await provider.send(email("jane@example.com"));
    expect(providerMessageId).toMatch(/^sim-email-/);
    await new Promise((resolve) => setImmediate(resolve));
    const line = lines.find((l) => l.msg === "simulated EMAIL sent");
    expect(line).toMatchObject({
      recipient: "j***@example.com",
      subject: "Your order #ABC is confirmed",
      body_chars: 11,
      provider_message_id: providerMessageId,
    });
    expect(JSON.stringify(lines)).not.toContain("secret body");
    expect(JSON.stringify(lines)).not.toContain("jane@");

    const sms = createSimulatedProvider({ channel: "SMS", logger });
    await sms.send({ channel: "SMS", recipient: "+4930121234", subject: "", body: "hi", idempotencyKey: "n2" });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.find((l) => l.msg === "simulated SMS sent")).toMatchObject({ recipient: "+******1234" });
  });

  it("fail deterministically for the test recipients", async () => {
    const { logger } = capture();
    const provider = createSimulatedProvider({ channel: "EMAIL", logger });
    const transient = await failure(provider.send(email("a@fail.example")));
    expect(transient.code).toBe(Code.UNAVAILABLE);
    expect(isPermanentFailure(transient)).toBe(false);
    const permanent = await failure(provider.send(email("a@bounce.example")));
    expect(permanent.code).toBe(Code.FAILED_PRECONDITION);
    expect(permanent.message).toContain("a***@bounce.example");
    expect(isPermanentFailure(permanent)).toBe(true);

    // Flaky: the first two attempts of a message fail, the third is accepted; per message.
    await failure(provider.send(email("a@flaky.example", "m1")));
    await failure(provider.send(email("a@flaky.example", "m1")));
    await failure(provider.send(email("a@flaky.example", "m2")));
    await expect(provider.send(email("a@flaky.example", "m1"))).resolves.toHaveProperty("providerMessageId");

    expect(["+4930199990", "+4930199991", "+4930199992", "+4930120000"].map((n) => simulatedBehaviour("SMS", n))).toEqual([
      "transient",
      "permanent",
      "flaky",
      "accept",
    ]);
  });

  it("fail at random with the configured rate", async () => {
    const { logger } = capture();
    const values = [0.1, 0.9];
    const provider = createSimulatedProvider({ channel: "SMS", logger, failureRate: 0.5, random: () => values.shift()! });
    const sms = { channel: "SMS" as const, recipient: "+4930121234", subject: "", body: "x", idempotencyKey: "k" };
    expect((await failure(provider.send(sms))).message).toContain("simulated outage");
    await expect(provider.send(sms)).resolves.toHaveProperty("providerMessageId");
  });

  it("take latencyMs per send", async () => {
    const { logger } = capture();
    const provider = createSimulatedProvider({ channel: "EMAIL", logger, latencyMs: 50 });
    const started = Date.now();
    await provider.send(email("jane@example.com"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
