// Durations, one grammar for every option and config key that takes one: a number
// (decimals allowed) and an optional unit, blanks between allowed, any case. A bare
// number is seconds, as in PVE's own settings (vzdump's `lockwait` is minutes, but
// every timeout of the API and of qm/pct is seconds). What range an option allows (more
// than 0, a unit required, at most a day) stays with the option.
import { UsageError } from './errors.ts';

/** Milliseconds per unit; `ms` exists so tests can run a whole protocol in a second or two. */
const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

const GRAMMAR = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/i;

/** `30d`, `12h`, `90m`, `45s`, `500ms`, `2w` or plain seconds, in milliseconds (whole); undefined when not a duration. */
export function durationMs(value: string): number | undefined {
  const m = GRAMMAR.exec(String(value).trim());
  return m ? Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] ?? 's').toLowerCase()]) : undefined;
}

/** A duration an admin gave, in milliseconds; anything else is refused, naming where it came from. */
export function parseDurationMs(value: string, what = 'duration'): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new UsageError(`${what}: '${value}' is not a duration (use e.g. 30d, 12h, 90m, 45s)`);
  return ms;
}

/** The same, in whole seconds. */
export function parseDuration(value: string, what = 'duration'): number {
  return Math.round(parseDurationMs(value, what) / 1000);
}

/** Whether the text gives a unit (`10m`), not a bare number (`10`). */
export function hasDurationUnit(value: string): boolean {
  return /[a-z]\s*$/i.test(String(value).trim());
}
