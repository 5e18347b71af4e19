import { describe, expect, it } from "@jest/globals";
import { createLogger } from "../log.js";
import { startPeriodic } from "./periodic.js";
import { waitFor } from "../../test/harness/index.js";

describe("startPeriodic", () => {
  const logger = createLogger("periodic-test", { level: "silent" });

  it("runs the task again after a failure, and stop() waits for a run in progress", async () => {
    let runs = 0;
    let inProgress = false;
    let release: () => void = () => {};
    const worker = startPeriodic(
      "test",
      5,
      async () => {
        runs++;
        if (runs === 1) throw new Error("first run fails");
        if (runs === 3) {
          inProgress = true;
          await new Promise<void>((resolve) => (release = resolve));
          inProgress = false;
        }
      },
      logger,
    );
    await waitFor(() => inProgress, { message: "the third run to start" });
    const stopped = worker.stop();
    release();
    await stopped;
    expect(inProgress).toBe(false);
    expect(runs).toBe(3);
  });
});
