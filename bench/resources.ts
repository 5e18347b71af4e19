// What a saga costs the machine: CPU and wakeups per process from /proc, SQL transactions,
// statements and WAL flushes from PostgreSQL's statistics, events from the stream, and the
// durability settings in force.
import { readdirSync, readFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** Longer than PostgreSQL's PGSTAT_IDLE_INTERVAL, after which idle backends flush their statistics. */
const STATS_FLUSH_MS = 11_000;

/** CPU seconds per process group (`order`, `postgres`, `loadgen`, ...) of this process tree. */
export type CpuByProcess = Record<string, number>;

interface ProcEntry {
  pid: number;
  ppid: number;
  /** utime + stime of the process itself, plus cutime + cstime of its exited, reaped children. */
  ticks: number;
  /** Voluntary context switches of all its threads: how often one went to sleep to wait. */
  sleeps: number;
  cmdline: string;
}

/** Voluntary context switches of every thread of `pid` (0 if it is gone). */
function sleepsOf(pid: number): number {
  let total = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      const match = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status);
      if (match) total += Number(match[1]);
    }
  } catch {
    // exited while we looked
  }
  return total;
}

function readProc(pid: number): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    return { pid, ppid, ticks, sleeps: 0, cmdline };
  } catch {
    return undefined; // exited while we looked
  }
}

/** The group a process belongs to by its own command line, if it names one. */
export function groupOf(cmdline: string): string | undefined {
  const service = /services\/([a-z-]+)\/main\.[jt]s/.exec(cmdline);
  if (service) return service[1];
  if (/gateway\/main\.[jt]s/.test(cmdline)) return "gateway";
  if (/s3-process\.[jt]s/.test(cmdline)) return "s3";
  if (/nats-server/.test(cmdline)) return "nats-server";
  if (/(^|\/)postgres(\s|:|$)/.test(cmdline)) return "postgres";
  return undefined;
}

/** What the processes of this tree have spent so far, by group. */
export interface ProcessUsage {
  /** CPU seconds (see `cpuByProcess`). */
  cpu: CpuByProcess;
  /**
   * Voluntary context switches of the live processes' threads: each is a sleep that a wakeup
   * ends, and on a virtual machine a wakeup costs far more than the work it often brings
   * (exited processes' switches are not counted).
   */
  wakeups: Record<string, number>;
}

/**
 * CPU seconds spent so far by this process and its descendants, by group. Live processes count
 * their own time and the time of children they already reaped (cutime/cstime), so exited
 * PostgreSQL backends and tsx helpers are charged to their parent's group exactly once.
 */
export function cpuByProcess(root = process.pid): CpuByProcess {
  return processUsage(root).cpu;
}

/** CPU seconds and wakeups of this process and its descendants, by group. */
export function processUsage(root = process.pid): ProcessUsage {
  const entries = new Map<number, ProcEntry>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readProc(Number(name));
    if (entry) entries.set(entry.pid, entry);
  }
  const result: CpuByProcess = {};
  const wakeups: Record<string, number> = {};
  for (const entry of entries.values()) {
    let group: string | undefined;
    let current: ProcEntry | undefined = entry;
    let inTree = false;
    while (current) {
      group ??= groupOf(current.cmdline);
      if (current.pid === root) {
        inTree = true;
        break;
      }
      current = entries.get(current.ppid);
    }
    if (!inTree) continue;
    const key = entry.pid === root ? "loadgen" : (group ?? "other");
    result[key] = (result[key] ?? 0) + entry.ticks / TICKS_PER_SECOND;
    wakeups[key] = (wakeups[key] ?? 0) + sleepsOf(entry.pid);
  }
  return { cpu: result, wakeups };
}

/** What the mesh spent between `start()` and `stop()`. */
export interface ResourceUsage {
  /** CPU milliseconds by process group, and `total`. */
  cpuMs: Record<string, number>;
  /** Voluntary context switches (sleeps, each ended by a wakeup) by process group, and `total`. */
  wakeups?: Record<string, number>;
  /** WAL flushes to disk (pg_stat_wal.wal_sync); null when not available. */
  walSyncs?: number | null;
  /** Null when the statistics are not available (a mesh the bench did not start). */
  sqlTransactions: number | null;
  sqlStatements: number | null;
  eventsPublished: number | null;
  /** fsync / synchronous_commit / full_page_writes as PostgreSQL reports them. */
  durability: Record<string, string> | null;
  /** The most frequent statements of the window (JSON only): where the statements per saga go. */
  topStatements: { database: string; calls: number; totalMs: number; query: string }[] | null;
}

export interface MeterOptions {
  /** Superuser URL of the mesh's PostgreSQL. */
  databaseUrl?: string;
  natsUrl?: string;
  /** Stream the sagas publish to. */
  stream?: string;
}

interface Counters {
  cpu: CpuByProcess;
  wakeups: Record<string, number>;
  walSyncs: number | null;
  transactions: number | null;
  statements: number | null;
  messages: number | null;
}

/** Measures one load window: CPU of this process tree, PostgreSQL and stream counters. */
export class ResourceMeter {
  private before?: Counters;
  private pool?: pg.Pool;
  private statementsAvailable = false;

  constructor(private readonly options: MeterOptions) {
    if (options.databaseUrl) this.pool = new pg.Pool({ connectionString: options.databaseUrl, max: 1 });
  }

