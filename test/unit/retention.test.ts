import { describe, expect, test } from 'bun:test';
import { intradayName } from '../../lib/domain/retention/naming.ts';
import { firstRepeat } from '../../lib/tools/autosnap/offline-plan.ts';
import { planRetention, type PlanItem } from '../../lib/domain/retention/plan.ts';
import { describePolicy, parsePolicyOptions, policyFromOptions } from '../../lib/domain/retention/policy.ts';
import { parseTiers } from '../../lib/domain/retention/tiers.ts';

const sec = (iso: string) => Date.parse(iso) / 1000;
const TZ = 'Europe/Berlin';

describe('count: the newest N by snaptime', () => {
  // names from two timestamp formats: sorting by name would keep the wrong ones
  const items: PlanItem[] = [
    { name: 'autoh2505160900', snaptime: sec('2025-05-16T07:00:00Z') },
    { name: 'autoh250516100000', snaptime: sec('2025-05-16T08:00:00Z') },
    { name: 'autoh2505161100', snaptime: sec('2025-05-16T09:00:00Z') },
    { name: 'autoh250516120000', snaptime: sec('2025-05-16T10:00:00Z') },
  ];
  const now = new Date('2025-05-16T12:00:00Z');
  test.each([
    [2, ['autoh250516120000 keep count 1/2', 'autoh2505161100 keep count 2/2', 'autoh250516100000 remove beyond count 2', 'autoh2505160900 remove beyond count 2']],
    [5, ['autoh250516120000 keep count 1/5', 'autoh2505161100 keep count 2/5', 'autoh250516100000 keep count 3/5', 'autoh2505160900 keep count 4/5']],
    [0, ['autoh250516120000 remove beyond count 0', 'autoh2505161100 remove beyond count 0', 'autoh250516100000 remove beyond count 0', 'autoh2505160900 remove beyond count 0']],
  ])('keep %p', (keep, out) => {
    const d = planRetention(items, { kind: 'count', keep }, { now, tz: TZ });
    expect(d.map((x) => `${x.name} ${x.action} ${x.reason}`)).toEqual(out);
  });
  test('the repeated DST hour: newest by snaptime even though the names tie', () => {
    const d = planRetention(
      [
        { name: 'a-CEST', snaptime: sec('2025-10-26T00:30:00Z') },
        { name: 'b-CET', snaptime: sec('2025-10-26T01:30:00Z') },
      ],
      { kind: 'count', keep: 1 },
      { now: new Date('2025-10-26T03:00:00Z'), tz: TZ },
    );
    expect(d.map((x) => `${x.name} ${x.action}`)).toEqual(['b-CET keep', 'a-CEST remove']);
  });
  test('protected items are never removed and do not count', () => {
    const d = planRetention(
      [...items, { name: 'pre-upgrade', snaptime: sec('2025-05-16T11:00:00Z'), protected: true }],
      { kind: 'count', keep: 1 },
      { now, tz: TZ, keepNewest: true },
    );
    expect(d.map((x) => `${x.name} ${x.action} ${x.reason}`)).toEqual([
      'pre-upgrade protected not ours',
      'autoh250516120000 keep count 1/1',
      'autoh2505161100 remove beyond count 1',
      'autoh250516100000 remove beyond count 1',
      'autoh2505160900 remove beyond count 1',
    ]);
  });
});

describe('safety floor: keepNewest', () => {
  const items: PlanItem[] = [
    { name: 'old', snaptime: sec('2025-05-10T08:00:00Z') },
    { name: 'older', snaptime: sec('2025-05-09T08:00:00Z') },
    { name: 'manual', snaptime: sec('2025-05-16T08:00:00Z'), protected: true },
  ];
  const now = new Date('2025-05-16T12:00:00Z');
  test('the default intraday tiers would drop every earlier day; the newest managed one stays', () => {
    const d = planRetention(items, parsePolicyOptions({ policy: 'intraday' }), { now, tz: TZ, keepNewest: true });
    expect(d.map((x) => `${x.name} ${x.action} ${x.reason}`)).toEqual(['manual protected not ours', 'old keep newest kept', 'older remove earlier day']);
  });
  test('without the floor everything of an earlier day goes', () => {
    const d = planRetention(items, parsePolicyOptions({ policy: 'intraday' }), { now, tz: TZ });
    expect(d.map((x) => x.action)).toEqual(['protected', 'remove', 'remove']);
  });
  test('keep 0 with the floor still keeps the newest', () => {
    const d = planRetention(items, { kind: 'count', keep: 0 }, { now, tz: TZ, keepNewest: true });
    expect(d.map((x) => `${x.name} ${x.action} ${x.reason}`)).toEqual(['manual protected not ours', 'old keep newest kept', 'older remove beyond count 0']);
  });
  test('a newest partial snapshot is not what the floor protects', () => {
    const d = planRetention(
      [{ name: 'broken', snaptime: sec('2025-05-16T09:00:00Z'), partial: true }, ...items],
      { kind: 'count', keep: 0 },
      { now, tz: TZ, keepNewest: true },
    );
    expect(d.map((x) => `${x.name} ${x.action} ${x.reason}`)).toEqual([
      'broken keep keep-partial',
      'manual protected not ours',
      'old keep newest kept',
      'older remove beyond count 0',
    ]);
  });
});

