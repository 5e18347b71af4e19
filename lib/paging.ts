import { invalidArgument } from "./errors.js";
import { isUuid } from "./ids.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

/** The page size a list RPC should use: the default for 0, INVALID_ARGUMENT when negative, capped at 100. */
export function pageSize(requested: number): number {
  if (requested < 0) throw invalidArgument("page_size", "must not be negative");
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}

/**
 * Page tokens are opaque to clients: the last id of the previous page (UUIDv7 ids sort by
 * creation), base64url-encoded. Keyset paging stays fast and stable while rows are added.
 */
export function encodePageToken(lastId: string): string {
  return Buffer.from(lastId, "utf8").toString("base64url");
}

/** The id after which the next page starts, or undefined for the first page. */
export function decodePageToken(token: string): string | undefined {
  if (token === "") return undefined;
  const id = Buffer.from(token, "base64url").toString("utf8");
  if (!isUuid(id)) throw invalidArgument("page_token", "is not a token returned by this API");
  return id;
}

/** The token for the page after `rows` (fetched with limit size + 1), and the rows of this page. */
export function nextPage<T extends { id: string }>(rows: T[], size: number): { page: T[]; nextPageToken: string } {
  if (rows.length <= size) return { page: rows, nextPageToken: "" };
  const page = rows.slice(0, size);
  return { page, nextPageToken: encodePageToken(page[page.length - 1].id) };
}
