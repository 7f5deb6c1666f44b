// Guest locks and the half-deleted snapshot, for every tool: waiting for a lock to go,
// the lock a failed task names, the detector that tells a running delete from a stuck
// one, and the one text of advice for getting a half-deleted snapshot out.
//
// Waiting for guest locks (backup, migrate, ...). Locks come from /cluster/resources, the
// one call that lists every guest, so waiting costs no request per guest: all waiting
// guests share one re-read loop with backoff, and one deadline for the whole run (a run
// with ten guests under backup waits --lock-wait seconds, not ten times that).
import { debug } from '../../core/log.ts';
import { stopsTheRun } from '../../core/net-errors.ts';
import { callerOf } from '../../clients/pve/caller.ts';
import { node as nodeSeg, pvePath } from '../../clients/pve/path.ts';
import type { PveClient } from '../../clients/pve/types.ts';
import type { GuestRef } from '../guests/types.ts';

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

const LOCK_FIRST_DELAY_MS = 1000;
const LOCK_MAX_DELAY_MS = 15000;

/** The backoff: each re-read waits twice as long as the one before, up to the maximum. */
const nextDelay = (ms: number, maxMs = LOCK_MAX_DELAY_MS) => Math.min(ms * 2, maxMs);

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

// ------------------------------------------------------------------ the delete detector
//
// The one detector for half-deleted snapshots. A snapshot in snapstate=delete with its
// guest locked `snapshot-delete` looks exactly the same while a delete is running (the
// GUI's, another run's, another client's) and after a delete failed half way. Only the
// second is stuck; following `qm unlock` advice during the first can
// break the snapshot chain. So a snapshot is called stuck only when no delete task of that
// guest is running anywhere in the cluster: the cluster's task list (every node's tasks,
// as the GUI's task panel shows them) and the guest's node's own list of active tasks
// (the cluster list is refreshed by each node every few seconds, so a task that just
// started may be missing there).
//
// Task types (pve-manager PVE/API2/Qemu.pm and PVE/API2/LXC/Snapshot.pm): qmdelsnapshot,
// vzdelsnapshot. Visibility (pve-manager PVE/API2/Tasks.pm and PVE/API2/Cluster.pm): a
// caller sees other users' tasks only with Sys.Audit on /nodes/{node} (cluster list: on /).

/** One entry of a task list (the cluster's, or a node's). */
export interface TaskEntry {
  upid: string;
  type: string;
  /** the guest's vmid, for guest tasks */
  id?: string;
  node?: string;
  user?: string;
  starttime?: number;
  endtime?: number;
  status?: string;
}

/** The task type of a snapshot delete for this guest type. */
const deleteTaskType = (g: GuestRef) => (g.type === 'lxc' ? 'vzdelsnapshot' : 'qmdelsnapshot');

/** A task entry that has not ended (PVE's active list keeps recently ended tasks a while). */
// PVE's active list marks a running entry with status "RUNNING" (pve-manager PVE/API2/Tasks.pm node_tasks)
const running = (t: TaskEntry) => t.endtime === undefined && (t.status === undefined || t.status.toLowerCase() === 'running');

/**
 * The UPIDs of the guest's snapshot deletes running anywhere in the cluster, newest first.
 * Throws when neither list can be read, or the node's cannot and the cluster's shows none
 * (the caller then cannot tell, and must not guess).
 */
export async function runningDeletes(client: PveClient, g: GuestRef): Promise<string[]> {
  const type = deleteTaskType(g);
  const mine = (t: TaskEntry) => t && t.type === type && (t.id === undefined || t.id === String(g.vmid)) && running(t);
  const [cluster, local] = await Promise.allSettled([
    client.get<TaskEntry[]>('/cluster/tasks'),
    client.get<TaskEntry[]>(pvePath('nodes', nodeSeg(g.node), 'tasks'), { vmid: g.vmid, source: 'active', typefilter: type }),
  ]);
  for (const r of [cluster, local]) if (r.status === 'rejected' && stopsTheRun(r.reason)) throw r.reason;
  if (cluster.status === 'rejected' && local.status === 'rejected') throw local.reason;
  if (cluster.status === 'rejected') debug(`cluster task list unavailable: ${(cluster.reason as Error).message}`);
  const found = new Set<string>();
  for (const r of [cluster, local]) {
    if (r.status !== 'fulfilled' || !Array.isArray(r.value)) continue;
    for (const t of r.value) if (mine(t) && typeof t.upid === 'string') found.add(t.upid);
  }
  // the cluster list lags a task that just started: without the node's own list, "none
  // running" cannot be told, only "this one is running"
  if (!found.size && local.status === 'rejected') throw local.reason;
  return [...found];
}

/** What a snapshot in snapstate=delete (or a guest locked snapshot-delete) is. */
export type DeleteState = { state: 'deleting'; upid: string } | { state: 'stuck' } | { state: 'unknown'; why: string };

