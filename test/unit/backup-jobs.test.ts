// Which backup job of GET /cluster/backup runs next on this node, and is it due (now injected).
import { describe, expect, test } from 'bun:test';
import { backupConfigFrom } from '../../lib/domain/backup/config.ts';
import { jobEnabled, jobRunsOn, localMinute, planJobs, type BackupJob } from '../../lib/domain/backup/jobs.ts';

// local times (no zone suffix), as the schedules are; 2025-05-16 is a Friday
const at = (s: string) => new Date(s);
const TEN = 10 * 60_000;
const job = (id: string, schedule: string, extra: Partial<BackupJob> = {}): BackupJob => ({ type: 'vzdump', id, schedule, enabled: 1, ...extra });

describe('planJobs: the next job on this node and whether to wake now', () => {
  test.each([
    ['one job for every node, 5 minutes ahead', [job('a', '21:00')], '2025-05-16T20:55:00', 'a 2025-05-16 21:00 due'],
    ['exactly the window ahead', [job('a', '21:00')], '2025-05-16T20:50:00', 'a 2025-05-16 21:00 due'],
    ['one minute more than the window', [job('a', '21:00')], '2025-05-16T20:49:00', 'a 2025-05-16 21:00 not due'],
    ['the job minute itself: it started, the next run is tomorrow', [job('a', '21:00')], '2025-05-16T21:00:00', 'a 2025-05-17 21:00 not due'],
    ['for this node', [job('a', '21:00', { node: 'pve1' })], '2025-05-16T20:55:00', 'a 2025-05-16 21:00 due'],
    ['for another node only', [job('a', '21:00', { node: 'pve2' })], '2025-05-16T20:55:00', 'none not due'],
    ['disabled (0)', [job('a', '21:00', { enabled: 0 })], '2025-05-16T20:55:00', 'none not due'],
    ["disabled ('0')", [job('a', '21:00', { enabled: '0' })], '2025-05-16T20:55:00', 'none not due'],
    ['enabled absent = enabled', [{ id: 'a', schedule: '21:00' }], '2025-05-16T20:55:00', 'a 2025-05-16 21:00 due'],
    ['the earliest of several wins', [job('late', '23:00'), job('early', 'fri 21:00'), job('b', '22:00')], '2025-05-16T20:51:00', 'early 2025-05-16 21:00 due'],
    ["another node's earlier job is ignored", [job('other', '21:00', { node: 'pve2' }), job('mine', '22:00')], '2025-05-16T20:55:00', 'mine 2025-05-16 22:00 not due'],
    ['weekdays only, on a Friday evening', [job('a', 'mon..fri 22:30')], '2025-05-16T22:25:00', 'a 2025-05-16 22:30 due'],
    ['weekdays only, Saturday: Monday next', [job('a', 'mon..fri 22:30')], '2025-05-17T22:25:00', 'a 2025-05-19 22:30 not due'],
    ['every 15 minutes', [job('a', '*/15')], '2025-05-16T10:07:00', 'a 2025-05-16 10:15 due'],
    ['no schedule: not a planned job', [{ id: 'a', enabled: 1 }], '2025-05-16T20:55:00', 'none not due'],
    ['no jobs', [], '2025-05-16T20:55:00', 'none not due'],
  ])('%s', (_name, jobs, now, want) => {
    const p = planJobs(jobs as BackupJob[], 'pve1', at(now), TEN);
    expect(`${p.next ? `${p.next.id} ${localMinute(p.next.at)}` : 'none'} ${p.due ? 'due' : 'not due'}`).toBe(want);
  });

  test("a schedule we cannot read uses PVE's next-run when it is ahead, else is reported", () => {
    const now = at('2025-05-16T20:55:00');
    const nextRun = Math.floor(at('2025-05-16T21:00:00').getTime() / 1000);
    expect(planJobs([job('y', '2025-05-16 21:00', { 'next-run': nextRun })], 'pve1', now, TEN)).toMatchObject({ due: true, next: { id: 'y' }, unreadable: [] });
    const p = planJobs([job('y', '2025-05-16 21:00')], 'pve1', now, TEN);
    expect(p.due).toBe(false);
    expect(p.unreadable).toEqual(["y: calendar event '2025-05-16 21:00': a year is not supported here"]);
  });
});

describe('job fields as PVE returns them', () => {
  test.each([
    [undefined, true], [1, true], ['1', true], [true, true],
    [0, false], ['0', false], [false, false], ['no', false],
    ['off', false], ['OFF', false], ['false', false], ['on', true], ['yes', true],
  ])('enabled %p -> %p', (v, want) => {
    expect(jobEnabled(v)).toBe(want);
  });
  test.each([
    [undefined, true], ['', true], ['pve1', true], ['pve2', false], ['pve10', false],
  ])('node %p runs on pve1: %p', (node, want) => {
    expect(jobRunsOn({ id: 'a', node }, 'pve1')).toBe(want);
  });
});

describe('wake_before', () => {
  test.each([
    [{}, 600_000],
    [{ wake_before: '15m' }, 900_000],
    [{ wake_before: '90s' }, 90_000],
  ])('%j -> %p ms', (values, want) => {
    expect(backupConfigFrom(values, 'test.conf', 'pve1').wakeBeforeMs).toBe(want);
  });
  test.each([
    ['soon', "test.conf [backup] wake_before: 'soon' is not a duration"],
    ['10', "test.conf [backup] wake_before: '10' needs a unit (e.g. 10m for minutes)"],
    ['0m', 'test.conf [backup] wake_before: must be more than 0'],
  ])('%p is refused with the key named', (value, text) => {
    expect(() => backupConfigFrom({ wake_before: value }, 'test.conf', 'pve1')).toThrow(text);
  });
});
