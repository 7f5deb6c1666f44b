// Waiting for a task: poll its status, then read its exitstatus. On failure the end of
// the task log goes into the error, because the exitstatus alone is often just the last
// line.
//
// When to poll: a task's end is only seen by a poll, so every poll interval after the end
// is time lost (for a 0.5 s snapshot delete, a plain 50 ms x1.5 backoff notices the end
// ~35% late), while polling constantly floods the node. Snapshot tasks of one type on one
// node take much the same time, so the client learns how long they take from the tasks
// it has already waited for, polls first just before the expected end, then in short
// steps that widen the longer the task overruns (never more than 1 s apart).
import { AppError } from '../../core/errors.ts';
import { debug } from '../../core/log.ts';
import { TaskError } from './errors.ts';
import { sleep as realSleep } from './retry.ts';
import type { Params, TaskResult, WaitOptions } from './types.ts';
import { node as nodeSeg, pvePath, upid as upidSeg } from './path.ts';
import { parseUpid, type Upid } from './upid.ts';

export interface ExitStatus {
  ok: boolean;
  warnings: number;
}

/** "OK" → success; "WARNINGS: N" → success with N warnings; anything else is the error. */
export function interpretExitstatus(exitstatus: string | undefined | null): ExitStatus {
  const s = String(exitstatus ?? '').trim();
  if (s === 'OK') return { ok: true, warnings: 0 };
  const w = /^WARNINGS:\s*(\d+)$/.exec(s);
  if (w) return { ok: true, warnings: Number(w[1]) };
  return { ok: false, warnings: 0 };
}

interface TaskStatus {
  status: 'running' | 'stopped' | string;
  exitstatus?: string;
  node?: string;
  type?: string;
  id?: string;
}

/** What waitTask needs from a client; kept small so it is easy to drive in tests. */
export interface TaskPoller {
  get<T>(path: string, params?: Params): Promise<T>;
  onPoll?(): void;
  sleep?(ms: number): Promise<void>;
  now?(): number;
  /** what is known about task durations; default: one estimate shared by the process */
  durations?: TaskDurations;
}

/** No poll waits longer than this, however long the task runs: its end is seen within 1 s. */
export const MAX_POLL_MS = 1_000;

/**
 * The delay before the next status poll, `elapsed` ms after waiting began, for a task
 * expected to end after `expected` ms (undefined: nothing learnt yet). Pure, so the
 * schedule is a table in the tests.
 *
 * - Nothing learnt: polls at 0, 50, 125, 237, 406, ... ms (each wait half of the time
 *   gone by plus 50 ms: fast for a task that ends at once, as pvesh's do), up to 1 s.
 * - Learnt: the first poll a little before the expected end (5% or at most 50 ms early,
 *   so a task as fast as the last ones is usually seen running once, then ended), then
 *   steps of 5% of the expected duration (10..50 ms), plus a quarter of the overrun once the
 *   expected end has passed.
 * - Never more than 1 s between polls, also before the expected end: an estimate can be
 *   wrong (a short task after long ones), and a task is never noticed more than 1 s late.
 */
export function pollDelay(elapsed: number, expected?: number): number {
  if (expected === undefined) return Math.round(Math.min(MAX_POLL_MS, Math.max(50, (elapsed + 100) / 2)));
  const step = Math.min(50, Math.max(10, expected / 20));
  const firstAt = Math.max(0, expected - Math.min(50, expected / 20));
  // rounded up: a wait rounded down to 0 would poll again and again before the expected end
  if (elapsed < firstAt) return Math.min(MAX_POLL_MS, Math.ceil(firstAt - elapsed));
  return Math.round(Math.min(MAX_POLL_MS, step + Math.max(0, elapsed - expected) / 4));
}

/** When the first poll goes, for a task expected to end after `expected` ms (0: at once). */
export function firstPollAt(expected: number | undefined): number {
  if (expected === undefined) return 0;
  return Math.min(MAX_POLL_MS, Math.ceil(Math.max(0, expected - Math.min(50, expected / 20))));
}

