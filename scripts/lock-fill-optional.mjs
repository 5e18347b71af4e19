// The npm mirror this project is developed against lacks the prebuilt binaries for other
// platforms (darwin, win32, ...), so `npm install` leaves them out of package-lock.json and
// `npm ci` then refuses the lock as out of sync. This adds a placeholder entry, restricted to
// the package's own os/cpu, for every optional platform dependency the lock is missing; npm ci
// skips them on this platform and resolves them normally elsewhere.
// Run after every `npm install`: node scripts/lock-fill-optional.mjs
import { readFileSync, writeFileSync } from "node:fs";

const lockPath = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));

const osTokens = ["darwin", "win32", "linux", "android", "freebsd", "openharmony", "netbsd", "openbsd", "sunos", "aix"];
const cpuTokens = [
  ["aarch64", "arm64"],
  ["arm64", "arm64"],
  ["x64", "x64"],
  ["ia32", "ia32"],
  ["armv7", "arm"],
  ["arm", "arm"],
  ["ppc64", "ppc64"],
  ["s390x", "s390x"],
  ["loong64", "loong64"],
  ["riscv64", "riscv64"],
];

function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = osTokens.find((t) => parts.includes(t));
  const cpu = cpuTokens.find(([t]) => parts.includes(t))?.[1];
  return os && cpu ? { os, cpu } : undefined;
}

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path === "" ? "node_modules" : `${path}/node_modules`;
    if (lock.packages[`${base}/${dep}`] || lock.packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || (platform.os === "linux" && platform.cpu === "x64")) continue;
    lock.packages[`node_modules/${dep}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [platform.os],
      cpu: [platform.cpu],
    };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)));
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-fill-optional: added ${added} placeholder entries`);
