// The tiers policy: the intraday policy of the original script, generalised.
//
// A list of age windows, each with the spacing it keeps. The compact form, used by
// `--tiers` and the config key `tiers`, is `BOUND=SPACING,...`:
//     1h=all,3h=30m,today=60m      (the default, = the original script)
// reads: younger than 1h keep all; 1h to 3h keep one per :00/:30; from 3h keep one per
// hour; nothing from an earlier local day. BOUND is a duration (30m, 3h, 2d) or, for the
// last window only, `today`; SPACING is `all` or a duration that divides a day.
// Anything older than the last bound is removed.
//
// Spacing is aligned to the local clock: the day is cut into slots of SPACING starting at
// local midnight, and in each slot the OLDEST snapshot is the one kept (the one nearest to
// :00 or :30). Times are the snapshot's snaptime, never its name. Because a coarser
// spacing that is a multiple of a finer one picks the same survivor, a snapshot kept at
// 1h-3h is the one kept later at >3h: nothing is removed and then wished back.
import { parseDuration } from '../../core/duration.ts';
import { UsageError } from '../../core/errors.ts';
import { localTime } from './localtime.ts';

export interface Tier {
  /** upper age bound in seconds, or 'today' (only last): the current local day */
  until: number | 'today';
  /** spacing in seconds; 0 keeps all */
  every: number;
  /** the compact text of this window, e.g. `3h=30m` */
  source: string;
}

export const DEFAULT_TIERS = '1h=all,3h=30m,today=60m';

/** 3600 -> 1h, 5400 -> 90m, 86400 -> 1d */
function durationLabel(sec: number): string {
  for (const [unit, n] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (sec >= n && sec % n === 0) return `${sec / n}${unit}`;
  }
  return `${sec}s`;
}

/** Parse the compact form; every error names the window at fault. */
export function parseTiers(spec: string): Tier[] {
  const text = String(spec ?? '').trim();
  if (!text) throw new UsageError('--tiers: empty (e.g. --tiers 1h=all,3h=30m,today=60m)');
  const parts = text.split(',');
  const tiers: Tier[] = [];
  parts.forEach((raw, i) => {
    const part = raw.trim();
    const m = /^([^=]+)=([^=]+)$/.exec(part);
    if (!m) throw new UsageError(`--tiers: '${part}' is not BOUND=SPACING (e.g. 3h=30m)`);
    const boundText = m[1].trim().toLowerCase();
    const spaceText = m[2].trim().toLowerCase();
    let until: number | 'today';
    if (boundText === 'today') {
      if (i !== parts.length - 1) throw new UsageError(`--tiers: '${part}': 'today' can only be the last window`);
      until = 'today';
    } else {
      until = parseDuration(boundText, `--tiers '${part}'`);
      if (until <= 0) throw new UsageError(`--tiers: '${part}': the bound must be positive`);
      const prev = tiers[tiers.length - 1];
      if (prev && typeof prev.until === 'number' && until <= prev.until) {
        throw new UsageError(`--tiers: '${part}': bounds must grow (${durationLabel(until)} is not after ${durationLabel(prev.until)})`);
      }
    }
    let every = 0;
    if (spaceText !== 'all') {
      every = parseDuration(spaceText, `--tiers '${part}'`);
      if (every < 60 || every > 86400 || 86400 % every !== 0) {
        throw new UsageError(`--tiers: '${part}': the spacing must be 'all' or a duration from 1m to 1d that divides a day`);
      }
    }
    tiers.push({ until, every, source: `${until === 'today' ? 'today' : durationLabel(until)}=${every ? durationLabel(every) : 'all'}` });
  });
  return tiers;
}

function windowLabel(tiers: Tier[], i: number): string {
  const t = tiers[i];
  const prev = i > 0 ? tiers[i - 1].until : 0;
  if (t.until === 'today') return prev === 0 ? 'today' : `>${durationLabel(prev as number)}`;
  if (prev === 0) return `<${durationLabel(t.until)}`;
  const a = durationLabel(prev as number);
  const b = durationLabel(t.until);
  // `1-3h` reads better than `1h-3h` when both share a unit
  if (a.replace(/\d+/, '') === b.replace(/\d+/, '')) return `${a.replace(/\D+$/, '')}-${b}`;
  return `${a}-${b}`;
}