/** A day of 15-minute snapshots, 06:00 to 18:00 local, each a few seconds late. */
function day(date: string, from = 6, to = 18, lateSec = 7): PlanItem[] {
  const out: PlanItem[] = [];
  const start = sec(`${date}T00:00:00Z`) - 2 * 3600; // local midnight in CEST
  for (let m = from * 60; m <= to * 60; m += 15) {
    const t = start + m * 60 + lateSec;
    out.push({ name: intradayName(t, { tz: TZ }), snaptime: t });
  }
  return out;
}

describe('tiers: the original intraday policy', () => {
  test('at 18:05 local: all of the last hour, :00/:30 for 1-3h, :00 before, nothing of yesterday', () => {
    const items = [...day('2025-05-15'), ...day('2025-05-16')];
    const d = planRetention(items, parsePolicyOptions({ policy: 'intraday' }), { now: new Date('2025-05-16T16:05:00Z'), tz: TZ, keepNewest: true });
    const kept = d.filter((x) => x.action === 'keep').map((x) => `${x.name.slice(-4)} ${x.reason}`);
    expect(kept).toEqual([
      '1800 tier <1h all',
      '1745 tier <1h all',
      '1730 tier <1h all',
      '1715 tier <1h all',
      '1700 tier 1-3h :00/:30',
      '1630 tier 1-3h :00/:30',
      '1600 tier 1-3h :00/:30',
      '1530 tier 1-3h :00/:30',
      ...[15, 14, 13, 12, 11, 10, 9, 8, 7, 6].map((h) => `${String(h).padStart(2, '0')}00 tier >3h :00`),
    ]);
    const removed = d.filter((x) => x.action === 'remove');
    expect(removed.filter((x) => x.name.startsWith('autosnap-20250515')).every((x) => x.reason === 'earlier day')).toBe(true);
    expect(d.find((x) => x.name === 'autosnap-202505161645')?.reason).toBe('tier 1-3h :00/:30, slot kept by autosnap-202505161630');
    expect(d.find((x) => x.name === 'autosnap-202505161415')?.reason).toBe('tier >3h :00, slot kept by autosnap-202505161400');
  });

  test('alignment comes from snaptime, not the name; a missing :00 is replaced by the oldest of its slot', () => {
    const items = day('2025-05-16', 12, 14).filter((x) => !x.name.endsWith('1300'));
    const d = planRetention(items, parsePolicyOptions({ tiers: '1h=all,3h=30m,today=60m' }), { now: new Date('2025-05-16T16:05:00Z'), tz: TZ });
    expect(d.filter((x) => x.action === 'keep').map((x) => x.name.slice(-4))).toEqual(['1400', '1315', '1200']);
  });

  test('a kept snapshot stays kept as it ages into coarser windows', () => {
    const items = day('2025-05-16');
    const policy = parsePolicyOptions({ policy: 'intraday' });
    const keptAt = (iso: string) => new Set(planRetention(items.filter((x) => x.snaptime <= sec(iso)), policy, { now: new Date(iso), tz: TZ }).filter((x) => x.action === 'keep').map((x) => x.name));
    for (let h = 8; h <= 16; h++) {
      const earlier = keptAt(`2025-05-16T${String(h).padStart(2, '0')}:05:00Z`);
      const later = keptAt(`2025-05-16T${String(h).padStart(2, '0')}:35:00Z`);
      // everything kept later was already there and kept before (nothing wished back)
      for (const n of later) if (items.find((x) => x.name === n)!.snaptime <= sec(`2025-05-16T${String(h).padStart(2, '0')}:05:00Z`)) expect(earlier.has(n)).toBe(true);
    }
  });

  test('a numeric last bound removes older ones; a slot cut by the bound keeps its oldest survivor', () => {
    const items = [...day('2025-05-15', 18, 19), ...day('2025-05-16', 17, 18)];
    const d = planRetention(items, parsePolicyOptions({ tiers: '1h=all,1d=60m' }), { now: new Date('2025-05-16T16:05:00Z'), tz: TZ });
    expect(d.filter((x) => x.action === 'keep').map((x) => `${x.name.slice(-12)} ${x.reason}`)).toEqual([
      '202505161800 tier <1h all',
      '202505161745 tier <1h all',
      '202505161730 tier <1h all',
      '202505161715 tier <1h all',
      '202505161700 tier 1h-1d :00',
      '202505151900 tier 1h-1d :00',
      '202505151815 tier 1h-1d :00 (:15 stands in for :00)',
    ]);
    expect(d.find((x) => x.name.endsWith('202505151800'))?.reason).toBe('older than 1d');
    expect(d.find((x) => x.name.endsWith('202505151830'))?.reason).toBe('tier 1h-1d :00, slot kept by autosnap-202505151815');
  });

  test('DST fall-back: the repeated hour is one slot', () => {
    const t1 = sec('2025-10-26T00:00:05Z'); // 02:00 CEST
    const t2 = sec('2025-10-26T01:00:05Z'); // 02:00 CET
    const items = [
      { name: 'first', snaptime: t1 },
      { name: 'second', snaptime: t2 },
    ];
    const d = planRetention(items, parsePolicyOptions({ tiers: '1h=all,today=60m' }), { now: new Date('2025-10-26T09:00:00Z'), tz: TZ });
    expect(d.map((x) => `${x.name} ${x.action}`)).toEqual(['second remove', 'first keep']);
  });
});

