import type { EntityManager, Knex } from "@mikro-orm/postgresql";

/** What node-postgres answers; rows come back exactly as pg parses them (int8 and numeric as strings). */
interface PgConnection {
  query(query: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** The part of a knex client that hands out connections; a transaction's client hands out its own. */
interface ConnectionSource {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
}

interface Statement {
  /** The prepared statement's name: one per statement text in this process. */
  name: string;
  text: string;
}

const compiled = new Map<string, Statement>();
let statements = 0;

/** Turns the `?` placeholders the stores write into pg's `$1, $2, ...` and names it, once per statement text. */
function compile(text: string): Statement {
  let out = compiled.get(text);
  if (out === undefined) {
    let n = 0;
    // Names are never reused for another text, even after a clear: a connection keeps what it prepared.
    out = { name: `om${++statements}`, text: text.replace(/\?/g, () => `$${++n}`) };
    if (compiled.size > 10_000) compiled.clear(); // statements are constants; this never fills in practice
    compiled.set(text, out);
  }
  return out;
}

/**
 * Runs one SQL statement straight on node-postgres: on the connection of `em`'s transaction when
 * it has one (so it commits or rolls back with everything else the transaction did), otherwise
 * on a pooled connection in autocommit. Placeholders are `?`; an array binds as one PostgreSQL
 * array (`= any(?::uuid[])`, `unnest(?::int[])`), never as a list.
 *
 * Hot paths use this instead of `em.getConnection().execute()`: MikroORM's and knex's query
 * layers (logging, binding, result mapping) cost several times the client CPU of the query
 * itself, for statements that need none of it.
 *
 * Every statement is a named prepared statement: each connection parses and plans it once, and
 * PostgreSQL then only binds and runs it (the saga's statements are short, so parsing and
 * planning were a good part of the server's CPU). Behind PgBouncer in transaction mode this
 * needs PgBouncer 1.21 or later with max_prepared_statements set.
 */
export function sql<T = Record<string, unknown>>(em: EntityManager, text: string, params: readonly unknown[] = []): Promise<T[]> {
  return knexSql<T>(em.getTransactionContext<Knex.Transaction>() ?? em.getKnex(), text, params);
}

/** `sql()` on a knex transaction (its connection) or a knex instance (a pooled connection). */
export async function knexSql<T = Record<string, unknown>>(knex: Knex, text: string, params: readonly unknown[] = []): Promise<T[]> {
  const source = knex.client as unknown as ConnectionSource;
  const connection = await source.acquireConnection();
  try {
    const statement = compile(text);
    const result = await connection.query({ name: statement.name, text: statement.text, values: params as unknown[] });
    return result.rows as T[];
  } finally {
    // A no-op for a transaction's connection, which stays with the transaction.
    await source.releaseConnection(connection);
  }
}
