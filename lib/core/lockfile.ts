// One lock file on a local file system, and the question under every lock: does the
// process that wrote it still run?
//
// Liveness: a pid alone is not enough. After a crash (or a reboot, /run being a tmpfs
// aside) the pid can belong to an unrelated process, and a lock judged by its pid would
// then be held forever. A lock therefore also records its owner's identity: the boot id
// and the process start time from /proc, unique per process across reboots. A lock whose
// pid runs with another start time is as dead as one whose pid is gone.
//
// The lock: a file created exclusively (O_EXCL, atomic on local file systems) holding
// `PID IDENTITY`. A file whose owner is gone is stale and taken over. Taking over is
// serialised by a second exclusive file (`<lock>.break`), and the stale file is removed
// only if it is still the very file found stale (same inode, mtime and content):
// otherwise two runs that both saw the stale lock could each remove it, the second
// removing the first one's fresh lock, and both would hold it. A file holding no pid
// (empty after a grace, or garbage) is refused, not removed: no run of ours left it.
import fs from 'node:fs';
import path from 'node:path';
import { AppError, UsageError } from './errors.ts';

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    return e.code === 'EPERM';
  }
}

/**
 * Boot id and start time of a process, from /proc; undefined where it cannot be read
 * (then only the pid is compared). The start time in clock ticks since boot is unique per
 * pid within one boot, the boot id makes it unique across reboots.
 */
export function processStart(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = fs.readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    const boot = fs.readFileSync(path.join(procRoot, 'sys/kernel/random/boot_id'), 'utf8').trim();
    const start = startFromStat(stat);
    return start === undefined ? undefined : `${boot}:${start}`;
  } catch {
    return undefined;
  }
}

/** Field 22 (starttime) of /proc/PID/stat; the command name before it may hold blanks and parentheses. */
export function startFromStat(stat: string): string | undefined {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field 22 is rest[19]
  const v = rest[19];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** Whether the process that wrote a lock still runs on this node (the same process, not a reuse of its pid). */
export function ownerAlive(info: { pid: number; pidStart?: string }, alive = pidAlive, startOf = processStart): boolean {
  if (!(info.pid > 0) || !alive(info.pid)) return false;
  if (info.pidStart === undefined) return true;
  const now = startOf(info.pid);
  return now === undefined || now === info.pidStart;
}

/** A lock file's content: `PID` (older files) or `PID IDENTITY`; undefined pid when it holds none. */
export function parseLockText(text: string): { pid?: number; pidStart?: string } {
  const [first, second] = text.trim().split(/\s+/);
  const n = Number(first);
  if (!/^\d+$/.test(first ?? '') || !Number.isSafeInteger(n) || n <= 0) return {};
  return { pid: n, ...(second ? { pidStart: second } : {}) };
}

export interface HeldLock {
  path: string;
  release(): void;
}

/** What the messages call the lock's users and how to pick another file. */
export interface LockWording {
  /** the tool whose runs take the lock: "not a lock autosnap left" */
  tool: string;
  /** appended to a message about a file that cannot be used, e.g. '; use --lock-file' */
  hint: string;
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

/** 'file', 'other', or undefined when there is nothing there (any more). */
function statKind(file: string): 'file' | 'other' | undefined {
  try {
    return fs.statSync(file).isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** How long an empty lock file may be a run between its create and its write. */
const EMPTY_GRACE_MS = 2000;
/** A breaker file older than this was left by a run that died while breaking. */
const BREAKER_STALE_MS = 10_000;

/** Remove the stale lock `seen` if it is still exactly that file; false if someone else is breaking it. */
function breakStale(file: string, seen: Seen, words: LockWording): boolean {
  const breaker = `${file}.break`;
  let fd: number;
  try {
    fd = fs.openSync(breaker, 'wx', 0o644);
  } catch (e: any) {
    if (e.code !== 'EEXIST') throw new UsageError(`lock file ${breaker}: ${e.code ?? e.message}${words.hint}`);
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

/**
 * One attempt at the lock: held, or the pid of its live owner. A file naming this very
 * process (pid and identity) is held already, by an earlier take in this process: busy,
 * never a second holder.
 */
export function tryLockFile(file: string, words: LockWording, startOf: (pid: number) => string | undefined = processStart): HeldLock | { busyPid: number } {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  } catch (e: any) {
    throw new UsageError(`lock file ${file}: cannot create its directory (${e.code ?? e.message})${words.hint}`);
  }
  const me = startOf(process.pid);
  const isMine = (text: string) => {
    const c = parseLockText(text);
    return c.pid === process.pid && (c.pidStart === undefined || me === undefined || c.pidStart === me);
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      try {
        fs.writeSync(fd, `${process.pid}${me ? ` ${me}` : ''}\n`);
      } catch (e) {
        // A full or failing file system: the file made just now is ours and empty. Left,
        // every later run would refuse it as "not a lock we left" until removed by hand.
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
        throw e;
      }
      fs.closeSync(fd);
      let released = false;
      return {
        path: file,
        release() {
          if (released) return;
          released = true;
          // only remove our own lock: a stale-lock takeover by another run must survive
          const now = look(file);
          if (now && isMine(now.text)) fs.rmSync(file, { force: true });
        },
      };
    } catch (e: any) {
      if (e.code !== 'EEXIST') throw new UsageError(`lock file ${file}: ${e.code ?? e.message}${words.hint}`);
    }
    // A directory (or device, socket) by that name is no lock and cannot be read as one:
    // without this check every attempt found it unreadable and the run ended with a
    // misleading "could not be taken after removing a stale lock".
    const kind = statKind(file);
    if (kind !== undefined && kind !== 'file') throw new UsageError(`lock file ${file} is not a regular file${words.hint}`);
    const seen = look(file);
    if (!seen) continue; // removed meanwhile: try to create it again
    const owner = parseLockText(seen.text);
    if (owner.pid !== undefined) {
      if (owner.pid === process.pid) {
        // our pid: this process (busy), or an earlier one whose pid we were given (stale)
        if (owner.pidStart !== undefined && me !== undefined && owner.pidStart === me) return { busyPid: owner.pid };
      } else if (ownerAlive({ pid: owner.pid, pidStart: owner.pidStart }, pidAlive, startOf)) return { busyPid: owner.pid };
    } else {
      // An empty file may be a run between its create and its write: wait that long. After
      // that, a file without a pid was not left by a run of ours that died (that leaves its
      // pid, taken over below): someone else wrote it, and it is theirs to look at, not ours
      // to remove.
      if (!seen.text.trim() && Date.now() - seen.mtimeMs < EMPTY_GRACE_MS) {
        pause(100);
        continue;
      }
      const what = seen.text.trim() ? `holds no pid ('${seen.text.trim().slice(0, 40)}')` : 'is empty';
      throw new UsageError(`lock file ${file} ${what}: not a lock ${words.tool} left; remove it if no ${words.tool} runs`);
    }
    if (!breakStale(file, seen, words)) pause(50);
  }
  throw new AppError(`lock file ${file}: could not be taken after removing a stale lock`);
}

/** Take the lock; when busy, fail with `busy(pid)` at once or (with wait) poll until it is free. */
export async function acquireLockFile(
  file: string,
  words: LockWording,
  opts: { wait: boolean; busy: (pid: number) => Error; pollMs?: number; onWait?: (pid: number) => void },
): Promise<HeldLock> {
  let told = false;
  for (;;) {
    const r = tryLockFile(file, words);
    if ('release' in r) return r;
    if (!opts.wait) throw opts.busy(r.busyPid);
    if (!told) opts.onWait?.(r.busyPid);
    told = true;
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 1000));
  }
}
