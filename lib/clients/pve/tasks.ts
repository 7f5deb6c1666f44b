// Waiting for a task: poll its status, then read its exitstatus. On failure the end of
// the task log goes into the error, because the exitstatus alone is often just the last
// line. When to poll is task-timing.ts; many tasks at once are waited for by the watcher
// (task-watcher.ts), which uses the result and error reading here.
import { AppError } from '../../core/errors.ts';
import { TaskError } from './errors.ts';
import { sleep as realSleep } from './retry.ts';
import type { Params, TaskResult, WaitOptions } from './types.ts';
import { node as nodeSeg, pvePath, upid as upidSeg } from './path.ts';
import { parseUpid } from './upid.ts';
import { firstPollAt, observedDuration, pollDelay, sharedTaskDurations, type TaskDurations } from './task-timing.ts';


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


export const DEFAULT_TASK_TIMEOUT_MS = 10 * 60_000;

// PVE takes the UPID as it is in the path (colons, @ and ! are legal there), and pvesh needs it so
export const taskPath = (node: string, upid: string) => pvePath('nodes', nodeSeg(node), 'tasks', upidSeg(upid));

/** How long a wait has lasted is measured on this clock, never the wall clock (which NTP steps). */
export const monotonicNow = () => performance.now();

export async function waitForTask(p: TaskPoller, upid: string, opts: WaitOptions = {}, defaultTimeoutMs = DEFAULT_TASK_TIMEOUT_MS): Promise<TaskResult> {
  const { node, type } = parseUpid(upid);
  const sleep = p.sleep ?? realSleep;
  // a monotonic clock: a wall clock stepped forward (NTP, a resumed VM) would time the task out
  const now = p.now ?? monotonicNow;
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
export async function taskResult(p: Pick<TaskPoller, 'get'>, upid: string, node: string, exitstatus: string, opts: WaitOptions): Promise<TaskResult> {
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

export const stillRunning = (upid: string, timeoutMs: number) => new AppError(`task ${upid} still running after ${Math.round(timeoutMs / 1000)} s; gave up waiting (it may still finish)`);

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
