// NUL, and surrogates without their partner.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * An event's text `value` trimmed and cut to `max` characters, as it can be stored; undefined
 * when nothing is left. An event's strings are not checked like an RPC's, and a NUL or half a
 * surrogate pair (a cut through an emoji) would make PostgreSQL refuse the whole batch.
 */
export function storedText(value: string, max = 300): string | undefined {
  const trimmed = value.replace(UNSTORABLE, "").trim();
  // Array.from splits by code point, so the cut never falls inside a surrogate pair.
  return trimmed ? Array.from(trimmed).slice(0, max).join("") : undefined;
}
