import { describe, expect, test } from 'bun:test';
import {
  formatTimestamp,
  intradayName,
  isIntradayName,
  isManaged,
  isMarker,
  labelOf,
  matchesLabel,
  parseTimestamp,
  parseTimestampFormat,
  snapshotName,
  validateLabel,
} from '../../lib/domain/retention/naming.ts';
import { localTime, localToEpoch, resolveTimeZone } from '../../lib/domain/retention/localtime.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('timestamp formats (cv4pve .NET style)', () => {
  test.each([
    ['yyMMddHHmmss', '2025-05-16T07:23:05Z', 'Europe/Berlin', '250516092305'],
    ['yyMMddHHmmss', '2025-05-16T07:23:05Z', 'UTC', '250516072305'],
    ['yyyyMMddHHmm', '2025-05-16T07:23:05Z', 'America/New_York', '202505160323'],
    ['yyyy-MM-dd_HHmm', '2025-01-02T03:04:05Z', 'UTC', '2025-01-02_0304'],
    ["yyyyMMdd'T'HHmm", '2025-01-02T03:04:05Z', 'UTC', '20250102T0304'],
    ['yyyyMMdd\\THHmm', '2025-01-02T03:04:05Z', 'UTC', '20250102T0304'],
    ['"at"HHmm', '2025-01-02T03:04:05Z', 'Asia/Kolkata', 'at0834'],
    // the repeated hour of the Berlin fall-back writes the same text twice
    ['yyMMddHHmm', '2025-10-26T00:30:00Z', 'Europe/Berlin', '2510260230'],
    ['yyMMddHHmm', '2025-10-26T01:30:00Z', 'Europe/Berlin', '2510260230'],
    ['yyMMddHHmm', '2025-03-30T01:00:00Z', 'Europe/Berlin', '2503300300'],
  ])('%p at %p in %p -> %p', (fmt, iso, tz, out) => {
    expect(formatTimestamp(at(iso), fmt, tz)).toBe(out);
    expect(parseTimestamp(out, fmt)).toBeDefined();
  });

  test.each([
    ['yyMMddHHmmss', 12],
    ['yyyyMMddHHmm', 12],
    ["yyyy'x'MM", 7],
  ])('%p is %p characters', (fmt, n) => expect(parseTimestampFormat(fmt).length).toBe(n));

  test.each([
    ['yyMMddHHmmssfff', "'fff' is not supported"],
    ['yyyMMdd', "'yyy' is not supported"],
    ['yyMdd', "'M' is not supported"],
    ['yyMMddhhmm', "'hh' is not supported"],
    ['yyMMdd HHmm', "literal ' ' cannot appear in a snapshot name"],
    ['yy.MM.dd', "literal '.' cannot appear"],
    ['HH:mm', "literal ':' cannot appear"],
    ["'abc", 'unterminated quote'],
    ['abc', 'needs at least one date or time field'],
  ])('format %p refused: %p', (fmt, msg) => {
    expect(() => parseTimestampFormat(fmt)).toThrow(`--timestamp-format '${fmt}': ${msg}`);
  });

  test.each([
    ['250516092305', true],
    ['251316092305', false], // month 13
    ['250230092305', false], // 30 February
    ['250516242305', false], // hour 24
    ['25051609230', false], // one short
    ['2505160923055', false], // one long
    ['25051609230x', false],
  ])('parse %p -> %p', (text, ok) => expect(parseTimestamp(text, 'yyMMddHHmmss') !== undefined).toBe(ok));
});

