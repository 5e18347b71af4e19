// On-demand CPU profiles and SQL counts for every process of a running mesh (see bench/README.md).
// Node 20 refuses --cpu-prof in NODE_OPTIONS, so this hook is loaded with
//   NODE_OPTIONS="--import /abs/path/bench/profile-hook.mjs"
// The first SIGUSR2 a process receives starts the V8 profiler (1 ms sampling) and counts the SQL
// statements sent through `pg`; the second writes $PROFILE_DIR (default /tmp/ordermesh-prof)/
// <process>-<pid>.cpuprofile and <process>-<pid>.queries.json (statement text -> count).
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import Module from "node:module";
import { join } from "node:path";

const dir = process.env.PROFILE_DIR || "/tmp/ordermesh-prof";
const script = process.argv[1] || "node";
const name = (/(services\/[a-z]+|gateway|bench)\/main\.[mt]s$/.exec(script)?.[1] ?? "node").replace(/^services\//, "");

const counts = new Map();
let session;
let running = false;

// knex loads `pg` with require(): wrap Client#query once it is loaded.
const load = Module._load;
let patched = false;
Module._load = function (request, ...rest) {
  const loaded = load.call(this, request, ...rest);
  if (!patched && request === "pg" && loaded?.Client) {
    patched = true;
    const query = loaded.Client.prototype.query;
    loaded.Client.prototype.query = function (config, ...args) {
      if (running) {
        const text = typeof config === "string" ? config : (config?.text ?? "?");
        const key = text.replace(/\s+/g, " ").replace(/\$\d+/g, "?").trim().slice(0, 200);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return query.call(this, config, ...args);
    };
  }
  return loaded;
};

process.on("SIGUSR2", () => {
  if (!session) {
    session = new Session();
    session.connect();
  }
  if (!running) {
    counts.clear();
    session.post("Profiler.enable", () =>
      session.post("Profiler.setSamplingInterval", { interval: 1000 }, () => session.post("Profiler.start", () => (running = true))),
    );
    return;
  }
  running = false;
  session.post("Profiler.stop", (error, result) => {
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `${name}-${process.pid}`);
    if (!error) writeFileSync(`${base}.cpuprofile`, JSON.stringify(result.profile));
    writeFileSync(
      `${base}.queries.json`,
      JSON.stringify(
        [...counts].sort((a, b) => b[1] - a[1]),
        null,
        1,
      ),
    );
  });
});
