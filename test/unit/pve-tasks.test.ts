// Task polling: the schedule (a pure function of time gone by and the expected duration),
// what the polls tell about a task's end, and the estimate learnt from finished tasks.
import { beforeEach, describe, expect, test } from 'bun:test';
import { MAX_POLL_MS, TaskDurations, firstPollAt, observedDuration, pollDelay, sharedTaskDurations } from '../../lib/clients/pve/task-timing.ts';
import { waitForTask } from '../../lib/clients/pve/tasks.ts';

const UPID = (type = 'qmdelsnapshot', node = 'pve1') => `UPID:${node}:0000ABCD:0012F00D:6553F100:${type}:100:root@pam:`;

beforeEach(() => sharedTaskDurations.clear());

describe('pollDelay: nothing learnt yet', () => {
  test.each([
    [0, 50],
    [50, 75],
    [125, 113],
    [238, 169],
    [407, 254],
    [1000, 550],
    [1900, 1000],
    [600_000, 1000],
  ])('%p ms gone by -> next poll in %p ms', (elapsed, delay) => {
    expect(pollDelay(elapsed)).toBe(delay);
  });
});

describe('pollDelay: with an expected duration', () => {
  test.each([
    // expected, elapsed, delay
    [1000, 0, 950], // first poll 50 ms before the expected end
    [1000, 950, 50],
    [1000, 1000, 50],
    [1000, 1500, 175], // past the expected end: the steps widen by a quarter of the overrun
    [1000, 3000, 550],
    [1000, 5000, MAX_POLL_MS], // a long overrun: never more than 1 s between polls
    [500, 0, 475],
    [500, 475, 25],
    [500, 500, 25],
    [150, 0, 143], // 142.5 rounded up
    [150, 142, 1], // never 0: that would poll again and again before the end
    [150, 143, 10],
    [75, 0, 72],
    [75, 72, 10],
    [0, 0, 10], // tasks that end at once (pvesh): short steps from the start
    [60_000, 0, MAX_POLL_MS], // a long wait for the expected end still polls every second
    [60_000, 59_000, 950],
    [60_000, 59_950, 50],
    [60_000, 62_000, 550],
    [60_000, 70_000, MAX_POLL_MS],
  ])('expected %p ms, %p ms gone by -> next poll in %p ms', (expected, elapsed, delay) => {
    expect(pollDelay(elapsed, expected)).toBe(delay);
  });
  test.each([1, 10, 150, 500, 1000, 5000, 600_000])('expected %p ms: every delay is between 1 ms and the cap', (expected) => {
    for (let e = 0; e < expected * 3 + 5000; e += 7) {
      const d = pollDelay(e, expected);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(MAX_POLL_MS);
    }
  });
});

describe('firstPollAt', () => {
  test.each([
    [undefined, 0],
    [0, 0], // tasks that end before their UPID is answered (pvesh): at once, no sleep
    [75, 72],
    [150, 143],
    [1000, 950],
    [5000, MAX_POLL_MS],
  ])('expected %p ms -> first poll after %p ms', (expected, at) => {
    expect(firstPollAt(expected)).toBe(at);
  });
});

describe('observedDuration', () => {
  test.each([
    [400, 500, 450], // seen running at 400, stopped at 500: in between
    [475, 500, 487.5],
    [undefined, 500, 375], // stopped at the first poll: it ended some time before
    [undefined, 0, 0], // ended before the first poll (pvesh)
  ])('last running %p, stopped at %p -> %p', (running, stopped, ms) => {
    expect(observedDuration(running, stopped)).toBe(ms);
  });
});

