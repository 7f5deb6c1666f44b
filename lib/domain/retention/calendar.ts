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
import { isoWeek, localTime } from './localtime.ts';

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

function bucketer(period: (typeof RULES)[number]['period'], tz: string): (sec: number) => string {
  if (period === 'time') return (sec) => String(sec);
  return (sec) => {
    const l = localTime(sec, tz);
    switch (period) {
      case 'hour':
        return `${l.year}/${l.month}/${l.day}/${l.hour}`;
      case 'day':
        return `${l.year}/${l.month}/${l.day}`;
      case 'week': {
        const w = isoWeek(l.year, l.month, l.day);
        return `${w.year}/${w.week}`;
      }
      case 'month':
        return `${l.year}/${l.month}`;
      default:
        return `${l.year}`;
    }
  };
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

/** `newestFirst` must be sorted by snaptime, newest first (ties in any fixed order). */
export function planCalendar<T extends CalendarItem>(newestFirst: T[], policy: CalendarPolicy, tz: string): Map<T, CalendarVerdict> {
  const rules = RULES.filter((r) => (policy[r.key] ?? 0) > 0);
  if (rules.length === 0) {
    const all = new Map<T, CalendarVerdict>();
    for (const it of newestFirst) all.set(it, it.protected ? { mark: 'protected', reason: 'protected' } : { mark: 'keep', reason: 'no option: keep all' });
    return all;
  }
  const mark = markPartials(newestFirst);
  for (const rule of rules) {
    const keep = policy[rule.key] as number;
    const key = bucketer(rule.period, tz);
    const covered = new Set<string>();
    for (const it of newestFirst) if (mark.get(it)?.mark === 'keep') covered.add(key(it.snaptime));
    const taken = new Set<string>();
    for (const it of newestFirst) {
      if (mark.has(it)) continue;
      if (it.protected) {
        mark.set(it, { mark: 'protected', reason: 'protected' });
        continue;
      }
      const k = key(it.snaptime);
      if (covered.has(k)) continue;
      if (!taken.has(k)) {
        if (taken.size >= keep) break;
        taken.add(k);
        mark.set(it, { mark: 'keep', reason: `${rule.option} ${taken.size}/${keep}` });
      } else {
        mark.set(it, { mark: 'remove', reason: `${rule.option}: ${rule.period} already kept` });
      }
    }
  }
  const out = new Map<T, CalendarVerdict>();
  for (const it of newestFirst) {
    if (it.protected) out.set(it, { mark: 'protected', reason: 'protected' });
    else out.set(it, mark.get(it) ?? { mark: 'remove', reason: 'no rule keeps it' });
  }
  return out;
}