describe('policy options', () => {
  test.each([
    [{ keep: '3' }, { kind: 'count', keep: 3 }],
    [{ keep: '0' }, { kind: 'count', keep: 0 }],
    [{ keep: ['2', '4'] }, { kind: 'count', keep: 4 }],
    [{ 'keep-daily': '7', 'keep-weekly': '4' }, { kind: 'calendar', keepDaily: 7, keepWeekly: 4 }],
    [{ keep_last: '2', keep_yearly: '1' }, { kind: 'calendar', keepLast: 2, keepYearly: 1 }],
    [{ policy: 'calendar', 'keep-hourly': '24' }, { kind: 'calendar', keepHourly: 24 }],
    [{ policy: 'count', keep: '1' }, { kind: 'count', keep: 1 }],
  ])('%p -> %p', (src, policy) => {
    expect(parsePolicyOptions(src)).toEqual(policy as never);
  });
  test('config sections are read through get()', () => {
    const values: Record<string, string> = { keep_daily: '7' };
    expect(parsePolicyOptions({ get: (k: string) => values[k] })).toEqual({ kind: 'calendar', keepDaily: 7 });
  });
  test('intraday is the default tiers', () => {
    expect(describePolicy(parsePolicyOptions({ policy: 'intraday' }))).toBe('tiers 1h=all,3h=30m,today=1h');
    expect(describePolicy(parsePolicyOptions({ policy: 'tiers' }))).toBe('tiers 1h=all,3h=30m,today=1h');
  });
  test('nothing given', () => {
    expect(policyFromOptions({})).toBeUndefined();
    expect(() => parsePolicyOptions({})).toThrow('no retention policy');
  });
  test.each([
    [{ keep: 'x' }, "--keep: 'x' is not a whole number"],
    [{ keep: '-1' }, '--keep: -1 is out of range (0..1000000)'],
    [{ 'keep-daily': '0' }, '--keep-daily: 0 is out of range (1..1000000)'],
    [{ keep: '3', 'keep-daily': '7' }, '--keep and --keep-daily cannot be combined'],
    [{ keep: '3', tiers: '1h=all' }, '--keep and --tiers cannot be combined'],
    [{ policy: 'weekly' }, "--policy: unknown policy 'weekly'"],
    [{ policy: 'intraday', keep: '3' }, '--policy intraday: takes no --keep options'],
    [{ policy: 'count' }, '--policy count: needs --keep N'],
    [{ policy: 'calendar', keep: '2' }, '--policy calendar: needs at least one of'],
  ])('%p refused: %p', (src, msg) => {
    expect(() => parsePolicyOptions(src)).toThrow(msg);
  });
});

describe('tiers: the compact form', () => {
  test.each([
    ['1h=all,3h=30m,today=60m', [[3600, 0], [10800, 1800], ['today', 3600]]],
    ['90m=all, 1d=2h', [[5400, 0], [86400, 7200]]],
    ['today=15m', [['today', 900]]],
    ['2w=1d', [[1209600, 86400]]],
  ] as [string, [number | 'today', number][]][])('%p', (spec, tiers) => {
    expect(parseTiers(spec).map((t) => [t.until, t.every])).toEqual(tiers);
  });
  test.each([
    ['', '--tiers: empty'],
    ['1h', "--tiers: '1h' is not BOUND=SPACING"],
    ['today=1h,1d=2h', "--tiers: 'today=1h': 'today' can only be the last window"],
    ['3h=all,1h=30m', "--tiers: '1h=30m': bounds must grow (1h is not after 3h)"],
    ['1h=7m', "--tiers: '1h=7m': the spacing must be 'all' or a duration from 1m to 1d that divides a day"],
    ['1h=2d', 'the spacing must be'],
    ['1x=all', "--tiers '1x=all': '1x' is not a duration"],
  ])('%p refused: %p', (spec, msg) => {
    expect(() => parseTiers(spec)).toThrow(msg);
  });
});

describe('plan --from-file: the first repeated name', () => {
  test.each([
    [[], -1],
    [['a'], -1],
    [['a', 'b', 'c'], -1],
    [['a', 'a'], 1],
    [['b', 'a', 'c', 'a', 'b'], 3],
    [['x', 'y', 'y', 'x', 'y'], 2],
    [['é', 'e', 'E', 'e\u0301', 'e'], 4],
  ])('%p -> %i', (names, at) => expect(firstRepeat(names.map((name) => ({ name })))).toBe(at));
  test('only the first n are looked at', () => expect(firstRepeat([{ name: 'a' }, { name: 'b' }, { name: 'a' }], 2)).toBe(-1));
});
