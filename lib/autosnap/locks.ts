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
}

export class LockWatcher {
  private locks: Map<number, string | undefined>;
  private pending: Promise<void> | undefined;
  private delay: number;
  private readonly opts: Required<Omit<LockWatcherOptions, 'onError'>> & Pick<LockWatcherOptions, 'onError'>;
  /** re-reads done, for reports and tests */
  rereads = 0;

  constructor(
    private readonly source: LockSource,
    initial: Map<number, string | undefined>,
    opts: LockWatcherOptions,
  ) {
    this.locks = new Map(initial);
    this.opts = {
      firstDelayMs: 1000,
      maxDelayMs: 15000,
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
    for (;;) {
      const lock = this.lockOf(vmid);
      if (!lock) return undefined;
      if (this.opts.clock() >= this.opts.deadline) return lock;
      await this.nextRead();
    }
  }

  private nextRead(): Promise<void> {
    if (!this.pending) {
      const wait = Math.max(0, Math.min(this.delay, this.opts.deadline - this.opts.clock()));
      this.delay = Math.min(this.delay * 2, this.opts.maxDelayMs);
      this.pending = this.opts
        .sleep(wait)
        .then(async () => {
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
