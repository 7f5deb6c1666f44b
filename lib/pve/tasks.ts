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
import { AppError } from '../cli/errors.ts';
import { TaskError } from './errors.ts';
import { sleep as realSleep } from './retry.ts';
import type { Params, TaskResult, WaitOptions } from './types.ts';
import { node as nodeSeg, pvePath, upid as upidSeg } from './path.ts';
import { parseUpid } from './upid.ts';

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

export interface TaskStatus {
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
      const { ok, warnings } = interpretExitstatus(exitstatus);
      // a task that failed (often at once: "VM is locked") says nothing about how long one takes
      if (ok) durations.observe(type, node, observedDuration(lastRunning, elapsed));
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
    lastRunning = elapsed;
    const delay = pollDelay(now() - started, expected);
    if (now() - started + delay > timeoutMs) throw stillRunning(upid, timeoutMs);
    await sleep(delay);
    // the time the next poll is sent, measured, not summed: a busy event loop sleeps longer
    elapsed = now() - started;
  }
}

const stillRunning = (upid: string, timeoutMs: number) => new AppError(`task ${upid} still running after ${Math.round(timeoutMs / 1000)} s; gave up waiting (it may still finish)`);

/** The last `lines` lines of a task's log (two requests at most: total, then the tail). */
export async function taskLogTail(p: Pick<TaskPoller, 'get'>, node: string, upid: string, lines = 5): Promise<string[]> {
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
