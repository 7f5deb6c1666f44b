// Waiting for many tasks with one task list: what a list entry tells, when the watcher
// looks, and the watcher itself against a scripted cluster on a virtual clock.
import { beforeEach, describe, expect, setSystemTime, test } from 'bun:test';
import { TaskError } from '../../lib/clients/pve/errors.ts';
import { TaskDurations, coalescedTick, learntFirstAt, nextFirstLook, relookDelay, sharedExpectation, sharedTaskDurations, watchDelay, watchFirstAt, watchedDuration } from '../../lib/clients/pve/task-timing.ts';
import { TaskWatcher, listView, type TaskListEntry } from '../../lib/clients/pve/task-watcher.ts';
import { setLogSink } from '../../lib/core/log.ts';

setLogSink(() => {});
beforeEach(() => sharedTaskDurations.clear());

const UPID = (i: number, node = 'pve1', type = 'qmsnapshot') => `UPID:${node}:0000ABC${i.toString(16).toUpperCase()}:0012F00D:6553F100:${type}:${100 + i}:root@pam:`;

describe('listView: what one entry of a task list says', () => {
  test.each([
    ['cluster list, running: no endtime, no status', { upid: 'U' }, { state: 'running' }],
    ['node active list, running', { upid: 'U', status: 'RUNNING' }, { state: 'running' }],
    ['ended OK', { upid: 'U', endtime: 5, status: 'OK' }, { state: 'ended', exitstatus: 'OK' }],
    ['ended with warnings', { upid: 'U', endtime: 5, status: 'WARNINGS: 2' }, { state: 'ended', exitstatus: 'WARNINGS: 2' }],
    ['ended with an error', { upid: 'U', endtime: 5, status: 'zfs error: out of space' }, { state: 'ended', exitstatus: 'zfs error: out of space' }],
    ['an error without endtime', { upid: 'U', status: 'VM is locked (backup)' }, { state: 'ended', exitstatus: 'VM is locked (backup)' }],
    ['ended, status missing: ask the task', { upid: 'U', endtime: 5 }, { state: 'ask' }],
    ['ended, status RUNNING (nonsense): ask the task', { upid: 'U', endtime: 5, status: 'RUNNING' }, { state: 'ask' }],
  ] as [string, TaskListEntry, unknown][])('%s', (_what, entry, view) => {
    expect(listView(entry)).toEqual(view as never);
  });
});

describe('watchFirstAt: half a step after the expected end', () => {
  test.each([
    [undefined, 0],
    [0, 5],
    [75, 80],
    [150, 155],
    [500, 513],
    [900, 923],
    [1000, 1000], // never more than 1 s before the first look
    [5000, 1000],
  ])('expected %p ms -> first look after %p ms', (expected, at) => {
    expect(watchFirstAt(expected)).toBe(at);
  });
});

describe('nextFirstLook: where few tasks alike are missed', () => {
  test.each([
    // where the first look stands, where it was for this task, last seen running, expected -> next
    [990, 990, 950, 1000, 989.875], // seen ended by its first look: a fortieth of a tenth of a step earlier
    [990, 990, undefined, 1000, 989.875], // never seen running: the same
    [990, 990, 990, 1000, 995], // seen running by its first look: a tenth of a step past that look
    [990, 990, 1015, 1000, 1020], // ... or past a later look that still saw it running
    [1000, 990, 990, 1000, 1000], // already past it: stays
    [490, 490, 490, 500, 492.5], // a 0.5 s task: steps of 25 ms
    [40, 40, 40, 50, 42], // at least 2 ms
    [505, 505, 599_990, 500, 507.5], // still running two steps past the expected end (a snapshot with RAM): an ordinary miss's raise
    [505, 505, 551, 500, 507.5],
    [505, 505, 550, 500, 552.5], // within two steps: past that look
  ])('at %p, used %p, running at %p, expected %p -> %p', (current, used, running, expected, next) => {
    expect(nextFirstLook(current, used, running, expected)).toBe(next);
  });
  test('settles where about one task in forty is missed', () => {
    // tasks whose ends (as a look's send time) are spread evenly over 990..1000 ms
    let at = 1000;
    let missed = 0;
    for (let i = 0; i < 4000; i++) {
      const end = 990 + ((i * 7919) % 1000) / 100;
      const miss = at < end;
      if (i >= 2000 && miss) missed++;
      at = nextFirstLook(at, at, miss ? at : undefined, 1000);
    }
    expect(missed / 2000).toBeGreaterThan(0.01);
    expect(missed / 2000).toBeLessThan(0.04);
    expect(at).toBeGreaterThan(997);
  });
  test('one outlier (10 minutes among 0.5 s tasks) does not hold the first look at its cap for good', () => {
    let at = 510;
    const used: number[] = [];
    for (let i = 0; i < 400; i++) {
      const end = i === 100 ? 600_000 : 500 + ((i * 7919) % 500) / 100;
      const look = learntFirstAt(at, 500);
      used.push(look);
      at = nextFirstLook(at, look, look < end ? (i === 100 ? end - 10 : look) : undefined, 500);
    }
    expect(used[99]).toBeLessThanOrEqual(506);
    expect(Math.max(...used.slice(200))).toBeLessThanOrEqual(508);
  });
});

