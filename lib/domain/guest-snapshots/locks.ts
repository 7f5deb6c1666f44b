// Waiting for guest locks (backup, migrate, ...). Locks come from /cluster/resources, the
// one call that lists every guest, so waiting costs no request per guest: all waiting
// guests share one re-read loop with backoff, and one deadline for the whole run (a run
// with ten guests under backup waits --lock-wait seconds, not ten times that).

export interface LockSource {
  /** vmid → lock ('' or undefined when none); one GET /cluster/resources?type=vm */
  read(): Promise<Map<number, string | undefined>>;
}

export interface LockWatcherOptions {
  /** absolute deadline (ms since epoch) after which nobody waits any more */
  deadline: number;
  /** first re-read delay (ms); doubles each time up to maxDelayMs */
  firstDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  clock?: () => number;
  /** a failed re-read is reported here and waiting goes on */
  onError?: (err: unknown) => void;
  /** a guest starts waiting for its lock to go: one line, or the run looks hung for a minute */
  onWait?: (vmid: number, lock: string, secondsLeft: number) => void;
}

export const LOCK_FIRST_DELAY_MS = 1000;
export const LOCK_MAX_DELAY_MS = 15000;

/** The backoff: each re-read waits twice as long as the one before, up to the maximum. */
export const nextDelay = (ms: number, maxMs = LOCK_MAX_DELAY_MS) => Math.min(ms * 2, maxMs);

/**
 * Is this the last wait before the deadline? Yes when what is left after the step would be
 * shorter than half the first delay: that remainder is folded into the step, so timers
 * that fire a little early or late never add a re-read just before the deadline.
 */
const lastStep = (leftMs: number, stepMs: number, firstMs: number) => leftMs < stepMs + firstMs / 2;

/**
 * The waits before each re-read when a lock is held for the whole of `waitMs`: the backoff
 * steps, the last one ending at the deadline. A watcher never re-reads more often than
 * this (`[1000, 2000, 1000]` for 4 s): tests and estimates can rely on its length.
 */
export function rereadSchedule(waitMs: number, firstMs = LOCK_FIRST_DELAY_MS, maxMs = LOCK_MAX_DELAY_MS): number[] {
  const out: number[] = [];
  for (let t = 0, d = firstMs; t < waitMs; d = nextDelay(d, maxMs)) {
    const step = lastStep(waitMs - t, d, firstMs) ? waitMs - t : d;
    out.push(step);
    t += step;
  }
  return out;
}

export class LockWatcher {
  private locks: Map<number, string | undefined>;
  private pending: Promise<void> | undefined;
  private delay: number;
  private readonly opts: Required<Omit<LockWatcherOptions, 'onError' | 'onWait'>> & Pick<LockWatcherOptions, 'onError' | 'onWait'>;
  /** re-reads done, for reports and tests */
  rereads = 0;
  /** the re-read that was cut at the deadline is done: nobody waits for another */
  private atDeadline = false;

  constructor(
    private readonly source: LockSource,
    initial: Map<number, string | undefined>,
    opts: LockWatcherOptions,
  ) {
    this.locks = new Map(initial);
    this.opts = {
      firstDelayMs: LOCK_FIRST_DELAY_MS,
      maxDelayMs: LOCK_MAX_DELAY_MS,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      clock: () => Date.now(),
      ...opts,
    };
    this.delay = this.opts.firstDelayMs;
  }

  lockOf(vmid: number): string | undefined {
    return this.locks.get(vmid) || undefined;
  }

  /** A fresher inventory (the next job's): its locks replace what is known. */
  update(locks: Map<number, string | undefined>): void {
    for (const [vmid, lock] of locks) this.locks.set(vmid, lock);
  }

  /** Note a lock learnt another way (a task failed with "VM is locked (backup)"). */
  noteLock(vmid: number, lock: string): void {
    this.locks.set(vmid, lock);
  }

  /** Wait until the guest has no lock; the lock still held at the deadline, or undefined. */
  async waitFree(vmid: number): Promise<string | undefined> {
    for (let told = false; ; told = true) {
      const lock = this.lockOf(vmid);
      if (!lock) return undefined;
      // a timer that fires a little early must not buy a re-read beyond the schedule
      if (this.atDeadline || this.opts.clock() >= this.opts.deadline) return lock;
      if (!told) this.opts.onWait?.(vmid, lock, Math.ceil((this.opts.deadline - this.opts.clock()) / 1000));
      await this.nextRead();
    }
  }

  private nextRead(): Promise<void> {
    if (!this.pending) {
      const left = this.opts.deadline - this.opts.clock();
      const last = lastStep(left, this.delay, this.opts.firstDelayMs);
      const wait = Math.max(0, last ? left : this.delay);
      this.delay = nextDelay(this.delay, this.opts.maxDelayMs);
      this.pending = this.opts
        .sleep(wait)
        .then(async () => {
          if (last) this.atDeadline = true;
          try {
            this.rereads++;
            this.locks = await this.source.read();
          } catch (e) {
            this.opts.onError?.(e);
          }
        })
        .finally(() => {
          this.pending = undefined;
        });
    }
    return this.pending;
  }
}

/** The lock named in a task's failure text ("VM is locked (backup)", "CT is locked (snapshot-delete)"). */
export function lockFromError(text: string): string | undefined {
  const m = /\b(?:VM|CT) is locked \(([\w-]+)\)/.exec(text);
  return m ? m[1] : undefined;
}

/** What to tell the admin about a lock that did not go away. */
export function lockAdvice(vmid: number, type: 'qemu' | 'lxc', lock: string, snapshotInDelete?: string): string {
  if (lock === 'snapshot-delete') {
    const tool = type === 'lxc' ? 'pct' : 'qm';
    const snap = snapshotInDelete ?? '<name>';
    return `stuck in lock snapshot-delete (a snapshot removal failed half-way); to recover: ${tool} unlock ${vmid} && pve-snapshot delete ${vmid} ${snap} --force`;
  }
  return `locked (${lock})`;
}
