// UTC offsets from the system's time zone database (/usr/share/zoneinfo, the tzdata
// package: what date(1), cron and Proxmox VE itself use), read from its TZif files
// (RFC 8536) instead of through Intl. Intl.DateTimeFormat loads ICU's locale and zone data
// into the process: measured, a compiled executable that formats one date peaks ~10 MiB
// higher than one that does not, more than any other part of a `status` run. A zone the
// database does not hold (or a file this reader does not take: leap seconds) is left to
// Intl by the caller (lib/domain/retention/localtime.ts).
import fs from 'node:fs';
import path from 'node:path';

/** Seconds east of UTC at an instant. */
export type ZoneOffset = (epochSec: number) => number;

const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'Etc/UCT', 'Etc/Universal', 'Etc/Zulu', 'UCT', 'Universal', 'Zulu', 'GMT', 'Etc/GMT', 'Etc/GMT0', 'Etc/GMT+0', 'Etc/GMT-0', 'GMT0', 'GMT+0', 'GMT-0', 'Etc/Greenwich', 'Greenwich']);

/** The database's directory: $TZDIR as glibc reads it, else the Debian path. */
export const zoneDir = (env: Record<string, string | undefined> = process.env): string => env.TZDIR || '/usr/share/zoneinfo';

const zones = new Map<string, ZoneOffset | undefined>();

/** The offsets of a zone by its name (`Europe/Berlin`), undefined when the database has no such zone. */
export function zoneOffsets(name: string, dir = zoneDir()): ZoneOffset | undefined {
  if (UTC_NAMES.has(name)) return () => 0;
  const key = `${dir}\0${name}`;
  if (zones.has(key)) return zones.get(key);
  let z: ZoneOffset | undefined;
  // a name, not a path: `../x`, `/etc/passwd` or `.` are no zone
  if (/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(name)) {
    try {
      z = parseTzif(fs.readFileSync(path.join(dir, name)));
    } catch {
      z = undefined;
    }
  }
  zones.set(key, z);
  return z;
}

/**
 * The system's zone from /etc/localtime, a link into the database (as systemd's
 * timedatectl and Debian's tzdata make it): `Europe/Berlin`; the UTC aliases as `UTC`, the
 * name Intl gives them. Undefined when it is no such link.
 */
