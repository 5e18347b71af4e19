import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LatencySummary } from "./histogram.js";
import type { Check, FlashOutcome } from "./invariants.js";
import type { ResourceUsage } from "./resources.js";

/** The figures one scenario reports. */
export interface Figures {
  /** Seconds the load ran (client clock). */
  loadSeconds: number;
  ordersAccepted: number;
  acceptedPerSecond: number;
  createErrors: number;
  /** Final failures by code. */
  errorsByCode: Record<string, number>;
  /** Failed attempts that were retried (flash-sale), by code. */
  retriesByCode: Record<string, number>;
  /** POST /api/v1/orders, client side, successful creates. */
  createLatencyMs: LatencySummary;
  /** created_at -> the CONFIRMED transition's changed_at (server side). */
  sagaLatencyMs: LatencySummary;
  /** created_at -> the first settled transition (CONFIRMED or a final status). */
  settleLatencyMs: LatencySummary;
  confirmed: number;
  settled: number;
  /** Seconds from the first create to the last completion (server clock). */
  sagaWindowSeconds: number;
  confirmedPerSecond: number;
  settledPerSecond: number;
  /** Seconds spent after the load waiting for in-flight sagas. */
  settleWaitSeconds: number;
  statusCounts: Record<string, number>;
  flash?: FlashOutcome;
  /** What the mesh spent from the start of the load until its consumers caught up (own stack only). */
  resources?: ResourceUsage;
}

export interface Target {
  name: string;
  met: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  startedAt: string;
  finishedAt: string;
  gateway: string;
  ownStack: boolean;
  /** Environment the bench gave its own stack (raised rate limits and shedding). */
  stackEnv?: Record<string, string>;
  parameters: Record<string, string | number | boolean>;
  figures: Figures;
  invariants: Check[];
  targets: Target[];
  /** HdrHistogram compressed base64 (µs values). */
  histograms: { createOrder: string; sagaConfirmed: string };
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

function latency(s: LatencySummary): string {
  return s.count === 0 ? "n/a" : `${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(s.p99)} / ${fmt(s.max)}`;
}

export function formatCodes(codes: Record<string, number>): string {
  const entries = Object.entries(codes).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([code, n]) => `${code} ${n}`).join(", ");
}

/** The summary rows of one scenario, in print order. */
export function summaryRows(result: ScenarioResult): [string, string][] {
  const f = result.figures;
  const retried = Object.values(f.retriesByCode).reduce((a, b) => a + b, 0);
  const rows: [string, string][] = [
    [
      "parameters",
      Object.entries(result.parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
    ],
    ["load duration", `${fmt(f.loadSeconds)} s`],
    ["orders accepted", `${f.ordersAccepted} (${fmt(f.acceptedPerSecond)}/s)`],
    ["create errors", `${f.createErrors}${f.createErrors ? ` (${formatCodes(f.errorsByCode)})` : ""}`],
    ["create attempts retried", retried === 0 ? "0" : `${retried} (${formatCodes(f.retriesByCode)})`],
    ["create-order latency ms p50/p95/p99/max", latency(f.createLatencyMs)],
    ["confirmed sagas", `${f.confirmed} (${fmt(f.confirmedPerSecond)}/s over ${fmt(f.sagaWindowSeconds)} s)`],
    ["settled sagas (any final state)", `${f.settled} (${fmt(f.settledPerSecond)}/s)`],
    ["saga latency ms create->CONFIRMED p50/p95/p99/max", latency(f.sagaLatencyMs)],
    ["settle latency ms create->settled p50/p95/p99/max", latency(f.settleLatencyMs)],
    ["order statuses", formatCodes(f.statusCounts)],
    ["waited for in-flight sagas", `${fmt(f.settleWaitSeconds)} s`],
  ];
  rows.push(...resourceRows(f));
  if (f.flash) {
    rows.push(
      ["flash: confirmed / units / buyers", `${f.flash.confirmed} / ${f.flash.units} / ${f.flash.buyers}`],
      ["flash: rejected", String(f.flash.rejected)],
      ["flash: refused as sold out", String(f.flash.soldOut)],
      ["flash: no clear answer", String(f.flash.unclear)],
      ["flash: sold / oversold units", `${f.flash.sold} / ${f.flash.oversold}`],
      ["flash: time to sell out", `${fmt(f.sagaWindowSeconds)} s from the first order to the last confirmation`],
    );
  }
  return rows;
}

/** Per settled saga: CPU by process (largest first) and total, SQL, events, durability. */
export function resourceRows(f: Figures): [string, string][] {
  const r = f.resources;
  // chaos restarts processes (new pids, their CPU so far lost), so it measures none.
  if (!r) return [["cost per saga", "n/a (measured by steady and flash-sale on the bench's own stack)"]];
  const sagas = Math.max(1, f.settled);
  const per = (n: number | null, digits = 1) => (n === null ? "n/a" : fmt(n / sagas, digits));
  const processes = Object.entries(r.cpuMs)
    .filter(([name]) => name !== "total")
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `${name} ${fmt(ms / sagas, 2)}`)
    .join(", ");
  const durability = r.durability
    ? Object.entries(r.durability)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")
    : "n/a";
  const wakeups = r.wakeups
    ? `${per(r.wakeups.total ?? 0)}: ${Object.entries(r.wakeups)
        .filter(([name]) => name !== "total")
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${fmt(n / sagas, 1)}`)
        .join(", ")}`
    : "n/a";
  return [
    ["CPU ms per settled saga: total", fmt(r.cpuMs.total / sagas, 2)],
    ["CPU ms per settled saga: by process", processes],
    ["wakeups per saga (voluntary context switches)", wakeups],
    ["SQL transactions / statements / WAL flushes per saga", `${per(r.sqlTransactions)} / ${per(r.sqlStatements)} / ${per(r.walSyncs ?? null)}`],
    ["events published per saga", per(r.eventsPublished)],
    ["PostgreSQL durability", durability],
  ];
}

/** A plain two-or-more column table with +---+ borders. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const row = (cells: string[]) => `| ${cells.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ")} |`;
  return [line, row(header), line, ...rows.map(row), line].join("\n");
}

/** The printed summary of one scenario: figures, invariants, targets. */
export function formatSummary(result: ScenarioResult): string {
  const parts = [
    `== ${result.scenario} (${result.ownStack ? "own stack" : "external gateway"} ${result.gateway}) ==`,
    formatTable(["metric", "value"], summaryRows(result)),
    formatTable(
      ["invariant", "result", "detail"],
      result.invariants.map((c) => [c.name, c.pass ? "PASS" : "FAIL", c.detail]),
    ),
  ];
  if (result.targets.length > 0) {
    parts.push(
      formatTable(
        ["target", "result", "measured"],
        result.targets.map((t) => [t.name, t.met ? "MET" : "MISSED", t.detail]),
      ),
    );
  }
  return parts.join("\n");
}

/** `bench/results/<scenario>-<timestamp>.json`; returns the path. */
export async function writeResult(outDir: string, result: ScenarioResult): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, "-");
  const path = join(outDir, `${result.scenario}-${stamp}.json`);
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}