  async start(): Promise<void> {
    if (this.pool) {
      try {
        await this.pool.query("create extension if not exists pg_stat_statements");
        await this.pool.query("select pg_stat_statements_reset()");
        this.statementsAvailable = true;
      } catch {
        this.statementsAvailable = false; // not preloaded: statements are reported as n/a
      }
    }
    this.before = await this.read();
  }

  async stop(): Promise<ResourceUsage> {
    if (!this.before) throw new Error("ResourceMeter.stop() before start()");
    const after = await this.read();
    if (this.pool) {
      // An idle backend reports its transaction counts up to PGSTAT_IDLE_INTERVAL (10 s) late;
      // CPU and statements were read above, so the idle mesh's polling is not charged to the sagas.
      await new Promise((resolve) => setTimeout(resolve, STATS_FLUSH_MS));
      after.transactions = await this.transactions();
    }
    const cpuMs: Record<string, number> = {};
    for (const key of new Set([...Object.keys(this.before.cpu), ...Object.keys(after.cpu)])) {
      const ms = ((after.cpu[key] ?? 0) - (this.before.cpu[key] ?? 0)) * 1000;
      if (ms > 0) cpuMs[key] = ms;
    }
    cpuMs.total = Object.values(cpuMs).reduce((a, b) => a + b, 0);
    const wakeups: Record<string, number> = {};
    for (const key of new Set([...Object.keys(this.before.wakeups), ...Object.keys(after.wakeups)])) {
      const n = (after.wakeups[key] ?? 0) - (this.before.wakeups[key] ?? 0);
      if (n > 0) wakeups[key] = n;
    }
    wakeups.total = Object.values(wakeups).reduce((a, b) => a + b, 0);
    const delta = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
    const durability = this.pool ? await this.durability() : null;
    const topStatements = this.statementsAvailable ? await this.topStatements() : null;
    await this.pool?.end();
    return {
      cpuMs,
      wakeups,
      walSyncs: delta(this.before.walSyncs, after.walSyncs),
      sqlTransactions: delta(this.before.transactions, after.transactions),
      sqlStatements: delta(this.before.statements, after.statements),
      eventsPublished: delta(this.before.messages, after.messages),
      durability,
      topStatements,
    };
  }

  private async topStatements(): Promise<ResourceUsage["topStatements"]> {
    const { rows } = await this.pool!.query<{ database: string; calls: string; total_ms: number; query: string }>(
      `select d.datname as database, s.calls, s.total_exec_time as total_ms, left(s.query, 300) as query
       from pg_stat_statements s join pg_database d on d.oid = s.dbid
       where d.datname not in ('postgres', 'template0', 'template1')
       order by s.calls desc limit 40`,
    );
    return rows.map((r) => ({ database: r.database, calls: Number(r.calls), totalMs: Math.round(r.total_ms), query: r.query }));
  }

  private async read(): Promise<Counters> {
    const [transactions, statements, messages, walSyncs] = await Promise.all([this.transactions(), this.statements(), this.messages(), this.walSyncs()]);
    const usage = processUsage();
    return { cpu: usage.cpu, wakeups: usage.wakeups, walSyncs, transactions, statements, messages };
  }

  private async walSyncs(): Promise<number | null> {
    if (!this.pool) return null;
    try {
      const { rows } = await this.pool.query<{ n: string }>("select wal_sync::bigint as n from pg_stat_wal");
      return Number(rows[0]?.n ?? 0);
    } catch {
      return null; // PostgreSQL before 14 has no pg_stat_wal
    }
  }

  private async transactions(): Promise<number | null> {
    if (!this.pool) return null;
    // Statistics are flushed by each backend at most once a second, and on pg_stat_force_next_flush.
    const { rows } = await this.pool.query<{ n: string }>(
      "select sum(xact_commit + xact_rollback)::bigint as n from pg_stat_database where datname not in ('postgres', 'template0', 'template1')",
    );
    return Number(rows[0]?.n ?? 0);
  }

  private async statements(): Promise<number | null> {
    if (!this.pool || !this.statementsAvailable) return null;
    const { rows } = await this.pool.query<{ n: string }>(
      "select coalesce(sum(calls), 0)::bigint as n from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname not in ('postgres', 'template0', 'template1')",
    );
    return Number(rows[0]?.n ?? 0);
  }

  private async messages(): Promise<number | null> {
    if (!this.options.natsUrl) return null;
    const nc = await connect({ servers: this.options.natsUrl.split(","), name: "bench-meter" });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(this.options.stream ?? "SHOP_EVENTS");
      // last_seq, not messages: a limits-based stream may already have dropped old ones.
      return info.state.last_seq;
    } finally {
      await nc.close();
    }
  }

  private async durability(): Promise<Record<string, string>> {
    const { rows } = await this.pool!.query<{ name: string; setting: string }>(
      "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  }
}

/**
 * Waits until the saga's trailing work (invoices, deliveries, notifications) is done: every
 * durable consumer on the stream has nothing pending or unacknowledged, twice in a row.
 */
export async function waitQuiet(natsUrl: string, stream = "SHOP_EVENTS", timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  const nc = await connect({ servers: natsUrl.split(","), name: "bench-quiet" });
  try {
    const jsm = await jetstreamManager(nc);
    let quietChecks = 0;
    while (Date.now() - started < timeoutMs) {
      let busy = 0;
      for await (const consumer of jsm.consumers.list(stream)) busy += consumer.num_pending + consumer.num_ack_pending;
      quietChecks = busy === 0 ? quietChecks + 1 : 0;
      if (quietChecks >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await nc.close();
  }
  return (Date.now() - started) / 1000;
}