describe('label names', () => {
  test('auto<label><timestamp> in local time', () => {
    expect(snapshotName('hourly', at('2025-05-16T07:23:05Z'), { tz: 'Europe/Berlin' })).toBe('autohourly250516092305');
    expect(snapshotName('d', new Date('2025-05-16T07:23:05Z'), { tz: 'UTC', format: 'yyyyMMdd' })).toBe('autod20250516');
  });

  test.each([
    ['', '--label: missing'],
    ['a b', "--label 'a b': only letters, digits, '_' and '-' are allowed"],
    ['x.y', "--label 'x.y': only letters, digits, '_' and '-' are allowed"],
    ['daily!', 'only letters, digits'],
    ['a'.repeat(25), 'the snapshot name would be 41 characters'],
  ])('label %p refused: %p', (label, msg) => {
    expect(() => validateLabel(label)).toThrow(msg);
  });
  test.each(['hourly', 'daily_7', 'x-1', '7d', 'a'.repeat(24)])('label %p accepted', (label) => {
    expect(validateLabel(label)).toBe(label);
  });
  test('the length limit counts the format', () => {
    expect(validateLabel('a'.repeat(22), 'yyyyMMddHHmmss')).toBe('a'.repeat(22));
    expect(() => validateLabel('a'.repeat(23), 'yyyyMMddHHmmss')).toThrow('the snapshot name would be 41 characters (auto + label + 14-character timestamp; PVE allows 40)');
  });

  test.each([
    // a label that is a prefix of another must not capture its snapshots
    ['autohourly250516092305', 'hourly', true],
    ['autohourly2250516092305', 'hourly', false],
    ['autohourly2250516092305', 'hourly2', true],
    ['autohourly250516092305', 'hourly2', false],
    ['autohourlyx50516092305', 'hourly', false],
    ['autoHourly250516092305', 'hourly', false],
    ['autodaily250516092305', 'hourly', false],
    ['pre-upgrade', 'hourly', false],
    ['autohourly', 'hourly', false],
  ])('%p belongs to %p: %p', (name, label, ok) => {
    expect(matchesLabel(name, label)).toBe(ok);
  });

  test.each([
    ['autohourly250516092305', 'hourly'],
    ['autohourly2250516092305', 'hourly2'],
    ['autoweekly-db250516092305', 'weekly-db'],
    ['auto250516092305', undefined],
    ['pre-upgrade', undefined],
    ['autohourly25051609230x', undefined],
  ])('label of %p is %p', (name, label) => expect(labelOf(name)).toBe(label));
});

describe('intraday names: local time rounded down to the interval', () => {
  test.each([
    ['2025-05-16T07:23:00Z', 'Europe/Berlin', 15, 'autosnap-202505160915'],
    ['2025-05-16T07:15:00Z', 'Europe/Berlin', 15, 'autosnap-202505160915'],
    ['2025-05-16T07:14:59Z', 'Europe/Berlin', 15, 'autosnap-202505160900'],
    ['2025-05-16T07:59:59Z', 'Europe/Berlin', 30, 'autosnap-202505160930'],
    ['2025-05-16T07:59:59Z', 'Europe/Berlin', 60, 'autosnap-202505160900'],
    ['2025-05-16T07:23:00Z', 'UTC', 15, 'autosnap-202505160715'],
    ['2025-12-31T23:59:00Z', 'UTC', 15, 'autosnap-202512312345'],
    ['2025-05-16T07:23:00Z', 'Asia/Kathmandu', 15, 'autosnap-202505161300'], // +05:45
  ])('%p in %p every %p min -> %p', (iso, tz, interval, name) => {
    expect(intradayName(new Date(iso), { tz, intervalMinutes: interval })).toBe(name);
    expect(isIntradayName(name)).toBe(true);
  });
  test.each([
    ['autosnap-202505160915', true],
    ['autosnap-20250516091', false],
    ['autosnap-202513160915', false],
    ['autosnap-2025051609155', false],
    ['autosnap-pre', false],
    ['xautosnap-202505160915', false],
  ])('%p is intraday: %p', (name, ok) => expect(isIntradayName(name)).toBe(ok));
});

