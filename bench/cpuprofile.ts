// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function + file, and by package.
//   node --import tsx bench/cpuprofile.ts /tmp/prof/*.cpuprofile [--top 25]
// Each file is one process, named by its service/gateway script among the frames, else by the file name.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  key: string;
  ms: number;
}

/** Where a frame's code lives: a package name, a project folder, node:internal or (program)/(garbage collector)/(idle). */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const project = /\/(services\/[^/]+|lib\/[^/]+(?=\/)|lib|gateway|gen|bench|dev|scripts)\//.exec(url);
  return project ? project[1] : url;
}

/** Self time per node id, from samples and their time deltas (µs). */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + delta);
  }
  return self;
}

export function summarise(
  profile: CpuProfile,
  fallbackName = "",
): { process: string; totalMs: number; idleMs: number; byFunction: SelfTime[]; byPackage: SelfTime[] } {
  const self = selfTimes(profile);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let processName = "";
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    if (!processName) {
      const m = /\/(services\/[a-z]+|gateway)\/main\.ts/.exec(url);
      if (m) processName = m[1];
    }
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    const where = url ? `${url.replace(/^file:\/\//, "").replace(/.*node_modules\//, "~/")}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].map(([key, us]) => ({ key, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return { process: processName || fallbackName, totalMs: total / 1000, idleMs: idle / 1000, byFunction: sorted(byFunction), byPackage: sorted(byPackage) };
}

if (process.argv[1] && basename(process.argv[1]).startsWith("cpuprofile")) {
  const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "20" } }, allowPositionals: true });
  const top = Number(values.top);
  for (const file of positionals) {
    // bench/profile-hook.mjs names its files <process>-<pid>.cpuprofile.
    const summary = summarise(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, basename(file).replace(/-\d+\.cpuprofile$/, ""));
    const busy = summary.totalMs - summary.idleMs;
    console.log(`\n### ${summary.process || "?"} (${basename(file)}): ${(busy / 1000).toFixed(2)} s busy of ${(summary.totalMs / 1000).toFixed(2)} s`);
    console.log("  by package:");
    for (const { key, ms } of summary.byPackage.slice(0, 12))
      console.log(`    ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${(ms / 1000).toFixed(2).padStart(7)} s  ${key}`);
    console.log("  by function (self time):");
    for (const { key, ms } of summary.byFunction.slice(0, top))
      console.log(`    ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${(ms / 1000).toFixed(2).padStart(7)} s  ${key}`);
  }
}
