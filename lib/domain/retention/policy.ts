// Retention policies: what to keep of a guest's managed snapshots. Parsing lives here;
// the algorithms are in count.ts, tiers.ts and calendar.ts, the common frame in plan.ts.
import { UsageError } from '../../core/errors.ts';
import { parseTiers, DEFAULT_TIERS, type Tier } from './tiers.ts';

/** cv4pve's `--keep N`: the newest N by snaptime. */
interface CountPolicy {
  kind: 'count';
  keep: number;
}
/** Age windows, each keeping snapshots on a local clock grid (the original intraday policy). */
interface TiersPolicy {
  kind: 'tiers';
  tiers: Tier[];
}
/** Proxmox Backup Server's prune options. An unset (or 0) option does not apply. */
export interface CalendarPolicy {
  kind: 'calendar';
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}
export type Policy = CountPolicy | TiersPolicy | CalendarPolicy;

const CALENDAR_KEYS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
export type CalendarKey = (typeof CALENDAR_KEYS)[number];
/** `keepDaily` -> `keep-daily`, the spelling of options, config keys and reasons */
const optionName = (k: CalendarKey) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** CLI spellings; config files may write `keep_daily` as well (see normalise). */
export const POLICY_OPTIONS = {
  string: ['policy', 'keep', 'tiers', ...CALENDAR_KEYS.map(optionName)],
};

const intradayPolicy = (): TiersPolicy => ({ kind: 'tiers', tiers: parseTiers(DEFAULT_TIERS) });

type Source = Record<string, unknown> | { get(key: string): unknown };

function reader(src: Source): (key: string) => string | undefined {
  const get = typeof (src as { get?: unknown }).get === 'function' ? (src as { get(k: string): unknown }).get.bind(src) : undefined;
  const rec = src as Record<string, unknown>;
  return (key) => {
    const candidates = [key, key.replace(/-/g, '_')];
    for (const k of candidates) {
      let v = get ? get(k) : rec[k];
      if (Array.isArray(v)) v = v[v.length - 1];
      if (v !== undefined && v !== null && v !== '' && v !== false) return String(v).trim();
    }
    return undefined;
  };
}

function count(value: string, name: string, min: number): number {
  // `--keep -1` is a number, just not an allowed one: say so
  if (/^-\d+$/.test(value)) throw new UsageError(`--${name}: ${value} is out of range (${min}..1000000)`);
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: '${value}' is not a whole number`);
  const n = Number(value);
  if (n < min || n > 1_000_000) throw new UsageError(`--${name}: ${n} is out of range (${min}..1000000)`);
  return n;
}

/**
 * The policy given by options (`--keep N`, `--keep-last N ... --keep-yearly N`,
 * `--tiers SPEC`, `--policy intraday|count|tiers|calendar`) or by the same keys in a config
 * section (`keep_daily = 7`). Returns undefined when none is given; mixing families is
 * an error naming both.
 */
export function policyFromOptions(src: Source): Policy | undefined {
  const get = reader(src);
  const keep = get('keep');
  const tiers = get('tiers');
  const cal = CALENDAR_KEYS.filter((k) => get(optionName(k)) !== undefined);
  const policyName = get('policy')?.toLowerCase();
  const given = [keep !== undefined && '--keep', tiers !== undefined && '--tiers', cal.length > 0 && `--${optionName(cal[0])}`].filter(Boolean) as string[];
  if (given.length > 1) throw new UsageError(`${given[0]} and ${given[1]} cannot be combined (choose one retention policy)`);
  if (policyName !== undefined && !['intraday', 'count', 'tiers', 'calendar'].includes(policyName)) {
    throw new UsageError(`--policy: unknown policy '${policyName}' (expected intraday, count, tiers or calendar)`);
  }
  const expect = (kind: string, ok: boolean, hint: string) => {
    if (!ok) throw new UsageError(`--policy ${kind}: ${hint}`);
  };
  if (policyName === 'intraday') {
    expect('intraday', keep === undefined && cal.length === 0, 'takes no --keep options (use --tiers to change the windows)');
    return tiers === undefined ? intradayPolicy() : { kind: 'tiers', tiers: parseTiers(tiers) };
  }
  if (policyName === 'count') expect('count', keep !== undefined, 'needs --keep N');
  if (policyName === 'tiers') expect('tiers', keep === undefined && cal.length === 0, 'needs --tiers SPEC (or nothing for the default)');
  if (policyName === 'calendar') expect('calendar', cal.length > 0, 'needs at least one of --keep-last/hourly/daily/weekly/monthly/yearly N');
  if (keep !== undefined) return { kind: 'count', keep: count(keep, 'keep', 0) };
  if (tiers !== undefined) return { kind: 'tiers', tiers: parseTiers(tiers) };
  if (policyName === 'tiers') return intradayPolicy();
  if (cal.length > 0) {
    const p: CalendarPolicy = { kind: 'calendar' };
    // like PBS, every option is >= 1: "keep 0 of each day" is a typo, not a wish
    for (const k of cal) p[k] = count(get(optionName(k))!, optionName(k), 1);
    return p;
  }
  return undefined;
}

/** Like policyFromOptions, but a missing policy is a usage error. */
export function parsePolicyOptions(src: Source): Policy {
  const p = policyFromOptions(src);
  if (!p) throw new UsageError('no retention policy: give --keep N, --keep-last/hourly/daily/weekly/monthly/yearly N, --tiers SPEC or --policy intraday');
  return p;
}

/** One line for logs and status: `keep 3`, `keep-daily 7, keep-weekly 4`, `tiers 1h=all,...`. */
export function describePolicy(p: Policy): string {
  switch (p.kind) {
    case 'count':
      return `keep ${p.keep}`;
    case 'tiers':
      return `tiers ${p.tiers.map((t) => t.source).join(',')}`;
    case 'calendar': {
      const parts = CALENDAR_KEYS.filter((k) => p[k]).map((k) => `${optionName(k)} ${p[k]}`);
      return parts.length ? parts.join(', ') : 'keep all';
    }
  }
}
