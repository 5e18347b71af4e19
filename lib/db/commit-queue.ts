import type { EntityManager, Knex } from "@mikro-orm/postgresql";
import { outermostTransaction } from "./after-commit.js";
import { beforeCommit } from "./before-commit.js";

/**
 * Writes a transaction collects as it goes and makes together just before it commits (see
 * `beforeCommit`): a consumer batch of thirty events then writes its rows in one statement
 * instead of thirty round trips, each of which wakes PostgreSQL and the service. What is queued
 * belongs to the outermost transaction; a transaction that rolls back drops it unwritten.
 */
export class CommitQueue<Q> {
  readonly #pending = new WeakMap<object, Q>();

  /**
   * @param create makes a transaction's empty queue
   * @param write makes the queued writes, on the transaction, before it commits; throwing rolls it back
   */
  constructor(
    private readonly create: () => Q,
    private readonly write: (em: EntityManager, queued: Q) => Promise<void>,
  ) {}

  /** The queue of `em`'s transaction, made (and its write scheduled) on first use. Throws outside a transaction. */
  of(em: EntityManager): Q {
    const trx = transactionOf(em);
    let queued = this.#pending.get(trx);
    if (queued === undefined) {
      const created = this.create();
      this.#pending.set(trx, (queued = created));
      beforeCommit(em, () => {
        this.#pending.delete(trx);
        return this.write(em, created);
      });
    }
    return queued;
  }

  /** The queue of `em`'s transaction, if `of` made one. */
  peek(em: EntityManager): Q | undefined {
    const trx = em.getTransactionContext<Knex.Transaction>();
    return trx && this.#pending.get(outermostTransaction(trx));
  }
}

function transactionOf(em: EntityManager): object {
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) throw new Error("queued writes run inside a transaction: they are made just before it commits");
  return outermostTransaction(trx);
}
