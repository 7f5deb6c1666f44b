// The tiers' slot rule as the reason shows it: a slot whose mark (:00, :30) has no snapshot
// is kept by its oldest one, and the reason says which one stands in for the mark.
import { describe, expect, test } from 'bun:test';
import { parseTiers, planTiers } from '../../lib/domain/retention/tiers.ts';

const sec = (iso: string) => Math.floor(Date.parse(iso) / 1000);
/** local times of one day (HH:MM or HH:MM:SS) in the zone's offset */
const items = (day: string, offset: string, times: string[]) =>
  times.map((t) => ({ name: `s${t.replace(/:/g, '')}`, snaptime: sec(`${day}T${t.length === 5 ? `${t}:00` : t}${offset}`) }));

describe('tiers: which snapshot stands in for a missing mark', () => {
  test.each([
    // [case, tiers, zone, offset, now (local), snapshots (local), expected "name action reason" of the ones asked]
    ['no :00 in the hour: :15 keeps it, and says so', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['09:15', '09:30', '09:45'], ['s0915 keep tier >3h :00 (:15 stands in for :00)', 's0930 remove tier >3h :00, slot kept by s0915']],
    ['a :00 present: the plain reason', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['10:00', '10:15'], ['s1000 keep tier >3h :00', 's1015 remove tier >3h :00, slot kept by s1000']],
    ['a :00 snapshot taken 40 s late is still the :00 one', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['11:00:40'], ['s110040 keep tier >3h :00']],
    ['a :00 snapshot taken 90 s late stands in', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['11:01:30'], ['s110130 keep tier >3h :00 (:01 stands in for :00)']],
    ['1-3h: :45 stands in for :30', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['16:00', '16:45'], ['s1600 keep tier 1-3h :00/:30', 's1645 keep tier 1-3h :00/:30 (:45 stands in for :30)']],
    ['younger than 1h: no slots, no stand-in', '1h=all,3h=30m,today=60m', 'UTC', 'Z', '18:05', ['17:15', '17:20'], ['s1715 keep tier <1h all', 's1720 keep tier <1h all']],
    ['a 2h spacing names the hour too', '1h=all,today=2h', 'UTC', 'Z', '18:05', ['13:15', '14:10'], ['s1315 keep tier >1h every 2h (13:15 stands in for 12:00)', 's1410 keep tier >1h every 2h (14:10 stands in for 14:00)']],
    ['local time of the zone, not UTC', '1h=all,3h=30m,today=60m', 'Europe/Berlin', '+02:00', '18:05', ['09:15', '10:00'], ['s0915 keep tier >3h :00 (:15 stands in for :00)', 's1000 keep tier >3h :00']],
  ] as const)('%s', (_case, spec, tz, offset, now, times, want) => {
    const list = items('2025-05-16', offset, [...times]);
    const v = planTiers(list, parseTiers(spec), sec(`2025-05-16T${now}:00${offset}`), tz);
    const got = list.map((it) => `${it.name} ${v.get(it)!.action} ${v.get(it)!.reason}`);
    for (const w of want) expect(got).toContain(w);
  });
});