describe('TaskDurations.observeLook', () => {
  test('a node with its own estimate (a slower one) does not move the look of the nodes alike', () => {
    const d = new TaskDurations();
    d.observeLook('qmsnapshot', 'pve1', 505, undefined, 500, true);
    for (let i = 0; i < 20; i++) d.observeLook('qmsnapshot', 'pve3', 3000, 3010, 3000, false);
    expect(d.firstLook('qmsnapshot', '')).toBeLessThanOrEqual(505);
    expect(d.firstLook('qmsnapshot', 'pve3')).toBe(3015);
  });
});

describe('learntFirstAt', () => {
  test.each([
    [undefined, 1000, 1000], // nothing learnt: watchFirstAt
    [undefined, 150, 155],
    [994.2, 1000, 995], // learnt: as learnt, rounded up
    [980.1, 960, 981], // later than watchFirstAt (984) where the estimate leans early
    [1080, 500, 550], // at most two steps past the expected end
    [1200, 1000, 1000], // never more than 1 s
  ])('learnt %p, expected %p -> %p', (learnt, expected, at) => {
    expect(learntFirstAt(learnt, expected)).toBe(at);
  });
});

describe('relookDelay: a tenth of a step after a learnt first look that missed', () => {
  test.each([
    [1000, 5],
    [500, 4], // at least 4 ms
    [5000, 5],
    [undefined, 4],
  ])('expected %p -> %p ms', (expected, ms) => {
    expect(relookDelay(expected)).toBe(ms);
  });
});

describe('watchedDuration', () => {
  test.each([
    [140, 155, 150, 147.5], // seen running just before, ended just after: the middle
    [0, 155, 150, 147.5], // not looked at near the end: 3/4 of a step before the look that saw it ended
    [undefined, 155, 150, 147.5],
    [undefined, 400, undefined, 300], // nothing learnt yet: a quarter less, as a lone poll guesses
    [undefined, 0, 0, 0],
  ])('running at %p, ended by %p, expected %p -> %p', (running, stopped, expected, ms) => {
    expect(watchedDuration(running, stopped, expected)).toBe(ms);
  });
});

describe('sharedExpectation: nodes alike share the type\'s estimate', () => {
  test.each([
    [undefined, undefined, undefined],
    [undefined, 150, 150], // a node not seen yet
    [145, 150, 150], // within 10%: the same first look as the other nodes
    [134, 150, 134], // more than 10% apart: its own
    [5, 12, 12], // at least 10 ms
    [3000, 1000, 3000], // a slow node keeps its own
  ])('node %p ms, all nodes %p ms -> %p ms', (node, all, expected) => {
    expect(sharedExpectation(node, all)).toBe(expected);
  });
});

describe('watchDelay: the next look at a task seen running', () => {
  test.each([
    // elapsed, expected, delay
    [0, undefined, 50], // nothing learnt: 50 ms, then a quarter of the time gone by plus 25 ms
    [125, undefined, 56],
    [851, undefined, 238],
    [0, 150, 155], // up to the first look, half a step after the expected end
    [150, 150, 5],
    [155, 150, 5], // then steps of 2.5% (at least 4 ms) plus a quarter of the overrun
    [200, 150, 17], // widening by a quarter of the overrun
    [0, 1000, 1000], // never more than 1 s
    [1025, 1000, 31],
    [10_000, 1000, 1000],
    [1000, 5000, 1000], // a first look held at 1 s: 1 s waits up to half a step after the expected end
    [4500, 5000, 525],
    [5050, 5000, 63],
  ])('%p ms gone by, expected %p ms -> next look in %p ms', (elapsed, expected, delay) => {
    expect(watchDelay(elapsed, expected)).toBe(delay);
  });
});

describe('coalescedTick: one read for the waiters due close together', () => {
  test.each([
    [100, 150, [100, 105, 114, 116, 300], 114], // within 15 ms (10% of 150)
    [100, 20, [100, 109, 111], 109], // at least 10 ms
    [100, 5000, [100, 120, 126], 120], // at most 25 ms
    [100, undefined, [100, 120], 100],
    [100, 150, [100], 100],
  ])('first %p, expected %p, due %p -> tick at %p', (first, expected, due, at) => {
    expect(coalescedTick(first, expected, due)).toBe(at);
  });
});

