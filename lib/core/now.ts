// "Now" for every tool: the clock, or `AUTOSNAP_NOW=<ISO-8601>` (a testing aid) so that
// snapshot names, ages and retention can be replayed at a chosen moment.
import { UsageError } from './errors.ts';

// Date.parse accepts much more than ISO-8601 ("May 16", "2025/05/16") and reads some of
// it differently per runtime; only the ISO forms are taken, so a typo is an error.
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Do the date and time fields name a moment that exists? Runtimes roll `2025-02-30` over
 * to 2 March instead of refusing it, and a replay at the wrong moment names and prunes
 * snapshots by the wrong clock.
 */
function realFields(v: string): boolean {
  const [y, mo, d, h = 0, mi = 0, s = 0] = (v.match(/\d+/g) ?? []).slice(0, 6).map(Number);
  const probe = new Date(Date.UTC(y, mo - 1, d));
  probe.setUTCFullYear(y);
  return probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d && h <= 23 && mi <= 59 && s <= 59;
}

/** The pinned time of `AUTOSNAP_NOW`, or the clock when it is unset or empty. */
export function nowDate(env: Record<string, string | undefined> = process.env): Date {
  const v = env.AUTOSNAP_NOW?.trim();
  if (!v) return new Date();
  const d = ISO.test(v) && realFields(v) ? new Date(v) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new UsageError(`AUTOSNAP_NOW: '${v}' is not an ISO-8601 time (e.g. 2025-05-16T12:00:00+02:00)`);
  return d;
}

/** The same in unix seconds. */
export function nowSeconds(env: Record<string, string | undefined> = process.env): number {
  return Math.floor(nowDate(env).getTime() / 1000);
}