/**
 * When a task ended, as far as the polls tell: after the last poll that saw it running
 * (`lastRunning`, ms after waiting began) and by the first that saw it stopped
 * (`stoppedAt`): the middle of that window. When the very first poll already saw it
 * stopped, the task was faster than expected by an unknown amount: a quarter less is a
 * guess the median ignores once but follows when it keeps happening (a faster node).
 */
export function observedDuration(lastRunning: number | undefined, stoppedAt: number): number {
  return lastRunning === undefined ? stoppedAt * 0.75 : (lastRunning + stoppedAt) / 2;
}

/**
 * Running estimates of task durations per task type and node (with the type's estimate
 * over all nodes for a node not seen yet): the median of the last few successful tasks,
 * so a few long outliers (a snapshot with RAM, a big disk) do not delay the polls of all
 * the ordinary ones after them, while a node that slows down for good is followed.
 */
export class TaskDurations {
  private readonly byKey = new Map<string, number[]>();
  constructor(private readonly window = 9) {}

  expected(type: string, node: string): number | undefined {
    const list = this.byKey.get(`${type}@${node}`) ?? this.byKey.get(type);
    if (!list?.length) return undefined;
    const sorted = [...list].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  }

  /** forget everything (tests; a client pointed at another cluster) */
  clear(): void {
    this.byKey.clear();
  }

  observe(type: string, node: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    for (const key of [`${type}@${node}`, type]) {
      const list = this.byKey.get(key) ?? [];
      list.push(ms);
      if (list.length > this.window) list.shift();
      this.byKey.set(key, list);
    }
  }
}

/** One estimate per process: a run talks to one cluster, and its tasks teach each other. */
export const sharedTaskDurations = new TaskDurations();

export const DEFAULT_TASK_TIMEOUT_MS = 10 * 60_000;

// PVE takes the UPID as it is in the path (colons, @ and ! are legal there), and pvesh needs it so
const taskPath = (node: string, upid: string) => pvePath('nodes', nodeSeg(node), 'tasks', upidSeg(upid));

export async function waitForTask(p: TaskPoller, upid: string, opts: WaitOptions = {}, defaultTimeoutMs = DEFAULT_TASK_TIMEOUT_MS): Promise<TaskResult> {
  const { node, type } = parseUpid(upid);
  const sleep = p.sleep ?? realSleep;
  const now = p.now ?? Date.now;
  const durations = p.durations ?? sharedTaskDurations;
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const started = now();
  const expected = durations.expected(type, node);
  let elapsed = 0;
  let lastRunning: number | undefined;
  // with an estimate the first poll waits for the expected end; without, it goes at once
  const first = firstPollAt(expected);
  if (first > 0) {
    if (first > timeoutMs) throw stillRunning(upid, timeoutMs);
    await sleep(first);
    elapsed = now() - started;
  }
  for (;;) {
    p.onPoll?.();
    const st = await p.get<TaskStatus>(`${taskPath(node, upid)}/status`);
    if (st && st.status !== 'running') {
      const exitstatus = String(st.exitstatus ?? 'unknown');
      // a task that failed (often at once: "VM is locked") says nothing about how long one takes
      if (interpretExitstatus(exitstatus).ok) durations.observe(type, node, observedDuration(lastRunning, elapsed));
      return taskResult(p, upid, node, exitstatus, opts);
    }
    lastRunning = elapsed;
    const delay = pollDelay(now() - started, expected);
    if (now() - started + delay > timeoutMs) throw stillRunning(upid, timeoutMs);
    await sleep(delay);
    // the time the next poll is sent, measured, not summed: a busy event loop sleeps longer
    elapsed = now() - started;
  }
}

