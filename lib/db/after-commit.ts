import type { EntityManager } from "@mikro-orm/postgresql";

const pending = new WeakMap<object, (() => void)[]>();
const subscribed = new WeakSet<object>();

/**
 * Runs `fn` once the transaction `em` is running in has committed, and never if it rolls back:
 * for effects that must only count what really happened (business counters, wake-ups). `fn`
 * must be synchronous and cheap; errors it throws are swallowed (a counter must not fail a
 * commit that already happened). Outside a transaction `fn` runs at once.
 */
export function afterCommit(em: EntityManager, fn: () => void): void {
  const trx = em.getTransactionContext();
  if (!trx) {
    runQuietly(fn);
    return;
  }
  const events = em.getEventManager();
  if (!subscribed.has(events)) {
    subscribed.add(events);
    // Forks share their parent's event manager, so this runs once per database.
    events.registerSubscriber({
      afterTransactionCommit: ({ transaction }) => {
        const fns = transaction && pending.get(transaction);
        if (!fns) return;
        pending.delete(transaction);
        for (const f of fns) runQuietly(f);
      },
      afterTransactionRollback: ({ transaction }) => {
        if (transaction) pending.delete(transaction);
      },
    });
  }
  const fns = pending.get(trx);
  if (fns) fns.push(fn);
  else pending.set(trx, [fn]);
}

function runQuietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // See above: the commit stands whatever a hook does.
  }
}
