// Lines of a run that runs every 15 minutes: a warning that says the same thing every run
// (the secret on the command line, a guest without the QEMU agent) is shown every time on
// a terminal or in a script, but from a systemd unit (INVOCATION_ID is set for every
// start of a unit) only when it is new or has changed, so that 52 runs a day do not bury
// the one line that matters. What was shown is kept in warned.json in the state
// directory; a warning that went away and comes back is new again.
import { guestTag } from '../guests/types.ts';
import { escapeLine } from '../../core/escape.ts';
import { isJournal, priorityPrefix, redact } from '../../core/log.ts';
import { writeErr } from '../../core/stdio.ts';
import { readState, writeState } from './state.ts';

const WARNED_STATE = 'warned.json';

let seen: Record<string, string> | undefined;
let dirty = false;

/** True when this warning is to be shown now (and remembers it). */
export function shownOnce(key: string, text: string): boolean {
  if (!process.env.INVOCATION_ID || process.stderr.isTTY) return true;
  seen ??= readState<Record<string, string>>(WARNED_STATE, {});
  if (seen[key] === text) return false;
  seen[key] = text;
  dirty = true;
  return true;
}

/** Forget warnings of these keys that this run did not give again: they went away. */
export function forgetWarnings(keys: string[], given: Set<string>): void {
  if (!process.env.INVOCATION_ID) return;
  seen ??= readState<Record<string, string>>(WARNED_STATE, {});
  for (const k of keys) {
    if (k in seen && !given.has(k)) {
      delete seen[k];
      dirty = true;
    }
  }
  saveWarnings();
}

export function saveWarnings(): void {
  if (dirty && seen) writeState(WARNED_STATE, seen);
  dirty = false;
}

/**
 * A guest's problem line of a run on stderr, with its journal priority. The kind is read
 * after the guest's tag (`100 web1: `): a guest name is API text, and one holding
 * `: failed: ` must not turn a warning into an error.
 */
export function problemLine(guest: { vmid: number; name?: string }, p: string, given: Set<string>): void {
  const text = problemText(guest, p, given);
  if (text !== undefined) writeErr(text);
}

/** The text problemLine writes, newline included; undefined for a warning shown before. */
export function problemText(guest: { vmid: number; name?: string }, p: string, given: Set<string>): string | undefined {
  const tag = `${guestTag(guest)}: `;
  const kind = p.startsWith(tag) ? p.slice(tag.length) : p;
  let pri: string;
  let line = p;
  if (kind.startsWith('failed: ')) {
    pri = priorityPrefix('error');
    line = `error: ${p}`;
  } else if (kind.startsWith('warning: no QEMU guest agent')) {
    const key = `agent/${guest.vmid}`;
    given.add(key);
    if (!shownOnce(key, p)) return undefined;
    pri = priorityPrefix('warn');
  } else {
    // skips (a lock, a full storage, a hook's veto) and other warnings
    pri = isJournal(2) ? (kind.startsWith('warning:') ? '<4>' : '<5>') : '';
  }
  // API text in the line (a guest name, a PVE error) shown escaped, as every line is
  return `${pri}${escapeLine(redact(line))}\n`;
}
