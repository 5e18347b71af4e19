import { createHash, randomUUID } from "node:crypto";
import type { JsonValue } from "@bufbuild/protobuf";
import { type KV, Kvm } from "@nats-io/kv";
import { Code } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { GatewayError } from "./errors.js";
import type { Claim, IdempotencyBackend, Reservation } from "./idempotency.js";
import type { LazyNats } from "./nats-connection.js";
import { writeWithRetries } from "./retry-write.js";

/** A record in the bucket: a request still running somewhere, or its stored response. */
type Record = { state: "pending"; owner: string; leaseUntil: number } | { state: "done"; requestHash: string; value: JsonValue };

export interface KvIdempotencyOptions {
  nats: LazyNats;
  /** Bucket name, one per namespace (e.g. `<EVENTS_PREFIX>gateway_idempotency`). */
  bucket: string;
  /** How long responses are kept (the bucket's max age). */
  ttlMs: number;
  /**
   * How long a claim holds a key while its request runs. A replica that dies mid-request leaves
   * a pending record; after the lease anyone may take the key over.
   */
  leaseMs: number;
  replicas?: number;
  logger: Logger;
  now?: () => number;
}

/**
 * Idempotency records in NATS JetStream key-value, shared by every gateway replica, so a retry
 * that lands on another replica is replayed rather than run again. Claims are atomic (KV
 * `create` fails when the key exists; take-overs and completions compare the revision).
 * Records expire with the bucket's TTL.
 */
export class KvIdempotencyStore implements IdempotencyBackend<JsonValue> {
  #kv?: Promise<KV>;
  readonly #now: () => number;

  constructor(private readonly options: KvIdempotencyOptions) {
    this.#now = options.now ?? Date.now;
  }

  async claim(scope: string, key: string): Promise<Claim<JsonValue>> {
    const kv = await this.#bucket();
    const id = `k.${createHash("sha256").update(`${scope.length}:${scope}:${key}`).digest("hex")}`;
    const owner = randomUUID();
    const pending = () => ({ state: "pending", owner, leaseUntil: this.#now() + this.options.leaseMs }) satisfies Record;
    return this.#unavailableOnError(async () => {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const claim = pending();
          const revision = await kv.create(id, JSON.stringify(claim));
          return { state: "claimed", reservation: this.#reservation(kv, id, revision, claim.leaseUntil) };
        } catch (error) {
          if (!isWrongRevision(error)) throw error;
        }
        const entry = await kv.get(id);
        if (!entry || entry.operation !== "PUT") continue; // deleted meanwhile: try to create again
        const record = entry.json<Record>();
        if (record.state === "done") return { state: "done", requestHash: record.requestHash, value: record.value };
        if (record.leaseUntil > this.#now()) return { state: "pending" };
        // The replica that held it stopped answering: take the key over, unless someone else just did.
        try {
          const claim = pending();
          const revision = await kv.update(id, JSON.stringify(claim), entry.revision);
          return { state: "claimed", reservation: this.#reservation(kv, id, revision, claim.leaseUntil) };
        } catch (error) {
          if (!isWrongRevision(error)) throw error;
          return { state: "pending" };
        }
      }
      return { state: "pending" };
    });
  }

  #reservation(kv: KV, id: string, revision: number, leaseUntil: number): Reservation<JsonValue> {
    return {
      complete: (requestHash, value) => {
        const record: Record = { state: "done", requestHash, value };
        return this.#endClaim("store an idempotent response", () => kv.update(id, JSON.stringify(record), revision), leaseUntil);
      },
      abandon: () => this.#endClaim("release an idempotency key", () => kv.delete(id, { previousSeq: revision }), leaseUntil),
    };
  }

  /**
   * Writes the end of a claim without failing the request, whose answer is already decided. A
   * write NATS could not take is retried in the background until the lease runs out: left
   * pending, the key would answer every replay 409 for the rest of the lease although its
   * response exists (the chaos run found it when nats-server restarted mid-request).
   */
  async #endClaim(what: string, write: () => Promise<unknown>, leaseUntil: number): Promise<void> {
    const { logger } = this.options;
    const { written } = await writeWithRetries(write, {
      deadline: leaseUntil,
      now: this.#now,
      isFinal: isWrongRevision,
      onGiveUp: (error) => logger.warn({ err: error }, `gave up trying to ${what}`),
    });
    if (!written) logger.warn(`could not ${what} yet; retrying in the background until its lease runs out`);
  }

  #bucket(): Promise<KV> {
    this.#kv ??= (async () => {
      const nc = await this.options.nats.get();
      return new Kvm(nc).create(this.options.bucket, { history: 1, ttl: this.options.ttlMs, replicas: this.options.replicas ?? 1 });
    })();
    return this.#kv.catch((error: unknown) => {
      this.#kv = undefined;
      if (error instanceof GatewayError) throw error;
      this.options.logger.warn({ err: error }, "cannot open the idempotency bucket");
      throw new GatewayError(Code.UNAVAILABLE, "the idempotency store is unavailable; retry later", { retryAfterSeconds: 2 });
    });
  }

  async #unavailableOnError<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      this.options.logger.warn({ err: error }, "idempotency store failed");
      throw new GatewayError(Code.UNAVAILABLE, "the idempotency store is unavailable; retry later", { retryAfterSeconds: 1 });
    }
  }
}

/** KV create/update refused because the key exists or changed (JetStream "wrong last sequence"). */
function isWrongRevision(error: unknown): boolean {
  const text = `${(error as { message?: string })?.message ?? ""} ${(error as { api_error?: { err_code?: number } })?.api_error?.err_code ?? ""}`;
  return /wrong last sequence|10071|key exists/i.test(text);
}