function spacingLabel(every: number): string {
  if (every === 0) return 'all';
  if (every < 3600 && every % 60 === 0 && 3600 % every === 0 && 3600 / every <= 4) {
    const marks: string[] = [];
    for (let m = 0; m < 60; m += every / 60) marks.push(`:${String(m).padStart(2, '0')}`);
    return marks.join('/');
  }
  if (every === 3600) return ':00';
  return `every ${durationLabel(every)}`;
}

/**
 * A slot whose mark (:00, :30...) has no snapshot is kept by its oldest one, so a missed
 * or late run never leaves a slot empty; the reason says so: ` (:15 stands in for :00)`.
 * A snapshot within the mark's minute is the mark itself (tasks take seconds).
 */
function standIn(sec: number, every: number, tz: string): string {
  const l = localTime(sec, tz);
  const ofDay = l.hour * 3600 + l.minute * 60 + l.second;
  const mark = Math.floor(ofDay / every) * every;
  if (ofDay - mark < 60) return '';
  const hhmm = (s: number) => `${every > 3600 ? String(Math.floor(s / 3600)).padStart(2, '0') : ''}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
  return ` (${hhmm(l.hour * 3600 + l.minute * 60)} stands in for ${hhmm(mark)})`;
}

export interface TierItem {
  name: string;
  snaptime: number;
}
export interface TierVerdict {
  action: 'keep' | 'remove';
  reason: string;
}

/**
 * Decide each item (managed, finished, not protected). Pure: the same items, tiers, `now`
 * and zone always give the same answer.
 */
export function planTiers<T extends TierItem>(items: T[], tiers: Tier[], now: number, tz: string): Map<T, TierVerdict> {
  const out = new Map<T, TierVerdict>();
  if (tiers.length === 0) {
    for (const it of items) out.set(it, { action: 'keep', reason: 'no tiers: keep all' });
    return out;
  }
  const today = localTime(now, tz);
  const last = tiers[tiers.length - 1];
  const labels = tiers.map((t, i) => `tier ${windowLabel(tiers, i)} ${spacingLabel(t.every)}`);
  const isToday = (sec: number) => {
    const l = localTime(sec, tz);
    return l.year === today.year && l.month === today.month && l.day === today.day;
  };

  const tierOf = new Map<T, number>();
  for (const it of items) {
    const age = now - it.snaptime;
    if (last.until === 'today' && !isToday(it.snaptime)) {
      out.set(it, { action: 'remove', reason: 'earlier day' });
      continue;
    }
    const idx = tiers.findIndex((t) => t.until === 'today' || age < t.until);
    if (idx < 0) {
      out.set(it, { action: 'remove', reason: `older than ${durationLabel(last.until as number)}` });
      continue;
    }
    tierOf.set(it, idx);
  }

  // the oldest snapshot of each local-clock slot, per spacing in use, among those still in a window
  const slotKey = (sec: number, every: number) => {
    const l = localTime(sec, tz);
    const ofDay = l.hour * 3600 + l.minute * 60 + l.second;
    return `${l.year}-${l.month}-${l.day}/${Math.floor(ofDay / every)}`;
  };
  const firstInSlot = new Map<number, Map<string, T>>();
  for (const every of new Set(tiers.map((t) => t.every).filter((e) => e > 0))) {
    const first = new Map<string, T>();
    const candidates = [...tierOf.keys()].sort((a, b) => a.snaptime - b.snaptime || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const it of candidates) {
      const k = slotKey(it.snaptime, every);
      if (!first.has(k)) first.set(k, it);
    }
    firstInSlot.set(every, first);
  }

  for (const [it, idx] of tierOf) {
    const t = tiers[idx];
    if (t.every === 0) {
      out.set(it, { action: 'keep', reason: labels[idx] });
      continue;
    }
    const first = firstInSlot.get(t.every)!.get(slotKey(it.snaptime, t.every))!;
    out.set(it, first === it ? { action: 'keep', reason: labels[idx] + standIn(it.snaptime, t.every, tz) } : { action: 'remove', reason: `${labels[idx]}, slot kept by ${first.name}` });
  }
  return out;
}
