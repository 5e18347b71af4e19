/** Recipient addresses: validation, normalisation and masking for logs. */

export type ChannelName = "EMAIL" | "SMS";
export const CHANNELS: readonly ChannelName[] = ["EMAIL", "SMS"];

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const EMAIL = new RegExp(`^[A-Za-z0-9.!#$%&'*+/=?^_\`{|}~-]+@(${LABEL}(?:\\.${LABEL})+)$`);

/** A deliverable-looking e-mail address with its domain lower-cased, or undefined. */
export function normalizeEmail(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed.length > 254) return undefined;
  const match = EMAIL.exec(trimmed);
  if (!match) return undefined;
  const local = trimmed.slice(0, trimmed.length - match[1].length - 1);
  if (local.length > 64 || local.startsWith(".") || local.endsWith(".") || local.includes("..")) return undefined;
  return `${local}@${match[1].toLowerCase()}`;
}

/**
 * An E.164 phone number (+ and 7 to 15 digits), accepting the usual separators (spaces, dashes,
 * dots, parentheses) and a 00 international prefix; undefined when it is not one.
 */
export function normalizePhone(value: string): string | undefined {
  let compact = value.trim().replace(/[\s\-.()]/g, "");
  if (compact.startsWith("00")) compact = `+${compact.slice(2)}`;
  return /^\+[1-9]\d{6,14}$/.test(compact) ? compact : undefined;
}

/** The recipient in canonical form for `channel`, or undefined when it is not valid for it. */
export function normalizeRecipient(channel: ChannelName, value: string): string | undefined {
  return channel === "EMAIL" ? normalizeEmail(value) : normalizePhone(value);
}

/** A recipient as logs may show it: "j***@example.com", "+*******1234". */
export function maskRecipient(recipient: string): string {
  const at = recipient.lastIndexOf("@");
  if (at > 0) return `${recipient[0]}***${recipient.slice(at)}`;
  if (recipient.length <= 4) return "*".repeat(recipient.length);
  const head = recipient.startsWith("+") ? "+" : "";
  return `${head}${"*".repeat(recipient.length - 4 - head.length)}${recipient.slice(-4)}`;
}
