// Snapshot names and the marker that makes a snapshot ours.
//
// Two families:
//  - label jobs, cv4pve-autosnap compatible: `auto<label><timestamp>`, the timestamp in a
//    .NET-style custom format (default `yyMMddHHmmss`) in local time;
//  - the intraday job of the original script: `autosnap-YYYYMMDDHHMM`, local time rounded
//    down to the snapshot interval.
// A snapshot is managed only when BOTH its name fits the job and its description is a
// marker: a manual snapshot that happens to look like ours is never touched.
import { UsageError } from '../../core/errors.ts';
import { localTime } from './localtime.ts';

/** Description we write on every snapshot we create. */
export const MARKER = 'autosnap';
/** Description cv4pve-autosnap writes; its snapshots are adopted by a job of the same label. */
export const CV4PVE_MARKER = 'cv4pve-autosnap';
export const DEFAULT_TIMESTAMP_FORMAT = 'yyMMddHHmmss';
const INTRADAY_PREFIX = 'autosnap-';
const DEFAULT_INTERVAL_MINUTES = 15;
/** PVE's limit for a snapshot name */
const MAX_SNAPSHOT_NAME = 40;
const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]+$/;

type Field = 'yyyy' | 'yy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss';
type FmtToken = { field: Field } | { literal: string };
export interface TimestampFormat {
  source: string;
  tokens: FmtToken[];
  /** every supported field has a fixed width, so every timestamp has this length */
  length: number;
}

const FIELDS: Record<string, Field> = { yyyy: 'yyyy', yy: 'yy', MM: 'MM', dd: 'dd', HH: 'HH', mm: 'mm', ss: 'ss' };
/** letters .NET reads as date/time specifiers; runs of them we do not support are errors */
const SPECIFIERS = new Set('dfFghHKmMstyz'.split(''));

const formatCache = new Map<string, TimestampFormat>();

/**
 * Parse a cv4pve-style timestamp format. Supported: yyyy yy MM dd HH mm ss, literal
 * letters/digits/`_`/`-`, and quoted ('text', "text") or backslash-escaped literals.
 * Anything that could not appear in a snapshot name, or a .NET specifier we do not
 * support (`M`, `ddd`, `fff`, `tt`...), is refused rather than silently mis-read.
 */
export function parseTimestampFormat(source: string = DEFAULT_TIMESTAMP_FORMAT): TimestampFormat {
  const hit = formatCache.get(source);
  if (hit) return hit;
  const bad = (why: string) => new UsageError(`--timestamp-format '${source}': ${why}`);
  const tokens: FmtToken[] = [];
  const lit = (s: string) => {
    const last = tokens[tokens.length - 1];
    if (last && 'literal' in last) last.literal += s;
    else tokens.push({ literal: s });
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) throw bad('unterminated quote');
      lit(source.slice(i + 1, end));
      i = end + 1;
    } else if (c === '\\') {
      if (i + 1 >= source.length) throw bad('trailing backslash');
      lit(source[i + 1]);
      i += 2;
    } else if (SPECIFIERS.has(c)) {
      let j = i;
      while (source[j] === c) j++;
      const run = source.slice(i, j);
      const field = FIELDS[run];
      if (!field) throw bad(`'${run}' is not supported (use yyyy yy MM dd HH mm ss)`);
      tokens.push({ field });
      i = j;
    } else {
      lit(c);
      i++;
    }
  }
  for (const t of tokens) {
    if ('literal' in t && !/^[A-Za-z0-9_-]*$/.test(t.literal)) throw bad(`literal '${t.literal}' cannot appear in a snapshot name`);
  }
  if (!tokens.some((t) => 'field' in t)) throw bad('needs at least one date or time field');
  const length = tokens.reduce((n, t) => n + ('field' in t ? t.field.length : t.literal.length), 0);
  const fmt = { source, tokens, length };
  formatCache.set(source, fmt);
  return fmt;
}

/**
 * A job's format must name each run apart: runs are at most an hour apart and the
 * intraday ones 15 minutes, so the timestamp needs the year, month, day, hour and minute.
 * `yyyy` alone would give every run of a year the same name (the second create fails,
 * or, worse, a retention count sees one snapshot where there should be many).
 */
export function checkRunFormat(source: string): void {
  const fields = new Set(parseTimestampFormat(source).tokens.flatMap((t) => ('field' in t ? [t.field] : [])));
  const missing = [fields.has('yyyy') || fields.has('yy') ? '' : 'year', ...(['MM', 'dd', 'HH', 'mm'] as const).filter((f) => !fields.has(f))].filter(Boolean);
  if (missing.length) throw new UsageError(`--timestamp-format '${source}': too coarse to name each run apart (missing ${missing.join(', ')}; e.g. yyMMddHHmmss)`);
}