/** The result of a task that ended with `exitstatus`; a failure reads the end of the log and throws (unless told not to). */
async function taskResult(p: Pick<TaskPoller, 'get'>, upid: string, node: string, exitstatus: string, opts: WaitOptions): Promise<TaskResult> {
  const { ok, warnings } = interpretExitstatus(exitstatus);
  const result: TaskResult = { upid, node, exitstatus, ok, warnings };
  if (!ok) {
    result.logTail = await taskLogTail(p, node, upid).catch(() => []);
    if (opts.throwOnFailure !== false) {
      // the log's last line repeats the exitstatus as "TASK ERROR: ..."; show what led to it
      const tail = result.logTail.filter((l) => l !== exitstatus && !l.startsWith('TASK ERROR:'));
      const extra = tail.length ? ` (log: ${tail.slice(-3).join(' | ')})` : '';
      throw new TaskError(upid, exitstatus, result.logTail, `task ${upid} failed: ${exitstatus}${extra}`);
    }
  }
  return result;
}

const stillRunning = (upid: string, timeoutMs: number) => new AppError(`task ${upid} still running after ${Math.round(timeoutMs / 1000)} s; gave up waiting (it may still finish)`);

/** The last `lines` lines of a task's log (two requests at most: total, then the tail). */
async function taskLogTail(p: Pick<TaskPoller, 'get'>, node: string, upid: string, lines = 5): Promise<string[]> {
  // the total is not part of the data, so page forward keeping only the end; snapshot task
  // logs are short and this is one request
  const page = 1000;
  let tail: string[] = [];
  for (let start = 0; start < 100 * page; start += page) {
    const entries = await p.get<{ n: number; t: string }[]>(`${taskPath(node, upid)}/log`, { start, limit: page });
    const list = Array.isArray(entries) ? entries : [];
    tail = [...tail, ...list.map((e) => String(e.t ?? '')).filter((t) => t && t !== 'no content')].slice(-lines);
    if (list.length < page) break;
  }
  return tail;
}

// ---------------------------------------------------------------------------------------
// Many tasks at once: one task list instead of a status poll per task.
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

/**
 * The tick for waiters due at `dueTimes` when the earliest is due at `first` (expected to
 * take `expected` ms): the latest due time within a window after it (10% of the
 * expected duration, 10..25 ms), so that one list read serves them all. The window
 * absorbs the jitter between tasks that started together (a busy client or node, a
 * burst of writes answered one after the other), which would otherwise split them over
 * several reads for good; it is bounded in ms because that jitter does not grow with
 * the task, while every ms of it delays the early tasks' successors. Pure, for the tests.
 */
export function coalescedTick(first: number, expected: number | undefined, dueTimes: number[]): number {
  const window = Math.min(25, Math.max(10, (expected ?? 0) / 10));
  let at = first;
  for (const t of dueTimes) if (t > at && t <= first + window) at = t;
  return at;
}

/** The short step of pollDelay for a task expected to take `expected` ms. */
const stepOf = (expected: number) => Math.min(50, Math.max(10, expected / 20));

/**
 * When the watcher first looks at a task expected to end after `expected` ms: half a
 * step after the expected end (0: at once; nothing learnt: at once, then pollDelay's fast
 * start). Looking just before the end, as a lone poll does, costs a second read for every
 * task; the list reads for many tasks at once, and tasks settled together end together,
 * so one read just after the end settles them all.
 */
export function watchFirstAt(expected: number | undefined): number {
  if (expected === undefined) return 0;
  return Math.min(MAX_POLL_MS, Math.ceil(expected + stepOf(expected) / 2));
}

/**
 * The duration the watcher expects of a task: its node's estimate, or the type's over all
 * nodes when the two are within 10% (at least 10 ms) of each other. Nodes alike then give
 * their tasks the same first look, so one read settles them all, and tasks settled
 * together go on together; a node clearly faster or slower than the rest keeps its own.
 */
