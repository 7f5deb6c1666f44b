// Waiting for a task: poll its status (fast at first, backing off), then read its
// exitstatus. On failure the end of the task log goes into the error, because the
// exitstatus alone is often just the last line.
import { AppError } from '../cli/errors.ts';
import { TaskError } from './errors.ts';
import { nextPollDelay, sleep as realSleep } from './retry.ts';
import type { Params, TaskResult, WaitOptions } from './types.ts';
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
}

export const DEFAULT_TASK_TIMEOUT_MS = 10 * 60_000;

// PVE takes the UPID as it is in the path (colons, @ and ! are legal there), and pvesh needs it so
const taskPath = (node: string, upid: string) => `/nodes/${node}/tasks/${upid}`;

export async function waitForTask(p: TaskPoller, upid: string, opts: WaitOptions = {}, defaultTimeoutMs = DEFAULT_TASK_TIMEOUT_MS): Promise<TaskResult> {
  const { node } = parseUpid(upid);
  const sleep = p.sleep ?? realSleep;
  const now = p.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const started = now();
  let delay: number | undefined;
  for (;;) {
    p.onPoll?.();
    const st = await p.get<TaskStatus>(`${taskPath(node, upid)}/status`);
    if (st && st.status !== 'running') {
      const exitstatus = String(st.exitstatus ?? 'unknown');
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
    delay = nextPollDelay(delay);
    if (now() - started + delay > timeoutMs) {
      throw new AppError(`task ${upid} still running after ${Math.round(timeoutMs / 1000)} s; gave up waiting (it may still finish)`);
    }
    await sleep(delay);
  }
}

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