/** A cluster on a virtual clock: tasks end at given times; the list and /status answer from it. */
function cluster(tasks: { upid: string; endAt: number; exitstatus?: string; log?: string[] }[], opts: { listShows?: boolean; listFails?: boolean } = {}) {
  let clock = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const calls: string[] = [];
  const byUpid = new Map(tasks.map((t) => [t.upid, t]));
  const get = async <T>(path: string): Promise<T> => {
    calls.push(path);
    if (path === '/cluster/tasks') {
      if (opts.listFails) throw new Error('596 connection timed out');
      if (opts.listShows === false) return [] as T;
      return tasks.map((t) => (clock >= t.endAt ? { upid: t.upid, endtime: 1, status: t.exitstatus ?? 'OK' } : { upid: t.upid })) as T;
    }
    const upid = decodeURIComponent(path.split('/')[4]);
    const t = byUpid.get(upid)!;
    if (path.endsWith('/log')) return (t.log ?? ['no content']).map((l, i) => ({ n: i + 1, t: l })) as T;
    return (clock >= t.endAt ? { status: 'stopped', exitstatus: t.exitstatus ?? 'OK' } : { status: 'running' }) as T;
  };
  const watcher = (durations = new TaskDurations()) =>
    new TaskWatcher({
      get,
      now: () => clock,
      durations,
      timer: (ms, fn) => {
        const t = { at: clock + ms, fn, live: true };
        timers.push(t);
        return () => {
          t.live = false;
        };
      },
    });
  /** run the virtual clock until `p` settles */
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 100_000 && !done; i++) {
      for (let k = 0; k < 20; k++) await Promise.resolve();
      if (done) break;
      const next = timers.filter((t) => t.live).sort((a, b) => a.at - b.at)[0];
      if (!next) continue;
      next.live = false;
      clock = Math.max(clock, next.at);
      next.fn();
    }
    return p;
  };
  return { calls, watcher, run, now: () => clock, lists: () => calls.filter((c) => c === '/cluster/tasks').length, polls: () => calls.filter((c) => c.endsWith('/status')).length };
}

