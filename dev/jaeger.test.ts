import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { findJaeger, jaegerOrderSearchUrl } from "./jaeger.js";

describe("finding Jaeger for npm start", () => {
  let dir: string;
  let bin: string;
  let notExecutable: string;
  let empty: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jaeger-find-"));
    empty = await mkdtemp(join(tmpdir(), "jaeger-empty-"));
    // A stand-in for the real binary: only its name and mode matter to the lookup.
    bin = join(dir, "jaeger");
    await writeFile(bin, "#!/bin/sh\nexit 0\n");
    await chmod(bin, 0o755);
    notExecutable = join(dir, "jaeger.txt");
    await writeFile(notExecutable, "not a program");
    await chmod(notExecutable, 0o644);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(empty, { recursive: true, force: true });
  });

  it("finds an executable jaeger on the PATH, in PATH order", () => {
    expect(findJaeger({ PATH: [empty, dir].join(delimiter) })).toEqual({ found: true, bin });
  });

  it("prefers JAEGER_BIN over the PATH", async () => {
    const other = join(empty, "my-jaeger");
    await writeFile(other, "#!/bin/sh\nexit 0\n");
    await chmod(other, 0o755);
    expect(findJaeger({ PATH: dir, JAEGER_BIN: other })).toEqual({ found: true, bin: other });
    await rm(other);
  });

  it("reports a JAEGER_BIN that is not executable instead of falling back to the PATH", () => {
    const lookup = findJaeger({ PATH: dir, JAEGER_BIN: notExecutable });
    expect(lookup).toEqual({ found: false, reason: expect.stringContaining("not an executable file") });
  });

  it("finds nothing where there is no jaeger (or only a directory or plain file of that name)", async () => {
    expect(findJaeger({ PATH: empty })).toMatchObject({ found: false });
    expect(findJaeger({})).toMatchObject({ found: false });
    const plain = await mkdtemp(join(tmpdir(), "jaeger-plain-"));
    await writeFile(join(plain, "jaeger"), "no x bit");
    expect(findJaeger({ PATH: plain })).toMatchObject({ found: false });
    await rm(plain, { recursive: true });
  });

  it("links to the order's traces by the shop.order.id tag, leaving a shell variable to expand", () => {
    const url = jaegerOrderSearchUrl("http://127.0.0.1:16686", "0190a000-0000-7000-8000-000000000001");
    const parsed = new URL(url);
    expect(parsed.pathname).toBe("/search");
    expect(parsed.searchParams.get("service")).toBe("gateway");
    expect(JSON.parse(parsed.searchParams.get("tags")!)).toEqual({ "shop.order.id": "0190a000-0000-7000-8000-000000000001" });
    expect(jaegerOrderSearchUrl("http://127.0.0.1:16686", "$ORDER_ID")).toContain("%22shop.order.id%22%3A%22$ORDER_ID%22");
  });
});