export function sharedExpectation(node: number | undefined, all: number | undefined): number | undefined {
  if (node === undefined || all === undefined) return node ?? all;
  return Math.abs(node - all) <= Math.max(10, all / 10) ? all : node;
}

/**
 * How long a watched task took, as far as the looks tell: the middle of the last look
 * that saw it running and the first that saw it ended, when those are at most two steps
 * apart. Further apart (the task was not looked at just before its end), the end lies
 * somewhere in a wide window: three quarters of a step before the look that saw it ended
 * is taken, which pulls the estimate down a little each time until a look lands just
 * before the end again and measures it; so the first look stays close behind the end.
 */
export function watchedDuration(lastRunning: number | undefined, stoppedAt: number, expected: number | undefined): number {
  const step = stepOf(expected ?? stoppedAt);
  if (lastRunning !== undefined && stoppedAt - lastRunning <= 2 * step) return (lastRunning + stoppedAt) / 2;
  return expected === undefined ? observedDuration(lastRunning, stoppedAt) : Math.max(0, stoppedAt - 0.75 * step);
}

/**
 * The delay before the next look at a task that shares its reads, seen running `elapsed`
 * ms after its wait began: up to its first look, then steps of 2.5% of the expected
 * duration (4..50 ms) widening by a quarter of the overrun, never more than 1 s; nothing
 * learnt: pollDelay's fast start. Finer than a lone poll's steps: the read is shared.
 */
export function watchDelay(elapsed: number, expected: number | undefined): number {
  if (expected === undefined) return pollDelay(elapsed);
  const first = watchFirstAt(expected);
  if (elapsed < first) return Math.min(MAX_POLL_MS, first - elapsed);
  return Math.round(Math.min(MAX_POLL_MS, Math.min(50, Math.max(4, expected / 40)) + Math.max(0, elapsed - expected) / 4));
}

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
  lastRunning?: number;
  /** when the task is to be looked at next (the client's clock) */
  nextAt: number;
  misses: number;
  /** polled on its own: the list did not show it */
  solo: boolean;
  /** waited for alone when it began: scheduled and measured as a lone poll */
  lone: boolean;
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
    this.now = p.now ?? Date.now;
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
    const expected = sharedExpectation(this.durations.expected(type, node), this.durations.expected(type, ''));
    // a task waited for alone is polled as a lone poll would (just before its expected end,
    // then short steps): with nothing to share the read with, that sees the end soonest
    const lone = this.waiters.size === 0 || this.listOff;
    const first = lone ? firstPollAt(expected) : watchFirstAt(expected);
    if (first > 0 && first > timeoutMs) return Promise.reject(stillRunning(upid, timeoutMs));
    const started = this.now();
    return new Promise<TaskResult>((resolve, reject) => {
      const w: Waiter = { upid, node, type, opts, timeoutMs, started, expected, nextAt: started + first, misses: 0, solo: false, lone, resolve, reject };
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
        w.nextAt = w.started + watchFirstAt(w.expected);
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
    const delay = w.lone ? pollDelay(now, w.expected) : watchDelay(now, w.expected);
    if (now + delay > w.timeoutMs) {
      this.settleError(w, stillRunning(w.upid, w.timeoutMs));
      return;
    }
    w.nextAt = w.started + now + delay;
  }

  private ended(w: Waiter, exitstatus: string, stoppedAt: number): void {
    if (!this.waiters.delete(w)) return;
    // a task that failed (often at once: "VM is locked") says nothing about how long one takes
    if (interpretExitstatus(exitstatus).ok) this.durations.observe(w.type, w.node, w.lone ? observedDuration(w.lastRunning, stoppedAt) : watchedDuration(w.lastRunning, stoppedAt, w.expected));
    taskResult(this.p, w.upid, w.node, exitstatus, w.opts).then(w.resolve, w.reject);
  }

  private settleError(w: Waiter, e: unknown): void {
    if (this.waiters.delete(w)) w.reject(e);
  }
}