describe('TaskWatcher', () => {
  test('nine tasks at once: list reads only, every result right', async () => {
    const tasks = Array.from({ length: 9 }, (_, i) => ({ upid: UPID(i), endAt: 400 + i, exitstatus: i === 4 ? 'WARNINGS: 1' : 'OK' }));
    const c = cluster(tasks);
    const w = c.watcher();
    const results = await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))));
    expect(results.map((r) => [r.ok, r.warnings])).toEqual(tasks.map((_, i) => [true, i === 4 ? 1 : 0]));
    // 0, 50, 100, 150, 213, 291, 389, 511 ms: the fast start, once for all nine; a last one
    // left alone would poll its own status, which costs the same one request
    expect(c.lists() + c.polls()).toBeLessThanOrEqual(8);
    expect(c.polls()).toBeLessThanOrEqual(1);
  });
  test('a failed task: the same error as a lone wait, with the end of its log', async () => {
    const log = ['starting', "snapshotting 'drive-scsi0'", 'zfs error: out of space', 'TASK ERROR: zfs error: out of space'];
    const tasks = [
      { upid: UPID(1), endAt: 100 },
      { upid: UPID(2), endAt: 100, exitstatus: 'zfs error: out of space', log },
    ];
    const c = cluster(tasks);
    const w = c.watcher();
    const [ok, failed] = await c.run(Promise.allSettled(tasks.map((t) => w.wait(t.upid))));
    expect(ok.status).toBe('fulfilled');
    const err = (failed as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(TaskError);
    expect(err.message).toBe(`task ${UPID(2)} failed: zfs error: out of space (log: starting | snapshotting 'drive-scsi0')`);
    expect(c.calls.filter((p) => p.endsWith('/log')).length).toBe(1);
  });
  test('one task alone: its own status, no list', async () => {
    const c = cluster([{ upid: UPID(1), endAt: 200 }]);
    expect((await c.run(c.watcher().wait(UPID(1)))).ok).toBe(true);
    expect(c.lists()).toBe(0);
    expect(c.polls()).toBe(4); // 0, 50, 125, 238
  });
  test('a list that shows none of the tasks (a token without Sys.Audit on /): polled on their own, the list dropped', async () => {
    const tasks = Array.from({ length: 4 }, (_, i) => ({ upid: UPID(i), endAt: 3000 }));
    const c = cluster(tasks, { listShows: false });
    const w = c.watcher();
    const results = await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(w.listing).toBe(false);
    // reads in the first 250 ms (0, 50, 100, 150, 213) do not count a task as missed; two misses then
    expect(c.lists()).toBeLessThanOrEqual(7);
  });
  test('a list that fails: the tasks are polled, the list dropped after two failures', async () => {
    const tasks = Array.from({ length: 3 }, (_, i) => ({ upid: UPID(i), endAt: 300 }));
    const c = cluster(tasks, { listFails: true });
    const w = c.watcher();
    expect((await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))))).every((r) => r.ok)).toBe(true);
    expect(c.lists()).toBe(2);
    expect(w.listing).toBe(false);
  });
  test('learnt durations: one read just after the expected end settles a batch', async () => {
    const d = new TaskDurations();
    for (let i = 0; i < 5; i++) d.observe('qmsnapshot', 'pve1', 900);
    const tasks = Array.from({ length: 6 }, (_, i) => ({ upid: UPID(i), endAt: 900 + i }));
    const c = cluster(tasks);
    const w = c.watcher(d);
    await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))));
    expect(c.lists()).toBe(1);
    expect(c.polls()).toBe(0);
  });
  test('a learnt first look that finds tasks running looks again a tenth of a step later', async () => {
    const d = new TaskDurations();
    for (let i = 0; i < 5; i++) d.observe('qmsnapshot', 'pve1', 900);
    // learnt: tasks alike were seen ended from 895 ms on; these end a little later
    d.observeLook('qmsnapshot', 'pve1', 895, undefined, 900, true);
    const tasks = Array.from({ length: 6 }, (_, i) => ({ upid: UPID(i), endAt: i < 3 ? 894 : 897 }));
    const c = cluster(tasks);
    const w = c.watcher(d);
    await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))));
    // 895 (three ended), 900 (the rest; a step of 22.5 ms would look at 917)
    expect(c.lists()).toBe(2);
    expect(c.now()).toBe(900);
    // the miss moved the first look past it: 900, not 895
    expect(d.firstLook('qmsnapshot', 'pve1')).toBeGreaterThanOrEqual(899);
  });
  test.each([false, true])('tasks expected to take 5 s (first look learnt: %p): looks 1 s apart up to the expected end, not 50 ms', async (learnt) => {
    const d = new TaskDurations();
    for (let i = 0; i < 5; i++) d.observe('qmsnapshot', 'pve1', 5000);
    if (learnt) d.observeLook('qmsnapshot', 'pve1', 1000, 4990, 5000, true);
    const tasks = Array.from({ length: 3 }, (_, i) => ({ upid: UPID(i), endAt: 5010 }));
    const c = cluster(tasks);
    const w = c.watcher(d);
    expect((await c.run(Promise.all(tasks.map((t) => w.wait(t.upid))))).every((r) => r.ok)).toBe(true);
    // 1000, 2000, 3000, 4000, 5000 (running), then a step or two: as a lone poll would (tasks.ts)
    expect(c.lists() + c.polls()).toBeLessThanOrEqual(8);
    expect(c.now()).toBeLessThanOrEqual(5060);
  });
  test('the time-out names the task, as a lone wait does', async () => {
    const tasks = [
      { upid: UPID(1), endAt: 1e9 },
      { upid: UPID(2), endAt: 1e9 },
    ];
    const c = cluster(tasks);
    const w = c.watcher();
    const out = await c.run(Promise.allSettled(tasks.map((t) => w.wait(t.upid, { timeoutMs: 10_000 }))));
    for (const [i, r] of out.entries()) expect((r as PromiseRejectedResult).reason.message).toBe(`task ${tasks[i].upid} still running after 10 s; gave up waiting (it may still finish)`);
  });
  test('the wall clock stepped forward a day while tasks run (NTP, a resumed VM): no false time-out', async () => {
    const tasks = [UPID(1), UPID(2)];
    let reads = 0;
    const w = new TaskWatcher({
      durations: new TaskDurations(),
      get: async <T>(): Promise<T> => {
        if (++reads === 1) setSystemTime(new Date(Date.now() + 86_400_000));
        return tasks.map((upid) => (reads === 1 ? { upid } : { upid, endtime: 1, status: 'OK' })) as T;
      },
    });
    try {
      const out = await Promise.all(tasks.map((u) => w.wait(u, { timeoutMs: 60_000 })));
      expect(out.every((r) => r.ok)).toBe(true);
    } finally {
      setSystemTime();
    }
  });
  test('a bad UPID is refused before any request', async () => {
    const c = cluster([]);
    await expect(c.watcher().wait('UPID:nope')).rejects.toThrow("unable to parse task id 'UPID:nope'");
    expect(c.calls.length).toBe(0);
  });
});
