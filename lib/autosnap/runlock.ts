// Two runs never overlap on one host (a slow run at :00 and the timer's next run at :15
// would otherwise snapshot and prune the same guests at once). The lock is a file created
// exclusively (O_EXCL, atomic on local file systems) holding the owner's pid; a file whose
// pid no longer runs is stale and taken over.
import fs from 'node:fs';
import path from 'node:path';
import { AppError, UsageError } from '../cli/errors.ts';

export const DEFAULT_LOCK_FILE = '/run/autosnap/autosnap.lock';

export interface RunLock {
  path: string;
  release(): void;
}

export class LockBusyError extends AppError {
  readonly pid: number;
  constructor(file: string, pid: number) {
    super(`another autosnap run is in progress (pid ${pid}, lock file ${file}); use --wait to wait for it`);
    this.pid = pid;
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    // EPERM: the process exists but belongs to someone else
    return e.code === 'EPERM';
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** One attempt: the lock, or the pid of the live owner. */
export function tryLock(file: string): RunLock | { busyPid: number } {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  } catch (e: any) {
    throw new UsageError(`lock file ${file}: cannot create its directory (${e.code ?? e.message}); use --lock-file`);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      let released = false;
      return {
        path: file,
        release() {
          if (released) return;
          released = true;
          // only remove our own lock: a stale-lock takeover by another run must survive
          if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (e: any) {
      if (e.code !== 'EEXIST') throw new UsageError(`lock file ${file}: ${e.code ?? e.message}; use --lock-file`);
    }
    const pid = readPid(file);
    if (pid !== undefined && pid !== process.pid && pidAlive(pid)) return { busyPid: pid };
    // An empty file may be a run between create and write: give it a moment once.
    if (pid === undefined && attempt === 0) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      continue;
    }
    fs.rmSync(file, { force: true });
  }
  throw new AppError(`lock file ${file}: could not be taken after removing a stale lock`);
}

/** Take the lock; when busy, fail at once or (with wait) poll until it is free. */
export async function acquireRunLock(file: string, opts: { wait: boolean; pollMs?: number; onWait?: (pid: number) => void }): Promise<RunLock> {
  let told = false;
  for (;;) {
    const r = tryLock(file);
    if ('release' in r) return r;
    if (!opts.wait) throw new LockBusyError(file, r.busyPid);
    if (!told) opts.onWait?.(r.busyPid);
    told = true;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 1000));
  }
}
