import { describe, expect, it } from "@jest/globals";
import { GroupWriter } from "./group-writer.js";

/** A write the test releases by hand, recording the groups it was given. */
function controlledWrite() {
  const groups: number[][] = [];
  const releases: (() => void)[] = [];
  const write = async (items: readonly number[]) => {
    groups.push([...items]);
    await new Promise<void>((resolve) => releases.push(resolve));
    return items.map((n) => n * 10);
  };
  return { groups, releases, write };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("GroupWriter", () => {
  it("writes items of the same turn together, and items arriving during a write in the next group", async () => {
    const { groups, releases, write } = controlledWrite();
    const writer = new GroupWriter(write);
    const first = [writer.add(1), writer.add(2)];
    await until(() => groups.length === 1);
    const second = [writer.add(3), writer.add(4), writer.add(5)];
    expect(groups).toEqual([[1, 2]]);
    releases[0]();
    expect(await Promise.all(first)).toEqual([10, 20]);
    await until(() => groups.length === 2);
    expect(groups[1]).toEqual([3, 4, 5]);
    releases[1]();
    expect(await Promise.all(second)).toEqual([30, 40, 50]);
  });

  it("fails every item of a failed group, and goes on with the next", async () => {
    let calls = 0;
    const writer = new GroupWriter(async (items: readonly string[]) => {
      if (++calls === 1) throw new Error("database down");
      return items.map((s) => s.toUpperCase());
    });
    const failed = await Promise.allSettled([writer.add("a"), writer.add("b")]);
    expect(failed.map((r) => r.status === "rejected" && (r.reason as Error).message)).toEqual(["database down", "database down"]);
    expect(await writer.add("c")).toBe("C");
  });

  it("rejects a group whose write answers the wrong number of results", async () => {
    const writer = new GroupWriter(async () => [1]);
    const results = await Promise.allSettled([writer.add(1), writer.add(2)]);
    expect(results.every((r) => r.status === "rejected")).toBe(true);
  });
});
