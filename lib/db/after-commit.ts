import type { EventSubscriber } from "@mikro-orm/core";
import type { EntityManager, Knex } from "@mikro-orm/postgresql";

/** A knex transaction, or a savepoint inside one. */
type Transaction = Knex.Transaction & { parentTransaction?: Transaction; [key: symbol]: unknown };

/**
 * The outermost transaction of `trx` (itself unless it is a savepoint). knex links a savepoint
 * to its outer transaction by `parentTransaction`; MikroORM's savepoints (a nested
 * `em.transactional()`) by a private symbol, found here by its description.
 */
export function outermostTransaction(trx: Knex.Transaction): Knex.Transaction {
  let current = trx as Transaction;
  for (;;) {
    const symbol = Object.getOwnPropertySymbols(current).find((s) => s.description === "parentTransaction");
    const parent = current.parentTransaction ?? (symbol && (current[symbol] as Transaction | undefined));
    if (!parent) return current;
    current = parent;
  }
}

const pending = new WeakMap<object, (() => void)[]>();

/**
 * Runs `fn` once the transaction `em` is running in has committed (its outermost transaction,
 * not a savepoint), and never if it rolls back: for effects that must only count what really
 * happened (business counters, wake-ups). `fn` must be synchronous and cheap; errors it throws
 * are swallowed (a counter must not fail a commit that already happened). Outside a
 * transaction `fn` runs at once.
 */
export function afterCommit(em: EntityManager, fn: () => void): void {
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) {
    runQuietly(fn);
    return;
  }
  const top = outermostTransaction(trx);
  const fns = pending.get(top);
  if (fns) fns.push(fn);
  else pending.set(top, [fn]);
}

/** Runs the hooks `afterCommit` queued on `transaction` if it committed, else drops them. */
export function settleAfterCommit(transaction: object, committed: boolean): void {
  const fns = pending.get(transaction);
  if (!fns) return;
  pending.delete(transaction);
  if (committed) for (const f of fns) runQuietly(f);
}

/**
 * Settles the hooks of the transactions MikroORM runs (`em.transactional()`); `openDatabase`
 * registers it before any fork exists, because a transaction's fork works on a copy of the
 * event manager and a subscriber added to a copy never hears the outer transaction end.
 * `runTransaction` calls `settleAfterCommit` itself.
 */
export const afterCommitSubscriber: EventSubscriber = {
  afterTransactionCommit: ({ transaction }) => transaction && settleAfterCommit(transaction, true),
  afterTransactionRollback: ({ transaction }) => transaction && settleAfterCommit(transaction, false),
};

function runQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // See above: the commit stands whatever a hook does.
  }
}
