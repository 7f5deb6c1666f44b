// Local wall-clock time of a time zone, for naming and retention buckets.
//
// Offsets come from the system's time zone database (lib/core/zoneinfo.ts), or from Intl
// for a zone it does not hold: Intl costs the process ~10 MiB of ICU data, most of a small
// command's memory. Not from date-fns-tz: 3.2's getTimezoneOffset reports the old
// offset for the first hour after a DST fall-back and after spring-forward (measured:
// Europe/Berlin 2025-10-26T01:30Z gave +2 instead of +1), which would merge or split the
// wrong hourly buckets. Offsets are cached (see tzOffset) because a retention plan over
// 100,000 snapshots would otherwise spend most of its time looking them up.
import { UsageError } from '../../core/errors.ts';
import { systemZone, zoneOffsets } from '../../core/zoneinfo.ts';

export interface LocalTime {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday, 1 = Monday .. 7 = Sunday */
  weekday: number;
  /** local minus UTC, in seconds */
  offset: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Seconds to add to UTC to get local time in `tz` at the instant `epochSec`. */
function offsetUncached(epochSec: number, tz: string): number {
  const whole = Math.floor(epochSec);
  const zone = zoneOffsets(tz);
  if (zone) return zone(whole);
  const parts = formatter(tz).formatToParts(new Date(whole * 1000));
  const v: Record<string, number> = {};
  for (const p of parts) if (p.type !== 'literal') v[p.type] = Number(p.value);
  const asUtc = Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second) / 1000;
  return asUtc - whole;
}

// Offsets are looked up per UTC day when the day holds no transition (the same offset at
// both ends; no zone changes twice within a day), else per 15-minute slice, else exactly.
const DAY = 86400;
const SLICE = 900;
const dayCache = new Map<string, Map<number, number>>();
const sliceCache = new Map<string, Map<number, number>>();
function cached(cacheOf: Map<string, Map<number, number>>, tz: string, size: number, epochSec: number): number {
  let cache = cacheOf.get(tz);
  if (!cache) cacheOf.set(tz, (cache = new Map()));
  const k = Math.floor(epochSec / size);
  let v = cache.get(k);
  if (v === undefined) {
    const a = offsetUncached(k * size, tz);
    const b = offsetUncached(k * size + size - 1, tz);
    v = a === b ? a : NaN;
    cache.set(k, v);
  }
  return v;
}
export function tzOffset(epochSec: number, tz: string): number {
  const day = cached(dayCache, tz, DAY, epochSec);
  if (!Number.isNaN(day)) return day;
  const slice = cached(sliceCache, tz, SLICE, epochSec);
  return Number.isNaN(slice) ? offsetUncached(epochSec, tz) : slice;
}

/** Wall-clock fields of `epochSec` in `tz`. */
export function localTime(epochSec: number, tz: string): LocalTime {
  const offset = tzOffset(epochSec, tz);
  const d = new Date((Math.floor(epochSec) + offset) * 1000);
  const wd = d.getUTCDay();
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: wd === 0 ? 7 : wd,
    offset,
  };
}

/** ISO 8601 week-numbering year and week (strftime %G/%V) of a local calendar date. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const wd = new Date(date).getUTCDay() || 7;
  const thursday = new Date(date + (4 - wd) * 86400000);
  const y = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(y, 0, 1)) / (7 * 86400000)) + 1;
  return { year: y, week };
}

/**
 * The instant of a local wall-clock time. In a spring-forward gap the time is read with
 * the offset before the gap (02:30 that never happened becomes 03:30); in the repeated
 * fall-back hour the earlier of the two instants is chosen.
 */
export function localToEpoch(t: Omit<LocalTime, 'weekday' | 'offset'>, tz: string): number {
  const naive = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second) / 1000;
  const before = tzOffset(naive - 86400, tz);
  const after = tzOffset(naive + 86400, tz);
  const candidates = [naive - Math.max(before, after), naive - Math.min(before, after)];
  for (const c of candidates) if (tzOffset(c, tz) === naive - c) return c;
  return naive - before;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `2025-05-16 09:15:00 +02:00`: readable local time for plans and tables. */
export function formatLocal(epochSec: number, tz: string): string {
  const l = localTime(epochSec, tz);
  const off = Math.abs(l.offset);
  const sign = l.offset < 0 ? '-' : '+';
  return `${l.year}-${pad(l.month)}-${pad(l.day)} ${pad(l.hour)}:${pad(l.minute)}:${pad(l.second)} ${sign}${pad(Math.floor(off / 3600))}:${pad(Math.floor((off % 3600) / 60))}`;
}

/** Throws a UsageError naming the zone when Intl does not know it. */
function checkTimeZone(tz: string, what = '--tz'): string {
  if (zoneOffsets(tz)) return tz;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new UsageError(`${what}: unknown time zone '${tz}'`);
  }
  return tz;
}

/**
 * The zone names and plans use: `--tz`, else the TZ environment variable (a leading ':'
 * as glibc allows is dropped), else the system zone (/etc/localtime's link into the
 * database, else as Intl finds it).
 */
export function resolveTimeZone(option?: unknown, env: Record<string, string | undefined> = process.env): string {
  if (option !== undefined && option !== null && option !== '' && option !== true) return checkTimeZone(String(option));
  const fromEnv = env.TZ?.replace(/^:/, '');
  if (fromEnv) return checkTimeZone(fromEnv, 'TZ');
  return systemZone() ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
}
