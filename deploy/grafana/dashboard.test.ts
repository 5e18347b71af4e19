import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { collectDefaultMetrics, Registry } from "prom-client";
import { createGatewayMetrics } from "../../gateway/metrics.js";
import { LoadShedder } from "../../gateway/shedding.js";
import type { Upstreams } from "../../gateway/upstreams.js";
import { platformRegistry } from "../../lib/metrics/index.js";

/** The Grafana dashboard only queries metrics the processes export, and shows every platform metric. */

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL("./ordermesh-dashboard.json", import.meta.url), "utf8")) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query?: string | { query: string }; definition?: string }[] };
};

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "le", "inf", "nan"]);

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or numbers. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ""); // label lists
  const names: string[] = [];
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(match.index! + match[0].length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return names;
}

async function exported(registry: Registry): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
  }
  return names;
}

describe("Grafana dashboard deploy/grafana/ordermesh-dashboard.json", () => {
  const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  // Query variables only (the datasource variable's query is a plugin type, not PromQL).
  const variables = dashboard.templating.list
    .filter((v) => (v as { type?: string }).type === "query")
    .map((v) => (typeof v.query === "string" ? v.query : (v.query?.query ?? v.definition ?? "")));

  it("reads metric names out of PromQL", () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, rpc_method) (rate(rpc_server_duration_seconds_bucket{service=~"$service", x!="0"}[5m]))) / 100'),
    ).toEqual(["rpc_server_duration_seconds_bucket"]);
    expect(metricNames("sum(increase(a_total[1h])) / sum(increase(b_total[1h]))")).toEqual(["a_total", "b_total"]);
  });

  it("queries only metrics that some process exports", async () => {
    const gateway = new Registry();
    createGatewayMetrics(gateway, new LoadShedder({ maxInFlight: 1, maxStreams: 1 }), {} as Upstreams);
    const runtime = new Registry();
    collectDefaultMetrics({ register: runtime });
    const known = new Set([...(await exported(platformRegistry)), ...(await exported(gateway)), ...(await exported(runtime))]);

    const queried = [...expressions.map((e) => e.expr), ...variables.map((q) => q.replace(/^label_values\(([^,]+),.*$/, "$1"))];
    const unknown = queried.flatMap((expr) =>
      metricNames(expr)
        .filter((name) => !known.has(name))
        .map((name) => `${name} in ${expr}`),
    );
    expect(unknown).toEqual([]);
    expect(expressions.length).toBeGreaterThan(20);
  });

  it("shows every platform metric (RPC, consumers, outbox, DLQ, breakers, business)", async () => {
    const queried = new Set(expressions.flatMap((e) => metricNames(e.expr)));
    const platform = (await platformRegistry.getMetricsAsJSON()).map((m) => m.name);
    const missing = platform.filter((name) => ![name, `${name}_bucket`, `${name}_count`].some((n) => queried.has(n)));
    expect(missing).toEqual([]);
  });

  it("is importable: a uid, unique panel ids and a data source variable", () => {
    expect(dashboard.uid).toBe("ordermesh-overview");
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(["datasource", "service"]));
  });
});
