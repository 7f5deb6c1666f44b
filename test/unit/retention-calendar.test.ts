// The calendar policy against every Proxmox Backup Server prune vector, one test each,
// plus DST cases the vectors do not cover.
import { describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { bucketer, planCalendar } from '../../lib/domain/retention/calendar.ts';
import { isoWeek, localTime } from '../../lib/domain/retention/localtime.ts';
import { planRetention, type PlanItem } from '../../lib/domain/retention/plan.ts';
import { policyFromOptions, type CalendarPolicy } from '../../lib/domain/retention/policy.ts';

interface Vector {
  id: string;
  keep: Record<string, number>;
  snapshots: { time: string; protected?: boolean; partial?: boolean }[];
  expected: Record<string, 'keep' | 'remove' | 'protected' | 'keep-partial'>;
}
const file = path.resolve(import.meta.dir, '../../data/retention/pbs-prune-vectors.json');
const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { timezone: string; vectors: Vector[] };
const sec = (iso: string) => Date.parse(iso) / 1000;

/** the vector's options as a user would type them, through the same parser as the CLI */
const policyOf = (keep: Record<string, number>) =>
  policyFromOptions(Object.fromEntries(Object.entries(keep).map(([k, v]) => [k, String(v)]))) as CalendarPolicy;

describe(`PBS prune vectors (${data.timezone})`, () => {
  test('the file holds the vectors', () => expect(data.vectors.length).toBeGreaterThanOrEqual(21));

  for (const v of data.vectors) {
    test(v.id, () => {
      const items: PlanItem[] = v.snapshots.map((s) => ({ name: s.time, snaptime: sec(s.time), protected: s.protected, partial: s.partial }));
      const policy = policyOf(v.keep);
      expect(policy.kind).toBe('calendar');
      // the algorithm's own marks
      const newestFirst = [...items].sort((a, b) => b.snaptime - a.snaptime);
      const marks = planCalendar(newestFirst, policy, data.timezone);
      expect(Object.fromEntries(newestFirst.map((it, i) => [it.name, marks[i].mark]))).toEqual(v.expected);
      // and through the planner, as the tools see it
      const decisions = planRetention(items, policy, { now: new Date('2030-01-01T00:00:00Z'), tz: data.timezone });
      const want = Object.fromEntries(Object.entries(v.expected).map(([k, m]) => [k, m === 'keep-partial' ? 'keep' : m]));
      expect(Object.fromEntries(decisions.map((d) => [d.name, d.action]))).toEqual(want);
      for (const d of decisions) {
        if (d.action === 'keep') expect(d.reason).toMatch(/^(keep-(last|hourly|daily|weekly|monthly|yearly) \d+\/\d+|keep-partial)$/);
        if (d.action === 'protected') expect(d.reason).toBe('not ours');
      }
    });
  }
});

type Case = [string, Record<string, number>, string, string[], Record<string, string>];
const plan = (policy: Record<string, number>, tz: string, times: string[]) => {
  const items = times.map((t) => ({ name: t, snaptime: sec(t) }));
  const d = planRetention(items, policyOf(policy), { now: new Date('2030-01-01T00:00:00Z'), tz });
  return Object.fromEntries(d.map((x) => [x.name, `${x.action} ${x.reason}`]));
};

describe('calendar in local time across DST (Europe/Berlin)', () => {
  test.each<Case>([
    [
      'fall-back: the repeated 02:xx hour is ONE hourly bucket',
      { 'keep-hourly': 5 },
      'Europe/Berlin',
      ['2025-10-26T00:10:00Z', '2025-10-26T00:50:00Z', '2025-10-26T01:10:00Z', '2025-10-26T01:50:00Z', '2025-10-26T02:10:00Z'],
      {
        // 03:10 CET
        '2025-10-26T02:10:00Z': 'keep keep-hourly 1/5',
        // 02:50 CET, 02:10 CET, 02:50 CEST, 02:10 CEST: one local hour
        '2025-10-26T01:50:00Z': 'keep keep-hourly 2/5',
        '2025-10-26T01:10:00Z': 'remove keep-hourly: hour already kept',
        '2025-10-26T00:50:00Z': 'remove keep-hourly: hour already kept',
        '2025-10-26T00:10:00Z': 'remove keep-hourly: hour already kept',
      },
    ],
    [
      'fall-back day has 25 hours and is one daily bucket',
      { 'keep-daily': 3 },
      'Europe/Berlin',
      ['2025-10-25T22:00:00Z', '2025-10-26T12:00:00Z', '2025-10-26T22:59:00Z', '2025-10-26T23:00:00Z'],
      {
        // 00:00 on the 27th
        '2025-10-26T23:00:00Z': 'keep keep-daily 1/3',
        // 23:59 on the 26th (UTC+1)
        '2025-10-26T22:59:00Z': 'keep keep-daily 2/3',
        '2025-10-26T12:00:00Z': 'remove keep-daily: day already kept',
        // 00:00 on the 26th (still UTC+2)
        '2025-10-25T22:00:00Z': 'remove keep-daily: day already kept',
      },
    ],
    [
      'spring-forward: 01:xx and 03:xx are neighbours, no 02:xx bucket',
      { 'keep-hourly': 2 },
      'Europe/Berlin',
      ['2025-03-30T00:30:00Z', '2025-03-30T00:59:00Z', '2025-03-30T01:00:00Z', '2025-03-30T01:30:00Z'],
      {
        // 03:30 and 03:00 CEST
        '2025-03-30T01:30:00Z': 'keep keep-hourly 1/2',
        '2025-03-30T01:00:00Z': 'remove keep-hourly: hour already kept',
        // 01:59 and 01:30 CET
        '2025-03-30T00:59:00Z': 'keep keep-hourly 2/2',
        '2025-03-30T00:30:00Z': 'remove keep-hourly: hour already kept',
      },
    ],
    [
      'the local day, not the UTC day',
      { 'keep-daily': 2 },
      'Europe/Berlin',
      ['2025-05-15T21:30:00Z', '2025-05-15T22:30:00Z', '2025-05-16T21:00:00Z'],
      {
        // 23:00 on the 16th
        '2025-05-16T21:00:00Z': 'keep keep-daily 1/2',
        // 00:30 on the 16th: same local day
        '2025-05-15T22:30:00Z': 'remove keep-daily: day already kept',
        // 23:30 on the 15th
        '2025-05-15T21:30:00Z': 'keep keep-daily 2/2',
      },
    ],
    [
      'the same times in UTC fall on other days',
      { 'keep-daily': 2 },
      'UTC',
      ['2025-05-15T21:30:00Z', '2025-05-15T22:30:00Z', '2025-05-16T21:00:00Z'],
      {
        '2025-05-16T21:00:00Z': 'keep keep-daily 1/2',
        '2025-05-15T22:30:00Z': 'keep keep-daily 2/2',
        '2025-05-15T21:30:00Z': 'remove keep-daily: day already kept',
      },
    ],
    [
      'ISO week-year: 2024-12-30 is week 1 of 2025, 2027-01-01 is week 53 of 2026',
      { 'keep-weekly': 10 },
      'UTC',
      ['2024-12-29T12:00:00Z', '2024-12-30T12:00:00Z', '2025-01-05T12:00:00Z', '2026-12-31T12:00:00Z', '2027-01-01T12:00:00Z', '2027-01-04T12:00:00Z'],
      {
        '2027-01-04T12:00:00Z': 'keep keep-weekly 1/10',
        '2027-01-01T12:00:00Z': 'keep keep-weekly 2/10',
        '2026-12-31T12:00:00Z': 'remove keep-weekly: week already kept',
        '2025-01-05T12:00:00Z': 'keep keep-weekly 3/10',
        '2024-12-30T12:00:00Z': 'remove keep-weekly: week already kept',
        '2024-12-29T12:00:00Z': 'keep keep-weekly 4/10',
      },
    ],
  ])('%s', (_title, policy, tz, times, expected) => {
    expect(plan(policy, tz, times)).toEqual(expected);
  });
});

describe('calendar: partial snapshots and no options', () => {
  const items = (spec: [string, boolean?][]): PlanItem[] => spec.map(([t, partial]) => ({ name: t, snaptime: sec(t), partial }));
  test('only the newest partial survives, and only when newer than every finished one', () => {
    const d = planRetention(
      items([['2025-01-01T10:00:00Z', true], ['2025-01-01T09:00:00Z'], ['2025-01-01T08:00:00Z', true], ['2025-01-01T07:00:00Z']]),
      { kind: 'calendar', keepLast: 5 },
      { now: new Date('2025-01-02T00:00:00Z'), tz: 'UTC' },
    );
    expect(d.map((x) => `${x.action} ${x.reason}`)).toEqual(['keep keep-partial', 'keep keep-last 1/5', 'remove partial, not the newest', 'keep keep-last 2/5']);
  });
  test('no option at all keeps everything', () => {
    const d = planRetention(items([['2025-01-01T10:00:00Z'], ['2020-01-01T10:00:00Z']]), { kind: 'calendar' }, { now: new Date(), tz: 'UTC' });
    expect(d.map((x) => x.action)).toEqual(['keep', 'keep']);
  });
});

describe('bucket keys are equal exactly when the strftime keys are', () => {
  // the keys of step 2 as text, from the local time fields (the definition)
  const text = (period: string, t: number, tz: string) => {
    const l = localTime(t, tz);
    const w = isoWeek(l.year, l.month, l.day);
    return { hour: `${l.year}/${l.month}/${l.day}/${l.hour}`, day: `${l.year}/${l.month}/${l.day}`, week: `${w.year}/${w.week}`, month: `${l.year}/${l.month}`, year: `${l.year}` }[period]!;
  };
  test.each([
    ['Europe/Berlin'],
    ['America/New_York'],
    ['Asia/Kathmandu'],
    ['Australia/Lord_Howe'],
    ['Pacific/Chatham'],
    ['UTC'],
  ])('%s, 1969-2040, neighbouring snapshots 17 min to 40 days apart', (tz) => {
    for (const period of ['hour', 'day', 'week', 'month', 'year'] as const) {
      const key = bucketer(period, tz);
      let t = Date.parse('1969-06-01T00:00:00Z') / 1000;
      const end = Date.parse('2040-01-01T00:00:00Z') / 1000;
      let step = 1013;
      let n = 0;
      while (t < end) {
        const u = t + step;
        if (t >= 0 && (key(t) === key(u)) !== (text(period, t, tz) === text(period, u, tz))) {
          throw new Error(`${period} ${tz}: ${new Date(t * 1000).toISOString()} and ${new Date(u * 1000).toISOString()}`);
        }
        n++;
        t = u;
        // steps cycle from minutes to weeks so every bucket edge is crossed both ways
        step = step > 3_500_000 ? 1013 : Math.round(step * 1.7);
      }
      expect(n).toBeGreaterThan(1000);
    }
  });
});
