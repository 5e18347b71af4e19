import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { ROUTES } from "./server.js";

describe("route table", () => {
  // Table cells with their padding (prettier aligns the columns) collapsed to one space.
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8").replace(/ *\| */g, " | ");

  it.each(ROUTES.map((r) => [r.method, r.path, r] as const))("README documents %s %s", (method, path, route) => {
    const documented = path.replace(/:([a-zA-Z]+)/g, "{$1}");
    const who = route.access === "admin" ? "admin" : route.access === "public" ? "public" : "user";
    expect(readme).toContain(`| ${method} | \`${documented}\` | ${who} |`);
  });

  it("has no two routes for the same method and path", () => {
    const keys = ROUTES.map((r) => `${r.method} ${r.path.replace(/:[a-zA-Z]+/g, ":")}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
