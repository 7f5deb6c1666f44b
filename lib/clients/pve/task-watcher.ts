// Waiting for many tasks at once (TaskWatcher): one task list instead of a status poll
// per task. When to look is task-timing.ts; a task's result and its failure's log are
// read as a lone wait reads them (tasks.ts).
//
// A run waits for up to --max-parallel tasks at a time. Polling each one costs a request
// per task and poll; GET /cluster/tasks shows every node's tasks in one answer, so one
// read settles every waited task that has ended since the last one, whatever its node.
// Why that list and not each node's /nodes/{node}/tasks: the cluster list is what every
// node broadcasts through pmxcfs whenever one of its tasks starts or ends (pve-common
// PVE/RESTEnvironment.pm fork_worker and its worker reaper call active_workers, then
// broadcast_tasklist; pve-cluster PVE/Cluster.pm broadcast_tasklist), held in memory and
// refreshed at every request (pve-access-control PVE/RPCEnvironment.pm init_request calls
// cfs_update), so it is current within the cluster's message round trip, is answered by
// the node we talk to without a hop to the task's node, and covers all nodes at once:
// per-node lists would cost one read per node and tick, and a node runs only
// --max-per-node tasks at a time. What it holds (pve-manager PVE/API2/Cluster.pm `tasks`):
// per node the running tasks, then the latest ended ones, 25 entries in all, under 32 KiB;
// an ended task carries `endtime` and `status`, its exitstatus text ("OK", "WARNINGS: N"
// or the error, pve-common PVE/UPID.pm read_status). Without Sys.Audit on / it shows
// only the caller's own tasks, and for an API token none (the list names a token's tasks
// by the user alone), so a task the list does not show is polled on its own: correctness
// never depends on the list.
import { debug } from '../../core/log.ts';
import type { TaskResult, WaitOptions } from './types.ts';
import { parseUpid, type Upid } from './upid.ts';
import { MAX_POLL_MS, coalescedTick, firstPollAt, learntFirstAt, relookDelay, observedDuration, pollDelay, sharedExpectation, sharedTaskDurations, watchDelay, watchedDuration, type TaskDurations } from './task-timing.ts';
import { DEFAULT_TASK_TIMEOUT_MS, interpretExitstatus, monotonicNow, stillRunning, taskPath, taskResult, type TaskPoller, type TaskStatus } from './tasks.ts';

/** One entry of GET /cluster/tasks (or of a node's list). */
export interface TaskListEntry {
  upid?: string;
  node?: string;
  type?: string;
  starttime?: number;
  endtime?: number;
  status?: string;
}

export type ListView = { state: 'running' } | { state: 'ended'; exitstatus: string } | { state: 'ask' };

/**
 * What one list entry tells about its task. Running: no end time and no status (the
 * cluster list) or status RUNNING (a node's active list). Ended: the status is the
 * exitstatus. An ended entry without a status (an index line cut short) tells nothing
 * about the result: the task's own status is asked.
 */
export function listView(e: TaskListEntry): ListView {
  const status = typeof e.status === 'string' ? e.status.trim() : '';
  if (e.endtime === undefined && (status === '' || status.toUpperCase() === 'RUNNING')) return { state: 'running' };
  return status && status.toUpperCase() !== 'RUNNING' ? { state: 'ended', exitstatus: status } : { state: 'ask' };
}

/** A list read sent this long after a wait began must show its task, or it counts as missed. */
const LIST_GRACE_MS = 250;
/** A task missed by this many list reads is polled on its own from then on. */
const LIST_MISSES = 2;
/** List reads in a row that show none of the tasks they should: the list is no use to this client. */
const LIST_USELESS = 2;
/** A list read that fails this often in a row: back to polling each task. */
const LIST_FAILURES = 2;


export interface WatchPoller extends TaskPoller {
  /** counts one list read */
  onList?(): void;
  /** false: never read the list (pvesh, whose tasks have ended when their UPID is answered) */
  useList?: boolean;
  /** a cancellable timer; default setTimeout */
  timer?: (ms: number, fn: () => void) => () => void;
}

interface Waiter {
  upid: string;
  node: string;
  type: string;
  opts: WaitOptions;
  timeoutMs: number;
  started: number;
  expected?: number;
  /** when it is first looked at in a shared read (ms after its wait began) */
  firstAt: number;
  lastRunning?: number;
  /** when the task is to be looked at next (the client's clock) */
  nextAt: number;
  misses: number;
  /** polled on its own: the list did not show it */
  solo: boolean;
  /** waited for alone when it began: scheduled and measured as a lone poll */
  lone: boolean;
  /** its first look was learnt (nextFirstLook), and no look at or after it has seen it running yet */
  learnt: boolean;
  /** it had the type's estimate over all nodes (its node is one of those alike) */
  alike: boolean;
  resolve(r: TaskResult): void;
  reject(e: unknown): void;
}

