// Text from the API (guest and node names, snapshot descriptions, error messages, hook
// output) is free text anyone with VM.Snapshot or a broken node can set. On a terminal
// an escape sequence rewrites the screen, a bidi override reorders what is read, and a
// newline forges a whole line (`error: 999 fake: failed`) that log monitoring believes.
// So every text output shows such characters escaped, visibly and unambiguously enough to
// be read back: `\x1b`, `\n`, `\u202e`. JSON keeps the exact value (as `\uXXXX`).

/** C0 and C1 controls, DEL, and the invisible direction marks and overrides. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_BUT_NEWLINE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const c = ch.charCodeAt(0);
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** One line of text for a terminal or a log: every control character escaped, newlines too. */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * Text of several lines built by the tool itself: its newlines (and tabs, harmless on a
 * terminal) stay, anything else is escaped.
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, visible);
}

/**
 * JSON text with the characters JSON.stringify leaves raw (DEL, C1, bidi, line and
 * paragraph separators) written as `\uXXXX`: still valid JSON, still the exact value.
 * Outside strings JSON text holds none of them, so the replacement cannot break it.
 */
export function escapeJson(json: string): string {
  // JSON.stringify escapes every C0 control inside strings; the newlines left are jsonpretty's
  return json.replace(UNSAFE_BUT_NEWLINE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
