// Two runs never overlap on one host (a slow run at :00 and the timer's next run at :15
// would otherwise snapshot and prune the same guests at once). The lock file, its
// stale-lock takeover and its pid-reuse guard are lib/core/lockfile.ts; here are only
// autosnap's file, words and exit code.
import { AppError, EXIT } from '../../core/errors.ts';
import { acquireLockFile, tryLockFile, type HeldLock, type LockWording } from '../../core/lockfile.ts';

export const DEFAULT_LOCK_FILE = '/run/autosnap/autosnap.lock';

const WORDING: LockWording = { tool: 'autosnap', hint: '; use --lock-file' };

class LockBusyError extends AppError {
  readonly pid: number;
  constructor(file: string, pid: number) {
    // its own exit code: nothing was touched, so "some guest failed" (1) would mislead monitoring
    super(`another autosnap run is in progress (pid ${pid}, lock file ${file}); use --wait to wait for it`, EXIT.BUSY);
    this.pid = pid;
  }
}

/** One attempt: the lock, or the pid of the live owner. */
export function tryLock(file: string): HeldLock | { busyPid: number } {
  return tryLockFile(file, WORDING);
}

/** Take the lock; when busy, fail at once or (with wait) poll until it is free. */
export function acquireRunLock(file: string, opts: { wait: boolean; pollMs?: number; onWait?: (pid: number) => void }): Promise<HeldLock> {
  return acquireLockFile(file, WORDING, { ...opts, busy: (pid) => new LockBusyError(file, pid) });
}
