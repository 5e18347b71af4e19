import type { EventSubscriber } from "@mikro-orm/core";
import type { EntityManager, Knex } from "@mikro-orm/postgresql";
import { outermostTransaction } from "./after-commit.js";

const pending = new WeakMap<object, (() => Promise<void>)[]>();

/**
 * Runs `fn` in the transaction `em` is running in, just before its outermost transaction
 * commits (never at a savepoint's release), after everything else the transaction did: for
 * writes collected over a transaction and made in one statement at its end. Hooks run one at a
 * time in the order they were queued; a hook may queue more. A hook that throws rolls the whole
 * transaction back; a transaction that rolls back drops its hooks unrun. A hook queued inside a
 * savepoint belongs to the outermost transaction: it still runs if that savepoint alone rolls
 * back, so queue from a savepoint only what the outer transaction keeps either way. Throws
 * outside a transaction, where there is no commit to run before.
 */
export function beforeCommit(em: EntityManager, fn: () => Promise<void>): void {
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) throw new Error("beforeCommit must run inside a transaction: it writes in the caller's transaction");
  const top = outermostTransaction(trx);
  const fns = pending.get(top);
  if (fns) fns.push(fn);
  else pending.set(top, [fn]);
}

/** Runs the hooks `beforeCommit` queued on `transaction`, including those they queue; the caller commits afterwards. */
export async function runBeforeCommit(transaction: object): Promise<void> {
  for (let fns = pending.get(transaction); fns; fns = pending.get(transaction)) {
    pending.delete(transaction);
    for (const fn of fns) await fn();
  }
}

/** Drops the hooks queued on `transaction` (it rolled back). */
export function dropBeforeCommit(transaction: object): void {
  pending.delete(transaction);
}

/**
 * Runs the hooks of the transactions MikroORM runs (`em.transactional()`); MikroORM raises these
 * events for the outermost transaction only, and rolls back when a beforeTransactionCommit
 * listener throws. Registered by `openDatabase`, like `afterCommitSubscriber` and for the same
 * reason. `runTransaction` runs the hooks itself.
 */
export const beforeCommitSubscriber: EventSubscriber = {
  beforeTransactionCommit: async ({ transaction }) => {
    if (transaction) await runBeforeCommit(transaction);
  },
  afterTransactionRollback: ({ transaction }) => transaction && dropBeforeCommit(transaction),
};
