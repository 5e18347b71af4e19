import { describe, expect, it } from "@jest/globals";
import { Sleeper } from "./sleeper.js";

/** Whether `promise` has settled once pending microtasks and timers of this turn ran. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("Sleeper", () => {
  it("wake() ends an idle sleep at once", async () => {
    const sleeper = new Sleeper();
    const sleep = sleeper.sleep(60_000);
    expect(await settled(sleep)).toBe(false);
    sleeper.wake();
    expect(await settled(sleep)).toBe(true);
  });

  it("remembers a wake() that came while it was awake, once", async () => {
    const sleeper = new Sleeper();
    sleeper.wake();
    expect(await settled(sleeper.sleep(60_000))).toBe(true);
    const next = sleeper.sleep(60_000);
    expect(await settled(next)).toBe(false);
    sleeper.cancel();
    expect(await settled(next)).toBe(true);
  });

  it("does not let wake() cut a back-off short, but cancel() does", async () => {
    const sleeper = new Sleeper();
    const backoff = sleeper.sleep(60_000, { wakeable: false });
    sleeper.wake();
    expect(await settled(backoff)).toBe(false);
    sleeper.cancel();
    expect(await settled(backoff)).toBe(true);
    expect(await settled(sleeper.sleep(60_000))).toBe(true);
  });
});
