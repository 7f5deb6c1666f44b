// Durations as the tools read them from the command line and the config file.
import { UsageError } from './errors.ts';

/** Durations like `30d`, `12h`, `90m`, `45s`, `2w` or plain seconds. Returns seconds. */
export function parseDuration(value: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?$/i.exec(String(value).trim());
  if (!m) throw new UsageError(`${what}: '${value}' is not a duration (use e.g. 30d, 12h, 90m, 45s)`);
  const mult: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Math.round(Number(m[1]) * mult[(m[2] ?? 's').toLowerCase()]);
}