/** The detector: a running delete task of the guest, or stuck, or cannot tell. */
export async function deleteState(client: PveClient, g: GuestRef): Promise<DeleteState> {
  try {
    const [upid] = await runningDeletes(client, g);
    return upid ? { state: 'deleting', upid } : { state: 'stuck' };
  } catch (e) {
    if (stopsTheRun(e)) throw e;
    return { state: 'unknown', why: (e as Error).message };
  }
}

/** One line for a snapshot being deleted by a running task: never "stuck", never unlock advice. */
export function deletingLine(name: string | undefined, upid: string): string {
  return `${name ? `snapshot ${name} is` : 'a snapshot is'} being deleted by task ${upid}, which is still running`;
}

/** One line when the task lists cannot be read: neither "stuck" nor advice to unlock. */
export function unknownLine(g: GuestRef, why: string): string {
  return `locked (snapshot-delete), and whether a delete task is still running cannot be read (${why}); check the task log of ${g.node} for a delete of ${g.vmid} before unlocking anything`;
}

// ------------------------------------------------------------------ the half-deleted snapshot
//
// A delete that failed half way leaves the snapshot in `snapstate=delete` and the guest
// locked `snapshot-delete`. Proxmox then refuses every snapshot operation, a forced delete
// included, until the lock is cleared (`qm unlock` / `pct unlock` on the guest's node:
// the command reads the config of its own node only). Over the API only root@pam can clear
// a VM's lock (PUT .../config delete=lock skiplock=1; an API token is `user@realm!id`,
// never root@pam), and nobody can clear a container's: pve-container checks the lock
// before any change.

/** The tool that finishes a half-deleted snapshot (its `delete --force`). */
const FINISHER = 'pve-snapshot';

export { callerOf };

const unlockCommand = (g: GuestRef) => `${g.type === 'lxc' ? 'pct' : 'qm'} unlock ${g.vmid}`;
const kind = (g: GuestRef) => (g.type === 'lxc' ? 'CT' : 'VM');

/** The command that finishes the delete of a half-deleted snapshot. */
export const forceDeleteCommand = (g: GuestRef, name: string) => `${FINISHER} delete ${g.vmid} ${name} --force`;

/**
 * THE advice for a half-deleted snapshot, the one text both tools print: unlock on the
 * guest's node (named: `qm unlock` elsewhere fails), then finish the delete with force.
 * `name` is `<name>` when the snapshot is not known.
 */
export function wayOut(g: GuestRef, name: string): string {
  return `run '${unlockCommand(g)}' on ${g.node}, then '${forceDeleteCommand(g, name)}'`;
}

/** Can this caller clear the guest's lock over the API? Only root@pam, and only for a VM. */
export function canClearLock(g: GuestRef, caller: string | undefined): boolean {
  return g.type === 'qemu' && caller === 'root@pam';
}

/** Why the caller cannot clear the lock itself, for the one line that tells the user what to run. */
export function whyNotClear(g: GuestRef, caller: string | undefined): string {
  if (g.type === 'lxc') return 'the API offers no way to clear a container\'s lock';
  if (caller?.includes('!')) return `only root@pam can clear a lock over the API, not the API token ${caller}`;
  return `only root@pam can clear a lock over the API${caller ? `, not ${caller}` : ''}`;
}

/** The lock and the digest a conditional write needs, from a guest's config. */
export function lockOf(config: Record<string, unknown>): { lock?: string; digest?: string } {
  return { lock: typeof config?.lock === 'string' ? config.lock : undefined, digest: typeof config?.digest === 'string' ? config.digest : undefined };
}

/** One line for a half-deleted snapshot when --force was not given. */
export function halfDeletedLine(g: GuestRef, name: string, locked: boolean, caller: string | undefined): string {
  const state = `snapshot '${name}' is half-deleted (snapstate=delete)`;
  const finish = 'force=1 drops it from the config even if a disk snapshot cannot be removed';
  if (!locked) return `${state}: run again with --force to finish the delete (${finish})`;
  const held = `${state} and the ${kind(g)} still holds the lock snapshot-delete of that failed delete`;
  if (canClearLock(g, caller)) return `${held}: run again with --force to clear the lock and finish the delete (${finish})`;
  return `${held}: ${wayOut(g, name)} (${whyNotClear(g, caller)})`;
}

/** A delete task of the guest is running: the lock is in use, not left over. */
export function runningLine(g: GuestRef, upid: string): string {
  return `a snapshot delete is still running on this ${kind(g)} (${upid}): the lock snapshot-delete is in use, not left over; nothing done, try again when it has finished`;
}

/** The lock named in a task's failure text ("VM is locked (backup)", "CT is locked (snapshot-delete)"). */
export function lockFromError(text: string): string | undefined {
  const m = /\b(?:VM|CT) is locked \(([\w-]+)\)/.exec(text);
  return m ? m[1] : undefined;
}

/** What to tell the admin about a lock that did not go away (a stuck snapshot-delete: the way out). */
export function lockAdvice(g: GuestRef, lock: string, snapshotInDelete?: string): string {
  if (lock === 'snapshot-delete') return `stuck in lock snapshot-delete (a snapshot removal failed half-way); to recover: ${wayOut(g, snapshotInDelete ?? '<name>')}`;
  return `locked (${lock})`;
}
