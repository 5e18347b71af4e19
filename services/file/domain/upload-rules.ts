/**
 * Rules for what an upload may be called and what it may contain. Pure: the RPC layer turns a
 * problem into INVALID_ARGUMENT naming the field.
 */

export const MAX_FILE_NAME_LENGTH = 255;

/** Types accepted when FILE_CONTENT_TYPES is not set. */
export const DEFAULT_CONTENT_TYPES = ["application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv"] as const;

/** The type an upload without a content type is stored as (and checked against the allowlist). */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

// C0 and C1 control characters (including NUL and DEL), and the Unicode bidirectional overrides
// and isolates, which can disguise an extension ("invoice\u202Efdp.exe" displays as "invoiceexe.pdf").
const FORBIDDEN_CHARACTERS = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/u;

/**
 * Why `name` is not acceptable as a file name, or undefined if it is. A file name is a single
 * path segment shown to people and used in Content-Disposition: no directory separators, no
 * "..", no control characters, not hidden (leading "."), 1 to 255 characters. It is never
 * used as a storage key (those are generated), so this is defence in depth for everyone who
 * later turns the name into a path.
 */
export function fileNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is required";
  if ([...name].length > MAX_FILE_NAME_LENGTH) return `must be at most ${MAX_FILE_NAME_LENGTH} characters`;
  if (name.trim().length === 0) return "must not be blank";
  if (name !== name.trim()) return "must not start or end with whitespace";
  if (FORBIDDEN_CHARACTERS.test(name)) return "must not contain control characters";
  if (name.includes("/") || name.includes("\\")) return "must be a plain file name without path separators";
  if (name.includes("..")) return 'must not contain ".."';
  if (name.startsWith(".")) return 'must not start with "."';
  return undefined;
}

const TOKEN = "[A-Za-z0-9!#$&^_.+-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);

/**
 * The media type of a Content-Type value in canonical form (lower case, parameters dropped):
 * "Text/Plain; charset=utf-8" -> "text/plain". Undefined when it is not of the form type/subtype.
 */
export function mediaTypeOf(contentType: string): string | undefined {
  const essence = contentType.split(";", 1)[0].trim();
  if (essence.length > 127 || !MEDIA_TYPE.test(essence)) return undefined;
  return essence.toLowerCase();
}