export function systemZone(link = '/etc/localtime', dir = zoneDir()): string | undefined {
  let target: string;
  try {
    target = path.resolve(path.dirname(link), fs.readlinkSync(link));
  } catch {
    return undefined;
  }
  const root = path.resolve(dir) + '/';
  // Debian's tzdata also links through /usr/share/zoneinfo/posix/
  const name = target.startsWith(root) ? target.slice(root.length).replace(/^posix\//, '') : undefined;
  if (!name || !zoneOffsets(name, dir)) return undefined;
  return UTC_NAMES.has(name) ? 'UTC' : name;
}

/**
 * A TZif file (RFC 8536), version 1 to 4: the transitions of its 64-bit block (the 32-bit
 * one of a version 1 file), then the POSIX TZ string of its footer for the instants after
 * the last. Throws on anything else, and on leap seconds (the `right/` zones).
 */
export function parseTzif(buf: Buffer): ZoneOffset {
  if (buf.toString('latin1', 0, 4) !== 'TZif') throw new Error('not a TZif file');
  const version = buf[4];
  let h = header(buf, 0);
  let at = 44;
  let wide = false;
  if (version >= 0x32) {
    // skip the 32-bit block to the 64-bit one
    at += h.timecnt * 5 + h.typecnt * 6 + h.charcnt + h.leapcnt * 8 + h.isstdcnt + h.isutcnt;
    h = header(buf, at);
    at += 44;
    wide = true;
  }
  if (h.leapcnt) throw new Error('leap seconds');
  const size = wide ? 8 : 4;
  const times: number[] = [];
  for (let i = 0; i < h.timecnt; i++) times.push(wide ? Number(buf.readBigInt64BE(at + i * 8)) : buf.readInt32BE(at + i * 4));
  at += h.timecnt * size;
  const index = [...buf.subarray(at, at + h.timecnt)];
  at += h.timecnt;
  const offsets: number[] = [];
  for (let i = 0; i < h.typecnt; i++) offsets.push(buf.readInt32BE(at + i * 6));
  at += h.typecnt * 6 + h.charcnt + h.leapcnt * (size + 4) + h.isstdcnt + h.isutcnt;
  if (!offsets.length || index.some((i) => i >= offsets.length)) throw new Error('bad TZif types');
  // a file cut short (a disk that filled during an upgrade) is refused, not read without
  // its end: without the footer, summer time would stop at the last transition
  if (at > buf.length) throw new Error('TZif file cut short');
  let footer: ZoneOffset | undefined;
  if (wide) {
    // the footer is a newline, the POSIX TZ string (maybe empty), a newline (RFC 8536 section 3.3)
    const end = buf.indexOf(0x0a, at + 1);
    if (buf[at] !== 0x0a || end < 0) throw new Error('TZif footer missing');
    const tz = buf.toString('latin1', at + 1, end);
    if (tz) footer = posixTz(tz);
  }
  return (t) => {
    // before the first transition: the first type (RFC 8536 section 3.2)
    if (!times.length || t < times[0]) return offsets[0];
    if (t >= times[times.length - 1] && footer) return footer(t);
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return offsets[index[lo]];
  };
}

function header(buf: Buffer, at: number) {
  const n = (i: number) => buf.readUInt32BE(at + 20 + i * 4);
  return { isutcnt: n(0), isstdcnt: n(1), leapcnt: n(2), timecnt: n(3), typecnt: n(4), charcnt: n(5) };
}

/** `[+-]hh[:mm[:ss]]` in seconds. */
function hms(text: string): number {
  const m = /^([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?$/.exec(text);
  if (!m) throw new Error(`bad time '${text}'`);
  const s = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -s : s;
}

interface Rule {
  /** the day of a year, 0-based */
  day: (year: number) => number;
  /** seconds after local midnight (may be negative or past 24 h, RFC 8536 section 3.3.1) */
  time: number;
}

const leap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysBefore = (y: number, month: number) => (Date.UTC(y, month - 1, 1) - Date.UTC(y, 0, 1)) / 86400000;

/** A rule of a POSIX TZ string: `Jn`, `n` or `Mm.w.d`, with an optional `/time`. */
function rule(text: string): Rule {
  const [date, time] = text.split('/');
  const t = time === undefined ? 7200 : hms(time);
  let m = /^J(\d{1,3})$/.exec(date);
  // Jn: 1..365, February 29 never counted
  if (m) {
    const n = Number(m[1]);
    return { day: (y) => n - 1 + (leap(y) && n >= 60 ? 1 : 0), time: t };
  }
  m = /^(\d{1,3})$/.exec(date);
  if (m) {
    const n = Number(m[1]);
    return { day: () => n, time: t };
  }
  m = /^M(\d{1,2})\.(\d)\.(\d)$/.exec(date);
  if (!m) throw new Error(`bad rule '${text}'`);
  const [month, week, weekday] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return {
    day: (y) => {
      const first = daysBefore(y, month);
      const firstWeekday = new Date(Date.UTC(y, month - 1, 1)).getUTCDay();
      let d = ((weekday - firstWeekday + 7) % 7) + (week - 1) * 7;
      const length = daysBefore(y, month + 1) - first;
      // week 5 is the last such weekday of the month
      while (d >= length) d -= 7;
      return first + d;
    },
    time: t,
  };
}

/**
 * A POSIX TZ string as TZif footers hold it (RFC 8536 section 3.3): `CET-1CEST,M3.5.0,M10.5.0/3`,
 * `<+0330>-3:30`, `EST5EDT,M3.2.0,M11.1.0`. POSIX offsets count west of UTC.
 */
export function posixTz(tz: string): ZoneOffset {
  const m = /^(<[^>]*>|[A-Za-z]{3,})([+-]?[\d:]+)(?:(<[^>]*>|[A-Za-z]{3,})([+-]?[\d:]+)?(?:,([^,]+),([^,]+))?)?$/.exec(tz);
  if (!m) throw new Error(`bad TZ string '${tz}'`);
  const std = 0 - hms(m[2]);
  if (!m[3]) return () => std;
  const dst = m[4] === undefined ? std + 3600 : 0 - hms(m[4]);
  // a DST name without rules: the US rules, as glibc assumes
  const start = rule(m[5] ?? 'M3.2.0');
  const end = rule(m[6] ?? 'M11.1.0');
  return (t) => {
    const year = new Date((t + std) * 1000).getUTCFullYear();
    const base = Date.UTC(year, 0, 1) / 1000;
    // the change to summer time is given in standard time, the one back in summer time
    const on = base + start.day(year) * 86400 + start.time - std;
    const off = base + end.day(year) * 86400 + end.time - dst;
    const summer = on <= off ? t >= on && t < off : t >= on || t < off;
    return summer ? dst : std;
  };
}
