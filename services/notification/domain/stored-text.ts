import { cutText } from "../../../lib/text.js";

/**
 * An event's text `value` trimmed and cut to `max` UTF-16 code units (never through an emoji)
 * for a message; undefined when nothing is left. lib/events has already replaced what
 * PostgreSQL cannot store (NUL, unpaired surrogates) with U+FFFD, as it does for every event.
 */
export function storedText(value: string, max = 300): string | undefined {
  const trimmed = value.trim();
  return trimmed ? cutText(trimmed, max) : undefined;
}