const realTimer = (ms: number, fn: () => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * Waits for many tasks with one loop: each tick goes when the earliest waited task is due
 * (the schedule of pollDelay: just before its expected end, then short steps, never more
 * than 1 s apart) and reads the cluster's task list once when two or more tasks are
 * waited for, or polls the one task's status otherwise (one request either way). Every
 * task the list shows ended is settled; a failed one's log is read for the error.
 */
export class TaskWatcher {
  private readonly waiters = new Set<Waiter>();
  private looping = false;
  private wakeAt = Infinity;
  private wake?: () => void;
  private listOff: boolean;
  private useless = 0;
  private failures = 0;
  private readonly now: () => number;
  private readonly timer: (ms: number, fn: () => void) => () => void;
  private readonly durations: TaskDurations;

  constructor(private readonly p: WatchPoller, private readonly defaultTimeoutMs = DEFAULT_TASK_TIMEOUT_MS) {
    // monotonic: a wall clock stepped forward would time tasks out, one stepped back stall the loop
    this.now = p.now ?? monotonicNow;
    this.timer = p.timer ?? realTimer;
    this.durations = p.durations ?? sharedTaskDurations;
    this.listOff = p.useList === false;
  }

  /** whether list reads are still used (tests, debugging) */
  get listing(): boolean {
    return !this.listOff;
  }

  wait(upid: string, opts: WaitOptions = {}): Promise<TaskResult> {
    let parsed: Upid;
    try {
      parsed = parseUpid(upid);
    } catch (e) {
      return Promise.reject(e);
    }
    const { node, type } = parsed;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const own = this.durations.expected(type, node);
    const all = this.durations.expected(type, '');
    const expected = sharedExpectation(own, all);
    // the first look learnt for the tasks whose estimate it shares (its node's, or all
    // nodes' alike); nothing learnt yet: half a step after the expected end
    const alike = all !== undefined && expected === all;
    const learnt = this.durations.firstLook(type, alike ? '' : node);
    const firstAt = learntFirstAt(learnt, expected);
    // a task waited for alone is polled as a lone poll would (just before its expected end,
    // then short steps): with nothing to share the read with, that sees the end soonest
    const lone = this.waiters.size === 0 || this.listOff;
    const first = lone ? firstPollAt(expected) : firstAt;
    if (first > 0 && first > timeoutMs) return Promise.reject(stillRunning(upid, timeoutMs));
    const started = this.now();
    return new Promise<TaskResult>((resolve, reject) => {
      const w: Waiter = { upid, node, type, opts, timeoutMs, started, expected, firstAt, nextAt: started + first, misses: 0, solo: false, lone, learnt: learnt !== undefined, alike, resolve, reject };
      this.waiters.add(w);
      if (!this.looping) {
        this.looping = true;
        void this.loop();
      } else if (w.nextAt < this.wakeAt) this.wake?.();
    });
  }

  private async loop(): Promise<void> {
    // waits begun in the same turn (tasks started together) share the first look
    await Promise.resolve();
    if (this.waiters.size > 1 && !this.listOff) {
      for (const w of this.waiters) {
        if (!w.lone) continue;
        w.lone = false;
        w.nextAt = w.started + w.firstAt;
      }
    }
    try {
      while (this.waiters.size) {
        const next = this.nextTick();
        const now = this.now();
        if (next > now) {
          await this.sleepUntil(next, now);
          continue;
        }
        await this.tick();
      }
    } catch (e) {
      // never leave a caller hanging on a bug in here
      for (const w of this.waiters) this.settleError(w, e);
    } finally {
      this.looping = false;
    }
  }

  /**
   * When the next tick goes: when the earliest waiter is due; with the list in use, a
   * little later when more waiters fall due shortly after it, so that one read serves
   * them all. Tasks settled by one read start their successors together and end together
   * again, so groups of tasks that drift close merge and stay merged.
   */
  private nextTick(): number {
    const ws = [...this.waiters];
    const first = ws.reduce((a, w) => (w.nextAt < a.nextAt ? w : a));
    if (this.listOff || ws.filter((w) => !w.solo).length < 2 || first.solo) return first.nextAt;
    return coalescedTick(first.nextAt, first.expected, ws.filter((w) => !w.solo).map((w) => w.nextAt));
  }

  private sleepUntil(at: number, now: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.wake = undefined;
        this.wakeAt = Infinity;
        cancel();
        resolve();
      };
      this.wakeAt = at;
      this.wake = done;
      const cancel = this.timer(Math.max(0, at - now), done);
    });
  }

  private async tick(): Promise<void> {
    const sentAt = this.now();
    const due = [...this.waiters].filter((w) => w.nextAt <= sentAt);
    const listed = [...this.waiters].filter((w) => !w.solo);
    const covered = new Set<Waiter>();
    const work: Promise<void>[] = [];
    if (!this.listOff && listed.length >= 2 && due.some((w) => !w.solo)) {
      work.push(this.readList(listed, sentAt, covered));
    }
    await Promise.all(work);
    // the tasks the list did not answer for: their own status, when they are due
    await Promise.all(due.filter((w) => !covered.has(w) && this.waiters.has(w)).map((w) => this.poll(w, sentAt)));
  }

  private async readList(listed: Waiter[], sentAt: number, covered: Set<Waiter>): Promise<void> {
    let list: TaskListEntry[];
    try {
      this.p.onList?.();
      const data = await this.p.get<TaskListEntry[]>('/cluster/tasks');
      list = Array.isArray(data) ? data : [];
      this.failures = 0;
    } catch (e) {
      // the tasks are polled on their own this time; a list that keeps failing is dropped
      debug(`task list unavailable: ${(e as Error).message}`);
      if (++this.failures >= LIST_FAILURES) this.listOff = true;
      return;
    }
    const byUpid = new Map<string, TaskListEntry>();
    for (const e of list) if (e && typeof e.upid === 'string') byUpid.set(e.upid, e);
    let found = 0;
    let expectedToShow = 0;
    for (const w of listed) {
      if (!this.waiters.has(w)) continue;
      const e = byUpid.get(w.upid);
      const shouldShow = sentAt - w.started >= LIST_GRACE_MS;
      if (shouldShow) expectedToShow++;
      if (!e) {
        if (shouldShow && ++w.misses >= LIST_MISSES) {
          w.solo = true;
          w.nextAt = Math.min(w.nextAt, this.now());
        }
        continue;
      }
      found++;
      covered.add(w);
      const view = listView(e);
      const elapsed = sentAt - w.started;
      if (view.state === 'running') this.stillRunningAt(w, elapsed);
      else if (view.state === 'ended') this.ended(w, view.exitstatus, elapsed);
      else {
        w.solo = true;
        w.nextAt = this.now();
        covered.delete(w);
      }
    }
    if (found) this.useless = 0;
    else if (expectedToShow && ++this.useless >= LIST_USELESS) {
      debug('the cluster task list does not show this client\'s tasks; polling each task');
      this.listOff = true;
    }
  }

  private async poll(w: Waiter, sentAt: number): Promise<void> {
    let st: TaskStatus;
    try {
      this.p.onPoll?.();
      st = await this.p.get<TaskStatus>(`${taskPath(w.node, w.upid)}/status`);
    } catch (e) {
      this.settleError(w, e);
      return;
    }
    const elapsed = sentAt - w.started;
    if (st && st.status !== 'running') this.ended(w, String(st.exitstatus ?? 'unknown'), elapsed);
    else this.stillRunningAt(w, elapsed);
  }

  /** Seen running at `elapsed`: the next look follows the schedule, unless that is past the time-out. */
  private stillRunningAt(w: Waiter, elapsed: number): void {
    if (!this.waiters.has(w)) return;
    w.lastRunning = Math.max(w.lastRunning ?? 0, elapsed);
    const now = this.now() - w.started;
    // a learnt first look that finds the task running finds it just before its end (the
    // look is placed where few are missed): look again a short while later, so it goes on
    // with the tasks ended at that look rather than a step after them
    // (not a look held at 1 s, far before a longer task's end)
    const missedLearnt = w.learnt && !w.lone && elapsed >= w.firstAt && w.firstAt < MAX_POLL_MS;
    if (missedLearnt) w.learnt = false;
    const delay = w.lone ? pollDelay(now, w.expected) : missedLearnt ? relookDelay(w.expected) : watchDelay(now, w.expected, w.firstAt);
    if (now + delay > w.timeoutMs) {
      this.settleError(w, stillRunning(w.upid, w.timeoutMs));
      return;
    }
    w.nextAt = w.started + now + delay;
  }

  private ended(w: Waiter, exitstatus: string, stoppedAt: number): void {
    if (!this.waiters.delete(w)) return;
    // a task that failed (often at once: "VM is locked") says nothing about how long one takes
    if (interpretExitstatus(exitstatus).ok) {
      this.durations.observe(w.type, w.node, w.lone ? observedDuration(w.lastRunning, stoppedAt) : watchedDuration(w.lastRunning, stoppedAt, w.expected));
      if (!w.lone && w.expected !== undefined) this.durations.observeLook(w.type, w.node, w.firstAt, w.lastRunning, w.expected, w.alike);
    }
    taskResult(this.p, w.upid, w.node, exitstatus, w.opts).then(w.resolve, w.reject);
  }

  private settleError(w: Waiter, e: unknown): void {
    if (this.waiters.delete(w)) w.reject(e);
  }
}
