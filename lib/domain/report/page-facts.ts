// What the HTML page shows (its facts, as types) and what every part of it shares: the
// escaping every string from the cluster or a file goes through, the rule that decided a
// mark (as a fixed class token), and the words for each action.
import { escapeLine } from '../../core/escape.ts';
import type { Policy } from '../retention/policy.ts';

export type MarkAction = 'create' | 'exists' | 'keep' | 'remove' | 'protected' | 'present';

export interface PageSnapshot {
  name: string;
  snaptime?: number;
  action: MarkAction;
  /** the rule that decided (`keep-daily 2/7`, `count 1/3`, `not ours`...) or, in status, the label */
  reason: string;
  description?: string;
  /** the timeline row it is drawn in: a job's name, a label; undefined: other tools' row */
  row?: string;
  /** what the run did: removed, its removal failed, created */
  result?: 'removed' | 'remove-failed' | 'created';
}

export interface PageGuest {
  /** node, or what stands for it (an offline plan: `what-if`) */
  node: string;
  pool?: string;
  /** 0: no guest (an offline plan's file) */
  vmid: number;
  name: string;
  type?: string;
  /** the last run's outcome for the guest, when known */
  status?: 'ok' | 'skipped' | 'failed';
  reason?: string;
  snapshots: PageSnapshot[];
}

export interface PageJob {
  name: string;
  policy?: Policy;
  /** the policy as the user wrote it, e.g. `keep_daily=7 keep_weekly=4` */
  policyText?: string;
}

export interface LastRun {
  /** unix seconds */
  at: number;
  totals: { created: number; removed: number; skipped: number; failed: number };
}

export interface PageFacts {
  kind: 'plan' | 'status' | 'run';
  /** unix seconds: the instant the page describes */
  now: number;
  tz: string;
  version: string;
  jobs: PageJob[];
  guests: PageGuest[];
  lastRun?: LastRun;
  groupBy?: 'node' | 'pool';
  /** a line under the title (the policy of an offline plan, the file it read) */
  subtitle?: string;
}

// ---------------------------------------------------------------- escaping and classes

/** Text and attribute values alike; C0 controls (not valid in HTML) become U+FFFD. */
export function esc(v: unknown): string {
  // control characters, newlines and direction overrides shown as the text outputs show
  // them (`\x1b`, `\n`, `\u202e`): a raw newline would let API text forge a line of the
  // page's source, which logs and mail bodies show as it is
  return escapeLine(String(v ?? '')).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

export const CALENDAR_RULES = ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;

/**
 * The rule a reason names, as a class token: `keep-daily 3/7` and `keep-daily: day already
 * kept` -> keep-daily; `count 1/3`, `beyond count 3` -> count; tier windows -> tier.
 * Only fixed tokens come out, so a reason can never inject a class or an attribute.
 */
export function ruleOf(reason: string, action: MarkAction): string {
  const r = reason.trim().toLowerCase();
  const cal = CALENDAR_RULES.find((k) => r === k || r.startsWith(`${k} `) || r.startsWith(`${k}:`));
  if (cal) return cal;
  if (action === 'present') return 'label';
  if (r.startsWith('count ') || r.startsWith('beyond count')) return 'count';
  if (r === 'newest kept') return 'newest';
  if (r === 'keep-partial' || r.startsWith('partial')) return 'partial';
  if (r === 'not ours' || r === 'protected') return 'not-ours';
  if (r === 'other job') return 'other-job';
  if (r === 'no rule keeps it') return 'none';
  if (r.startsWith('no option') || r.startsWith('no tiers')) return 'keep-all';
  if (action === 'create' || action === 'exists') return 'new';
  if (r === 'earlier day' || r.startsWith('older than') || /^[<>]?\d|^today/.test(r)) return 'tier';
  return 'other';
}

export const ACTION_TEXT: Record<MarkAction, string> = {
  create: 'to be created',
  exists: 'taken already',
  keep: 'kept',
  remove: 'removed',
  protected: 'left alone',
  present: 'present',
};
