// Two runs never overlap on one host (a slow run at :00 and the timer's next run at :15
// would otherwise snapshot and prune the same guests at once). The lock is a file created
// exclusively (O_EXCL, atomic on local file systems) holding the owner's pid; a file whose
// pid no longer runs is stale and taken over. Taking over is serialised by a second
// exclusive file (`<lock>.break`), and the stale file is removed only if it is still the
// very file found stale (same inode, same content): otherwise two runs that both saw the
// stale lock could each remove it, the second removing the first one's fresh lock. A lock
// file holding no pid (empty after a grace, or garbage) is refused with exit 2, not removed.
import fs from 'node:fs';
import path from 'node:path';
import { AppError, EXIT, UsageError } from '../../core/errors.ts';

export const DEFAULT_LOCK_FILE = '/run/autosnap/autosnap.lock';

export interface RunLock {
  path: string;
  release(): void;
}

export class LockBusyError extends AppError {
  readonly pid: number;
  constructor(file: string, pid: number) {
    // its own exit code: nothing was touched, so "some guest failed" (1) would mislead monitoring
    super(`another autosnap run is in progress (pid ${pid}, lock file ${file}); use --wait to wait for it`, EXIT.BUSY);
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

interface Seen {
  ino: number;
  mtimeMs: number;
  text: string;
}

function look(file: string): Seen | undefined {
  try {
    const st = fs.statSync(file);
    return { ino: st.ino, mtimeMs: st.mtimeMs, text: fs.readFileSync(file, 'utf8') };
  } catch {
    return undefined;
  }
}

/** How long an empty lock file may be a run between its create and its write. */
const EMPTY_GRACE_MS = 2000;
/** A breaker file older than this was left by a run that died while breaking. */
const BREAKER_STALE_MS = 10_000;

/** Remove the stale lock `seen` if it is still exactly that file; false if someone else is breaking it. */
function breakStale(file: string, seen: Seen): boolean {
  const breaker = `${file}.break`;
  let fd: number;
  try {
    fd = fs.openSync(breaker, 'wx', 0o644);
  } catch (e: any) {
    if (e.code !== 'EEXIST') throw new UsageError(`lock file ${breaker}: ${e.code ?? e.message}; use --lock-file`);
    const b = look(breaker);
    if (b && Date.now() - b.mtimeMs > BREAKER_STALE_MS) fs.rmSync(breaker, { force: true });
    return false;
  }
  try {
    const now = look(file);
    if (now && now.ino === seen.ino && now.mtimeMs === seen.mtimeMs && now.text === seen.text) fs.rmSync(file, { force: true });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(breaker, { force: true });
  }
  return true;
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
  for (let attempt = 0; attempt < 20; attempt++) {
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
    const seen = look(file);
    if (!seen) continue; // removed meanwhile: try to create it again
    const n = Number(seen.text.trim().split(/\s+/)[0]);
    const pid = Number.isInteger(n) && n > 0 ? n : undefined;
    if (pid !== undefined && pid !== process.pid && pidAlive(pid)) return { busyPid: pid };
    // An empty file may be a run between its create and its write: wait that long. After
    // that, a file without a pid was not left by a run of ours that died (that leaves its
    // pid, taken over below): someone else wrote it, and it is theirs to look at, not ours
    // to remove.
    if (pid === undefined) {
      if (!seen.text.trim() && Date.now() - seen.mtimeMs < EMPTY_GRACE_MS) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        continue;
      }
      const what = seen.text.trim() ? `holds no pid ('${seen.text.trim().slice(0, 40)}')` : 'is empty';
      throw new UsageError(`lock file ${file} ${what}: not a lock autosnap left; remove it if no autosnap runs`);
    }
    if (!breakStale(file, seen)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
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
