import { describe, expect, it } from "@jest/globals";
import { type RetryWriteOptions, writeWithRetries } from "./retry-write.js";

/** A clock that only moves when the write "sleeps", and a write that fails `failures` times first. */
function scripted(failures: unknown[]) {
  let clock = 0;
  const waits: number[] = [];
  let calls = 0;
  const write = async () => {
    calls++;
    const error = failures.shift();
    if (error !== undefined) throw error;
  };
  const options = (over: Partial<RetryWriteOptions> = {}): RetryWriteOptions => ({
    deadline: 10_000,
    now: () => clock,
    isFinal: (error) => error === "lost race",
    onGiveUp: () => undefined,
    sleep: async (ms) => {
      waits.push(ms);
      clock += ms;
    },
    ...over,
  });
  return { write, options, waits, calls: () => calls };
}

describe("writeWithRetries", () => {
  it("writes once when the first attempt succeeds", async () => {
    const s = scripted([]);
    const result = await writeWithRetries(s.write, s.options());
    expect(result.written).toBe(true);
    await expect(result.settled).resolves.toBe(true);
    expect(s.calls()).toBe(1);
  });

  it("answers after the first failed attempt and keeps retrying with backoff until it writes", async () => {
    const s = scripted(["unreachable", "unreachable", "unreachable"]);
    const result = await writeWithRetries(s.write, s.options());
    expect(result.written).toBe(false);
    await expect(result.settled).resolves.toBe(true);
    expect(s.calls()).toBe(4);
    expect(s.waits).toEqual([100, 200, 400]);
  });

  it("gives up when the deadline would pass, reporting the last error", async () => {
    const s = scripted(Array.from({ length: 50 }, (_, i) => `unreachable ${i}`));
    const gaveUp: unknown[] = [];
    const result = await writeWithRetries(s.write, s.options({ deadline: 1_000, onGiveUp: (e) => gaveUp.push(e) }));
    await expect(result.settled).resolves.toBe(false);
    // 100 + 200 + 400 ms waited; the next 800 ms wait would end past the deadline.
    expect(s.waits).toEqual([100, 200, 400]);
    expect(gaveUp).toEqual(["unreachable 3"]);
  });

  it("does not retry an error no retry can fix", async () => {
    const s = scripted(["lost race"]);
    const gaveUp: unknown[] = [];
    const result = await writeWithRetries(s.write, s.options({ onGiveUp: (e) => gaveUp.push(e) }));
    await expect(result.settled).resolves.toBe(false);
    expect(s.calls()).toBe(1);
    expect(gaveUp).toEqual(["lost race"]);
  });

  it("caps the wait between attempts", async () => {
    const s = scripted(Array.from({ length: 7 }, () => "unreachable"));
    await (
      await writeWithRetries(s.write, s.options())
    ).settled;
    expect(s.waits).toEqual([100, 200, 400, 800, 1_600, 2_000, 2_000]);
  });
});