const pad = (n: number, w: number) => String(n).padStart(w, '0').slice(-w);

/** Format an instant (unix seconds or Date) in local time of `tz`. */
export function formatTimestamp(at: Date | number, format: string | TimestampFormat, tz: string): string {
  const fmt = typeof format === 'string' ? parseTimestampFormat(format) : format;
  const sec = typeof at === 'number' ? at : Math.floor(at.getTime() / 1000);
  const l = localTime(sec, tz);
  const value: Record<Field, string> = {
    yyyy: pad(l.year, 4),
    yy: pad(l.year % 100, 2),
    MM: pad(l.month, 2),
    dd: pad(l.day, 2),
    HH: pad(l.hour, 2),
    mm: pad(l.minute, 2),
    ss: pad(l.second, 2),
  };
  return fmt.tokens.map((t) => ('field' in t ? value[t.field] : t.literal)).join('');
}

export interface ParsedStamp {
  year?: number;
  month?: number;
  day?: number;
  hour?: number;
  minute?: number;
  second?: number;
}

/** Read a timestamp written with `format`; undefined unless it fits exactly and is a real date. */
export function parseTimestamp(text: string, format: string | TimestampFormat): ParsedStamp | undefined {
  const fmt = typeof format === 'string' ? parseTimestampFormat(format) : format;
  if (text.length !== fmt.length) return undefined;
  const out: ParsedStamp = {};
  let pos = 0;
  for (const t of fmt.tokens) {
    if ('literal' in t) {
      if (text.slice(pos, pos + t.literal.length) !== t.literal) return undefined;
      pos += t.literal.length;
      continue;
    }
    const digits = text.slice(pos, pos + t.field.length);
    if (!/^\d+$/.test(digits)) return undefined;
    const n = Number(digits);
    pos += t.field.length;
    switch (t.field) {
      case 'yyyy':
        out.year = n;
        break;
      case 'yy':
        out.year = 2000 + n;
        break;
      case 'MM':
        if (n < 1 || n > 12) return undefined;
        out.month = n;
        break;
      case 'dd':
        if (n < 1 || n > 31) return undefined;
        out.day = n;
        break;
      case 'HH':
        if (n > 23) return undefined;
        out.hour = n;
        break;
      case 'mm':
        if (n > 59) return undefined;
        out.minute = n;
        break;
      case 'ss':
        if (n > 59) return undefined;
        out.second = n;
        break;
    }
  }
  if (out.day !== undefined && out.month !== undefined) {
    const y = out.year ?? 2000; // a leap year, so 29 February passes without a year
    if (out.day > new Date(Date.UTC(y, out.month, 0)).getUTCDate()) return undefined;
  }
  return out;
}

/**
 * Check that `auto<label><timestamp>` is a valid snapshot name; returns the label.
 * The label may not be empty, may hold letters, digits, `_` and `-`, and the whole name
 * must fit PVE's 40 characters.
 */
export function validateLabel(label: unknown, format: string | TimestampFormat = DEFAULT_TIMESTAMP_FORMAT): string {
  const fmt = typeof format === 'string' ? parseTimestampFormat(format) : format;
  if (label === undefined || label === null || label === true || String(label) === '') throw new UsageError('--label: missing (e.g. --label hourly)');
  const s = String(label);
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new UsageError(`--label '${s}': only letters, digits, '_' and '-' are allowed`);
  const total = 4 + s.length + fmt.length;
  if (total > MAX_SNAPSHOT_NAME) {
    throw new UsageError(`--label '${s}': the snapshot name would be ${total} characters (auto + label + ${fmt.length}-character timestamp; PVE allows ${MAX_SNAPSHOT_NAME})`);
  }
  return s;
}

export interface NameOptions {
  /** .NET-style format, default yyMMddHHmmss */
  format?: string;
  tz: string;
}

/** `auto<label><timestamp>` for the instant `at`. */
export function snapshotName(label: string, at: Date | number, opts: NameOptions): string {
  const fmt = parseTimestampFormat(opts.format ?? DEFAULT_TIMESTAMP_FORMAT);
  validateLabel(label, fmt);
  const name = `auto${label}${formatTimestamp(at, fmt, opts.tz)}`;
  if (!SNAPSHOT_NAME.test(name)) throw new UsageError(`snapshot name '${name}' is not valid`);
  return name;
}

