import type { Knex } from "@mikro-orm/postgresql";
import type { EntityManager } from "../db/index.js";

/**
 * The knex transaction `em` is running in. Outbox and processed-event writes must share the
 * caller's transaction (that is the whole point of the outbox), so running outside one is a
 * programming error, reported at once rather than silently writing in autocommit.
 */
export function transactionOf(em: EntityManager, operation: string): Knex.Transaction {
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) throw new Error(`${operation} must run inside em.transactional(): it writes in the caller's transaction`);
  return trx;
}
