// The retention planner: one pure function from a guest's snapshots and a policy to a
// decision per snapshot, with the rule that decided. `--dry-run` prints exactly this;
// the executor acts on exactly this.
import { planCalendar, markPartials, type CalendarVerdict } from './calendar.ts';
import { planCount } from './count.ts';
import { planTiers } from './tiers.ts';
import type { Policy } from './policy.ts';

export interface PlanItem {
  name: string;
  /** unix seconds, as PVE reports it */
  snaptime: number;
  /** not ours (no marker, other label, manual): never removed, never counted */
  protected?: boolean;
  /** incomplete (PVE snapstate prepare/delete) */
  partial?: boolean;
}

export type Action = 'keep' | 'remove' | 'protected';
export interface Decision {
  name: string;
  snaptime: number;
  action: Action;
  /** the rule that decided: `count 2/3`, `keep-daily 3/7`, `tier 1-3h :00/:30`, `newest kept`, `not ours`... */
  reason: string;
}

export interface PlanOptions {
  now: Date;
  /** IANA zone for local-time rules (resolveTimeZone in localtime.ts) */
  tz: string;
  /**
   * Safety floor: the newest managed snapshot is kept whatever the policy says (reason
   * `newest kept`). Pass it for every scheduled run; leave it off only for an explicit
   * `--keep 0`, which is the one way to remove all of a label.
   */
  keepNewest?: boolean;
}

const byNewest = (a: PlanItem, b: PlanItem) => b.snaptime - a.snaptime || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

/** Decisions for every item, newest first (ties: name descending). */
export function planRetention(items: PlanItem[], policy: Policy, opts: PlanOptions): Decision[] {
  const sorted = [...items].sort(byNewest);
  const now = Math.floor(opts.now.getTime() / 1000);
  // the verdict of sorted[i]
  let verdictOf: (i: number) => { action: Action; reason: string };

  if (policy.kind === 'calendar') {
    // the calendar's verdicts come in sorted's order, one object for all the snapshots that
    // share a verdict: translated once each, not copied into a map per snapshot (a plan
    // over 100,000 snapshots held a few MiB of maps)
    const marks = planCalendar(sorted, policy, opts.tz);
    const translated = new Map<CalendarVerdict, { action: Action; reason: string }>();
    verdictOf = (i) => {
      const v = marks[i];
      let t = translated.get(v);
      if (!t) translated.set(v, (t = { action: v.mark === 'keep-partial' ? 'keep' : v.mark, reason: v.mark === 'protected' ? 'not ours' : v.reason }));
      return t;
    };
  } else {
    const verdict = new Map<PlanItem, { action: Action; reason: string }>();
    for (const it of sorted) if (it.protected) verdict.set(it, { action: 'protected', reason: 'not ours' });
    for (const [it, v] of markPartials(sorted.filter((i) => !i.protected))) {
      verdict.set(it, { action: v.mark === 'keep-partial' ? 'keep' : 'remove', reason: v.reason });
    }
    const finished = sorted.filter((i) => !i.protected && !i.partial);
    const decided = policy.kind === 'count' ? planCount(finished, policy.keep) : planTiers(finished, policy.tiers, now, opts.tz);
    for (const [it, v] of decided) verdict.set(it, v);
    verdictOf = (i) => verdict.get(sorted[i])!;
  }

  let newestKept = -1;
  if (opts.keepNewest) {
    let newest = sorted.findIndex((i) => !i.protected && !i.partial);
    if (newest < 0) newest = sorted.findIndex((i) => !i.protected);
    if (newest >= 0 && verdictOf(newest)?.action === 'remove') newestKept = newest;
  }

  return sorted.map((it, i) => {
    const v = i === newestKept ? { action: 'keep' as const, reason: 'newest kept' } : verdictOf(i);
    return { name: it.name, snaptime: it.snaptime, action: v.action, reason: v.reason };
  });
}

/** Counts for a summary line: `keep 5, remove 2, protected 1`. */
export function summarise(decisions: Decision[]): Record<Action, number> {
  const out: Record<Action, number> = { keep: 0, remove: 0, protected: 0 };
  for (const d of decisions) out[d.action]++;
  return out;
}