/**
 * Does `name` belong to `label` by name alone? It must be `auto<label>` followed by a
 * timestamp of exactly the format's length that parses as a real date, so label `hourly`
 * never captures `autohourly2...` (one character too long) nor `autohourlyXX...`.
 * The label compares case-sensitively, as PVE names do.
 */
export function matchesLabel(name: string, label: string, format: string | TimestampFormat = DEFAULT_TIMESTAMP_FORMAT): boolean {
  const prefix = `auto${label}`;
  if (!name.startsWith(prefix)) return false;
  return parseTimestamp(name.slice(prefix.length), format) !== undefined;
}

/**
 * The label of a cv4pve-style name, when it has one under `format` (used by status
 * without --label). The label is what remains between `auto` and the trailing timestamp.
 */
export function labelOf(name: string, format: string | TimestampFormat = DEFAULT_TIMESTAMP_FORMAT): string | undefined {
  const fmt = typeof format === 'string' ? parseTimestampFormat(format) : format;
  if (!name.startsWith('auto') || name.length <= 4 + fmt.length) return undefined;
  const label = name.slice(4, name.length - fmt.length);
  if (!/^[A-Za-z0-9_-]+$/.test(label)) return undefined;
  return parseTimestamp(name.slice(name.length - fmt.length), fmt) ? label : undefined;
}

/** `autosnap-YYYYMMDDHHMM`: local time rounded DOWN to the interval (minutes from local midnight). */
export function intradayName(at: Date | number, opts: { tz: string; intervalMinutes?: number }): string {
  const interval = opts.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
  if (!Number.isInteger(interval) || interval < 1 || interval > 1440) throw new UsageError(`interval: ${interval} minutes is out of range (1..1440)`);
  const sec = typeof at === 'number' ? at : Math.floor(at.getTime() / 1000);
  const l = localTime(sec, opts.tz);
  const minutes = Math.floor((l.hour * 60 + l.minute) / interval) * interval;
  return `${INTRADAY_PREFIX}${pad(l.year, 4)}${pad(l.month, 2)}${pad(l.day, 2)}${pad(Math.floor(minutes / 60), 2)}${pad(minutes % 60, 2)}`;
}

const INTRADAY_FORMAT = 'yyyyMMddHHmm';
export function isIntradayName(name: string): boolean {
  return name.startsWith(INTRADAY_PREFIX) && parseTimestamp(name.slice(INTRADAY_PREFIX.length), INTRADAY_FORMAT) !== undefined;
}

/**
 * Is this description one of the markers? PVE hands descriptions back with a trailing
 * newline in some versions, so surrounding white space is ignored; nothing else is.
 */
export function isMarker(description: string | undefined | null): boolean {
  const d = (description ?? '').trim();
  return d === MARKER || d === CV4PVE_MARKER;
}

/** What a job manages: a label (cv4pve names) or the intraday names. */
export interface NamingJob {
  label?: string;
  /** .NET-style timestamp format of label names; default yyMMddHHmmss */
  timestampFormat?: string;
  /** manage `autosnap-YYYYMMDDHHMM` names instead of a label */
  intraday?: boolean;
}

/**
 * A snapshot the original autosnap script made: exactly `autosnap-YYYYMMDDHHMM` (a real
 * date) and no description (the script's create call sends none). The script's rule was
 * "every snapshot starting with autosnap- is ours"; ours is narrower, so a snapshot named
 * by hand `autosnap-before-upgrade`, or one with any description, is never adopted.
 */
export function isOriginalScriptSnapshot(snapshot: { name: string; description?: string | null }): boolean {
  return (snapshot.description ?? '').trim() === '' && isIntradayName(snapshot.name);
}

/**
 * A snapshot is managed by the job only when its name fits the job AND it carries a
 * marker; the intraday job also adopts the original script's snapshots (above), so a
 * switch from the script does not leave them behind for ever.
 */
export function isManaged(snapshot: { name: string; description?: string | null }, job: NamingJob): boolean {
  if (snapshot.name === 'current') return false;
  if (job.intraday && isOriginalScriptSnapshot(snapshot)) return true;
  if (!isMarker(snapshot.description)) return false;
  if (job.intraday) return isIntradayName(snapshot.name);
  if (job.label === undefined) return false;
  return matchesLabel(snapshot.name, job.label, job.timestampFormat ?? DEFAULT_TIMESTAMP_FORMAT);
}
