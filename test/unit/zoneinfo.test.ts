// Offsets read from the system's tz database (lib/core/zoneinfo.ts) must be the ones
// Intl gives, for zones of every kind: northern and southern summer time, half-hour and
// 45-minute offsets, "negative" summer time (Europe/Dublin), rules at -1:00 (America/Nuuk)
// and 25:00, no summer time at all, and instants past the files' last transition, where
// the footer's POSIX rule decides.
import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTzif, posixTz, systemZone, zoneDir, zoneOffsets } from '../../lib/core/zoneinfo.ts';

const formats = new Map<string, Intl.DateTimeFormat>();
function intlOffset(t: number, tz: string): number {
  const f = formats.get(tz) ?? new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  formats.set(tz, f);
  const v: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(t * 1000))) if (p.type !== 'literal') v[p.type] = Number(p.value);
  return Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second) / 1000 - t;
}

const ZONES = ['Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Australia/Sydney', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'America/St_Johns', 'Europe/Dublin', 'Europe/London', 'America/Santiago', 'Pacific/Auckland', 'Asia/Tokyo', 'Africa/Johannesburg', 'America/Sao_Paulo', 'Etc/GMT+5', 'UTC'];
const haveDb = fs.existsSync(path.join(zoneDir(), 'Europe/Berlin'));

describe.skipIf(!haveDb)('zoneinfo offsets are Intl offsets', () => {
  // 2005..2045: every 25 hours (so each hour of the day comes round), and the seconds on
  // both sides of every change Intl shows in between
  test.each(ZONES)('%s', (tz) => {
    const zone = zoneOffsets(tz)!;
    expect(zone).toBeDefined();
    const bad: string[] = [];
    const step = 25 * 3600;
    let t = Date.UTC(2005, 0, 1) / 1000;
    let a = intlOffset(t, tz);
    for (const to = Date.UTC(2045, 0, 1) / 1000; t < to && bad.length < 5; t += step) {
      if (zone(t) !== a) bad.push(new Date(t * 1000).toISOString());
      const b = intlOffset(t + step, tz);
      if (a !== b) {
        let lo = t;
        let hi = t + step;
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          if (intlOffset(mid, tz) === a) lo = mid;
          else hi = mid;
        }
        if (zone(lo) !== a || zone(hi) !== b) bad.push(`change at ${new Date(hi * 1000).toISOString()}`);
      }
      a = b;
    }
    expect(bad).toEqual([]);
  });
});

describe('POSIX TZ rules', () => {
  const at = (iso: string) => Date.parse(iso) / 1000;
  test.each([
    ['CET-1CEST,M3.5.0,M10.5.0/3', '2030-03-31T00:59:59Z', 3600],
    ['CET-1CEST,M3.5.0,M10.5.0/3', '2030-03-31T01:00:00Z', 7200],
    ['CET-1CEST,M3.5.0,M10.5.0/3', '2030-10-27T00:59:59Z', 7200],
    ['CET-1CEST,M3.5.0,M10.5.0/3', '2030-10-27T01:00:00Z', 3600],
    // southern summer over the new year
    ['AEST-10AEDT,M10.1.0,M4.1.0/3', '2030-01-15T00:00:00Z', 39600],
    ['AEST-10AEDT,M10.1.0,M4.1.0/3', '2030-06-15T00:00:00Z', 36000],
    // Dublin: winter is the "summer" time, one hour back
    ['IST-1GMT0,M10.5.0,M3.5.0/1', '2030-01-15T00:00:00Z', 0],
    ['IST-1GMT0,M10.5.0,M3.5.0/1', '2030-07-15T00:00:00Z', 3600],
    // a change at -1:00 local (the evening before)
    ['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', '2030-03-31T00:59:59Z', -7200],
    ['<-02>2<-01>,M3.5.0/-1,M10.5.0/0', '2030-03-31T01:00:00Z', -3600],
    // summer time the whole year round (RFC 8536 section 3.3.1's example)
    ['EST5EDT,0/0,J365/25', '2030-07-01T00:00:00Z', -14400],
    ['EST5EDT,0/0,J365/25', '2030-01-01T05:00:00Z', -14400],
    // Jn never counts February 29: J60 is March 1, leap year or not
    ['XST0XDT,J60/0,J300/0', '2032-02-29T12:00:00Z', 0],
    ['XST0XDT,J60/0,J300/0', '2032-03-01T00:00:00Z', 3600],
    ['<+0530>-5:30', '2030-01-01T00:00:00Z', 19800],
    ['<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45', '2030-01-01T00:00:00Z', 49500],
  ])('%s at %s: %i', (tz, iso, want) => expect(posixTz(tz)(at(iso))).toBe(want));
});

describe('names', () => {
  test.each(['../../etc/passwd', '/etc/localtime', '.', 'Europe/../Europe/Berlin', 'Mars/Olympus', ''])('%p is no zone', (name) => expect(zoneOffsets(name)).toBeUndefined());
  test('a file that is no TZif file is no zone', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoneinfo-'));
    fs.writeFileSync(path.join(dir, 'Bad'), 'TZif2 but not really');
    expect(zoneOffsets('Bad', dir)).toBeUndefined();
  });
  // a file cut short (a full disk during an upgrade of tzdata) must not be read as a zone
  // whose summer time stops at its last transition: Intl then decides (localtime.ts)
  test.skipIf(!haveDb)('a TZif file cut anywhere is refused, not read with its end missing', () => {
    const whole = fs.readFileSync(path.join(zoneDir(), 'Europe/Berlin'));
    const read = (n: number) => {
      try {
        return parseTzif(whole.subarray(0, n));
      } catch {
        return undefined;
      }
    };
    const taken = [];
    for (let n = 0; n < whole.length; n++) if (read(n)) taken.push(n);
    expect(taken).toEqual([]);
    expect(read(whole.length)!(Date.UTC(2050, 6, 1) / 1000)).toBe(7200);
  });
  test.skipIf(!haveDb)('the system zone is the link under the database, UTC aliases as UTC', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localtime-'));
    const link = path.join(dir, 'localtime');
    fs.symlinkSync(path.join(zoneDir(), 'Europe/Berlin'), link);
    expect(systemZone(link)).toBe('Europe/Berlin');
    fs.unlinkSync(link);
    fs.symlinkSync(path.join(zoneDir(), 'Etc/UTC'), link);
    expect(systemZone(link)).toBe('UTC');
    fs.unlinkSync(link);
    fs.writeFileSync(link, 'not a link');
    expect(systemZone(link)).toBeUndefined();
  });
});