describe('managed: name fits the job AND the description is a marker', () => {
  test.each([
    [{ name: 'autohourly250516092305', description: 'autosnap' }, { label: 'hourly' }, true],
    [{ name: 'autohourly250516092305', description: 'cv4pve-autosnap' }, { label: 'hourly' }, true],
    [{ name: 'autohourly250516092305', description: 'autosnap\n' }, { label: 'hourly' }, true],
    [{ name: 'autohourly250516092305', description: 'manual' }, { label: 'hourly' }, false],
    [{ name: 'autohourly250516092305', description: '' }, { label: 'hourly' }, false],
    [{ name: 'autohourly250516092305' }, { label: 'hourly' }, false],
    [{ name: 'autohourly250516092305', description: 'autosnap by hand' }, { label: 'hourly' }, false],
    [{ name: 'autohourly2250516092305', description: 'autosnap' }, { label: 'hourly' }, false],
    [{ name: 'autohourly2025051609', description: 'autosnap' }, { label: 'hourly', timestampFormat: 'yyyyMMddHH' }, true],
    [{ name: 'autohourly250516092305', description: 'autosnap' }, { label: 'hourly', timestampFormat: 'yyyyMMddHH' }, false],
    [{ name: 'autosnap-202505160915', description: 'autosnap' }, { intraday: true }, true],
    // the original script's snapshots (no description, exactly autosnap-YYYYMMDDHHMM) are
    // adopted by the intraday job, and only by it
    [{ name: 'autosnap-202505160915', description: '' }, { intraday: true }, true],
    [{ name: 'autosnap-202505160915' }, { intraday: true }, true],
    [{ name: 'autosnap-202505160915', description: '\n' }, { intraday: true }, true],
    [{ name: 'autosnap-202505160915', description: 'before upgrade' }, { intraday: true }, false],
    [{ name: 'autosnap-202505160915', description: '' }, { label: 'hourly' }, false],
    [{ name: 'autosnap-2025051609150', description: '' }, { intraday: true }, false],
    [{ name: 'autosnap-20250516091', description: '' }, { intraday: true }, false],
    [{ name: 'autosnap-202513160915', description: '' }, { intraday: true }, false],
    [{ name: 'autosnap-before-upgrade', description: '' }, { intraday: true }, false],
    [{ name: 'Autosnap-202505160915', description: '' }, { intraday: true }, false],
    [{ name: 'autohourly250516092305', description: 'autosnap' }, { intraday: true }, false],
    [{ name: 'current', description: 'autosnap' }, { intraday: true }, false],
    [{ name: 'autohourly250516092305', description: 'autosnap' }, {}, false],
  ])('%p with %p -> %p', (snap, job, ok) => {
    expect(isManaged(snap, job)).toBe(ok);
  });
  test.each([
    ['autosnap', true],
    [' cv4pve-autosnap ', true],
    ['Autosnap', false],
    ['autosnapshot', false],
    [undefined, false],
  ])('marker %p -> %p', (d, ok) => expect(isMarker(d)).toBe(ok));
});

describe('time zones', () => {
  // the cached offsets against Intl itself, every 7 minutes through a year with transitions
  test.each(['Europe/Berlin', 'America/Santiago', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC'])('local time in %p matches Intl', (tz) => {
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const p2 = (n: number) => String(n).padStart(2, '0');
    const from = at('2025-01-01T00:00:00Z');
    for (let t = from; t < from + 366 * 86400; t += 7 * 60 + 13) {
      const l = localTime(t, tz);
      const mine = `${l.year}-${p2(l.month)}-${p2(l.day)}, ${p2(l.hour)}:${p2(l.minute)}:${p2(l.second)}`;
      const theirs = fmt.format(new Date(t * 1000));
      if (mine !== theirs) expect(`${t}: ${mine}`).toBe(`${t}: ${theirs}`);
    }
  });

  test.each([
    [{ year: 2025, month: 5, day: 16, hour: 9, minute: 15, second: 0 }, 'Europe/Berlin', '2025-05-16T07:15:00Z'],
    // the repeated hour: the earlier instant
    [{ year: 2025, month: 10, day: 26, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin', '2025-10-26T00:30:00Z'],
    // the skipped hour: read with the offset before the gap
    [{ year: 2025, month: 3, day: 30, hour: 2, minute: 30, second: 0 }, 'Europe/Berlin', '2025-03-30T01:30:00Z'],
  ])('local %p in %p is %p', (local, tz, iso) => expect(localToEpoch(local, tz)).toBe(at(iso)));
  test.each([
    [undefined, { TZ: 'Europe/Berlin' }, 'Europe/Berlin'],
    [undefined, { TZ: ':Europe/Vienna' }, 'Europe/Vienna'],
    ['UTC', { TZ: 'Europe/Berlin' }, 'UTC'],
  ])('zone from option %p env %p -> %p', (opt, env, tz) => expect(resolveTimeZone(opt, env)).toBe(tz));
  test('unknown zone names the option', () => {
    expect(() => resolveTimeZone('Mars/Olympus', {})).toThrow("--tz: unknown time zone 'Mars/Olympus'");
    expect(() => resolveTimeZone(undefined, { TZ: 'Nope/X' })).toThrow("TZ: unknown time zone 'Nope/X'");
  });
});
