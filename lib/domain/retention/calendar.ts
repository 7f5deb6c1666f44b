// The calendar policy: Proxmox Backup Server's prune algorithm, step for step
// (pbs-datastore prune.rs; semantics in facts/retention.md section 3), with buckets in
// the local time of the job's zone.
//
//  1. newest first; of the unfinished (partial) snapshots only the newest is kept, and only
//     if it is newer than every finished one;
//  2. the rules run in the order last, hourly, daily, weekly, monthly, yearly, each mapping
//     a snapshot to a bucket key (last: the exact time; hourly %Y/%m/%d/%H; daily
//     %Y/%m/%d; weekly %G/%V; monthly %Y/%m; yearly %Y);
//  3. in one rule's pass, keys of snapshots already kept count as covered; walking newest
//     to oldest, marked snapshots are skipped, protected ones are marked protected without
//     using a slot, covered keys are skipped, the first snapshot of a new key is kept until
//     N keys were taken (then the pass stops), later snapshots in a key taken in this pass
//     are removed for good;
//  4. whatever is unmarked is removed; no rule at all keeps everything.
import type { CalendarPolicy } from './policy.ts';
import { tzOffset } from './localtime.ts';

export interface CalendarItem {
  snaptime: number;
  protected?: boolean;
  partial?: boolean;
}
type Mark = 'keep' | 'remove' | 'protected' | 'keep-partial';
export interface CalendarVerdict {
  mark: Mark;
  reason: string;
}

const RULES = [
  { key: 'keepLast', option: 'keep-last', period: 'time' },
  { key: 'keepHourly', option: 'keep-hourly', period: 'hour' },
  { key: 'keepDaily', option: 'keep-daily', period: 'day' },
  { key: 'keepWeekly', option: 'keep-weekly', period: 'week' },
  { key: 'keepMonthly', option: 'keep-monthly', period: 'month' },
  { key: 'keepYearly', option: 'keep-yearly', period: 'year' },
] as const;

/**
 * A snapshot's bucket (step 2's strftime keys) as a number, equal for two snapshots
 * exactly when those texts are: local seconds (UTC plus the zone's offset then) counted
 * in whole hours, days, Monday-to-Sunday weeks (an ISO week-year and week name one such
 * week), months, years. Numbers and arithmetic, not strings and Date objects: a plan over
 * 100,000 snapshots takes a key per snapshot and pass, and those were most of its memory.
 */
export function bucketer(period: (typeof RULES)[number]['period'], tz: string): (sec: number) => number {
  if (period === 'time') return (sec) => sec;
  return (sec) => {
    const local = Math.floor(sec) + tzOffset(sec, tz);
    if (period === 'hour') return Math.floor(local / 3600);
    const days = Math.floor(local / 86400);
    if (period === 'day') return days;
    // day 0 (1970-01-01) was a Thursday: days + 3 counts from the Monday before it
    if (period === 'week') return Math.floor((days + 3) / 7);
    const months = monthsFromDays(days);
    return period === 'month' ? months : Math.floor(months / 12);
  };
}

/**
 * year * 12 + month - 1 (month 1-12) of a day count since 1970-01-01 in the proleptic
 * Gregorian calendar, as Date's UTC fields give them (H. Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms", civil_from_days).
 */
function monthsFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return (yoe + era * 400 + (month <= 2 ? 1 : 0)) * 12 + month - 1;
}

/**
 * Step 1 alone, shared with the other policies: verdicts for the partial items of a
 * newest-first list.
 */
export function markPartials<T extends CalendarItem>(newestFirst: T[]): Map<T, CalendarVerdict> {
  const out = new Map<T, CalendarVerdict>();
  let keepUnfinished = true;
  for (const it of newestFirst) {
    if (!it.partial) {
      keepUnfinished = false;
      continue;
    }
    out.set(it, keepUnfinished ? { mark: 'keep-partial', reason: 'keep-partial' } : { mark: 'remove', reason: 'partial, not the newest' });
    keepUnfinished = false;
  }
  return out;
}

const PROTECTED: CalendarVerdict = { mark: 'protected', reason: 'protected' };
const UNKEPT: CalendarVerdict = { mark: 'remove', reason: 'no rule keeps it' };
const KEEP_ALL: CalendarVerdict = { mark: 'keep', reason: 'no option: keep all' };

/**
 * `newestFirst` must be sorted by snaptime, newest first (ties in any fixed order). The
 * verdicts are in the same order (one array, not a map from item to verdict: 100,000
 * snapshots made a map of a few MiB); verdicts that say the same are one object, only read.
 */
export function planCalendar<T extends CalendarItem>(newestFirst: T[], policy: CalendarPolicy, tz: string): CalendarVerdict[] {
  const rules = RULES.filter((r) => (policy[r.key] ?? 0) > 0);
  if (rules.length === 0) return newestFirst.map((it) => (it.protected ? PROTECTED : KEEP_ALL));
  const partials = markPartials(newestFirst);
  const mark: (CalendarVerdict | undefined)[] = newestFirst.map((it) => partials.get(it));
  for (const rule of rules) {
    const keep = policy[rule.key] as number;
    const key = bucketer(rule.period, tz);
    const covered = new Set<number>();
    for (let i = 0; i < newestFirst.length; i++) if (mark[i]?.mark === 'keep') covered.add(key(newestFirst[i].snaptime));
    const taken = new Set<number>();
    const removed: CalendarVerdict = { mark: 'remove', reason: `${rule.option}: ${rule.period} already kept` };
    for (let i = 0; i < newestFirst.length; i++) {
      const it = newestFirst[i];
      if (mark[i]) continue;
      if (it.protected) {
        mark[i] = PROTECTED;
        continue;
      }
      const k = key(it.snaptime);
      if (covered.has(k)) continue;
      if (!taken.has(k)) {
        if (taken.size >= keep) break;
        taken.add(k);
        mark[i] = { mark: 'keep', reason: `${rule.option} ${taken.size}/${keep}` };
      } else {
        mark[i] = removed;
      }
    }
  }
  // the marks become the result: unmarked ones removed, protected ones protected
  return newestFirst.map((it, i) => (it.protected ? PROTECTED : (mark[i] ?? UNKEPT)));
}