describe('TaskDurations', () => {
  test('nothing known, then per type and node, with the type over all nodes for a new node', () => {
    const d = new TaskDurations();
    expect(d.expected('qmsnapshot', 'pve1')).toBeUndefined();
    d.observe('qmsnapshot', 'pve1', 1000);
    d.observe('qmsnapshot', 'pve2', 2000);
    expect(d.expected('qmsnapshot', 'pve1')).toBe(1000);
    expect(d.expected('qmsnapshot', 'pve2')).toBe(2000);
    expect(d.expected('qmsnapshot', 'pve3')).toBe(1000);
    expect(d.expected('qmdelsnapshot', 'pve1')).toBeUndefined();
  });
  test.each([
    [[500], 500],
    [[500, 520, 480, 510], 500],
    [[500, 510, 505, 495, 30_000], 505], // one long outlier (a snapshot with RAM) changes nothing
    [[30_000, 30_000, 30_000, 500, 500, 500, 500, 500, 500, 500, 500, 500], 500], // only the last 9 count
    [[1000, 1000, 1000, 1000, 1000, 2000, 2000, 2000, 2000], 1000],
    [[1000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000], 2000], // a node that slowed down
  ])('observed %p -> expected %p', (seen, expected) => {
    const d = new TaskDurations();
    for (const ms of seen) d.observe('qmdelsnapshot', 'pve1', ms);
    expect(d.expected('qmdelsnapshot', 'pve1')).toBe(expected);
  });
  test('nonsense observations are ignored', () => {
    const d = new TaskDurations();
    d.observe('x', 'n', Number.NaN);
    d.observe('x', 'n', -1);
    expect(d.expected('x', 'n')).toBeUndefined();
  });
});

/** A task that ends `endMs` after waiting begins, on a pinned clock; returns the poll times. */
async function waitOn(endMs: number, durations: TaskDurations, opts: { exitstatus?: string; type?: string } = {}) {
  let clock = 0;
  const polls: number[] = [];
  const result = await waitForTask(
    {
      get: async <T>(path: string): Promise<T> => {
        if (path.endsWith('/log')) return [] as T;
        polls.push(clock);
        return (clock >= endMs ? { status: 'stopped', exitstatus: opts.exitstatus ?? 'OK' } : { status: 'running' }) as T;
      },
      sleep: async (ms) => {
        clock += ms;
      },
      now: () => clock,
      durations,
    },
    UPID(opts.type),
    { throwOnFailure: false },
  );
  return { polls, late: polls[polls.length - 1] - endMs, result };
}

describe('waitForTask learns from the tasks it waited for', () => {
  test('first task: the fast start; later ones of the same length: first poll just before the end', async () => {
    const d = new TaskDurations();
    const first = await waitOn(500, d);
    expect(first.polls).toEqual([0, 50, 125, 238, 407, 661]);
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(await waitOn(500, d));
    // after a few tasks the end is seen within one short step, with two or three polls
    for (const r of runs.slice(3)) {
      expect(r.late).toBeLessThanOrEqual(25);
      expect(r.polls.length).toBeLessThanOrEqual(3);
    }
    expect(runs.reduce((n, r) => n + r.late, 0)).toBeLessThan(first.late);
  });
  test('a task much longer than the estimate is still seen within 1 s of its end', async () => {
    const d = new TaskDurations();
    for (let i = 0; i < 5; i++) await waitOn(500, d);
    const long = await waitOn(20_000, d);
    expect(long.late).toBeLessThanOrEqual(MAX_POLL_MS);
    expect(long.polls.length).toBeLessThan(40);
  });
  test('a faster node pulls its estimate down again', async () => {
    const d = new TaskDurations();
    for (let i = 0; i < 9; i++) await waitOn(1000, d);
    const runs = [];
    for (let i = 0; i < 30; i++) runs.push(await waitOn(400, d));
    // the median needs most of its window to change its mind: slow, but it gets there
    expect(runs[0].late).toBeGreaterThan(500);
    expect(runs[runs.length - 1].late).toBeLessThanOrEqual(25);
  });
  test('a failed task teaches nothing', async () => {
    const d = new TaskDurations();
    const r = await waitOn(0, d, { exitstatus: 'VM is locked (backup)' });
    expect(r.result.ok).toBe(false);
    expect(d.expected('qmdelsnapshot', 'pve1')).toBeUndefined();
  });
  test('the timeout holds with an estimate too', async () => {
    const d = new TaskDurations();
    d.observe('qmsnapshot', 'pve1', 50_000);
    let clock = 0;
    const slept: number[] = [];
    const wait = waitForTask(
      { get: async <T>() => ({ status: 'running' }) as T, sleep: async (ms) => void slept.push((clock += ms)), now: () => clock, durations: d },
      UPID('qmsnapshot'),
      { timeoutMs: 10_000 },
    );
    await expect(wait).rejects.toThrow('still running after 10 s');
    // polled every second on the way to the expected end, and gave up in time
    expect(slept).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  });
});
