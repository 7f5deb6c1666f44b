// The one snapshot API layer: every tool reaches a guest's snapshots through a
// `SnapshotOps` (snapshotOps(client) below), never through request paths of its own.
// Writes carry the "did it happen?" check that makes a lost answer safe: after an
// ambiguous failure (timeout, reset after sending, 596/597/599) the snapshot list and the
// node's task list tell whether the write took effect, and only if it did not is it sent
// again. A failed task is an outcome (TaskResult with ok: false), not an exception.
import { AppError } from '../../core/errors.ts';
import { debug, warn } from '../../core/log.ts';
import { isAmbiguous, TaskError } from '../../clients/pve/errors.ts';
import { nextPollDelay, sleep } from '../../clients/pve/retry.ts';
import type { Params, PveClient, SnapshotEntry, TaskResult, WaitOptions } from '../../clients/pve/types.ts';
import { guestBase, isSnapshotName, node as nodeSeg, pvePath, snap } from '../../clients/pve/path.ts';
import { isUpid, parseUpid } from '../../clients/pve/upid.ts';
import type { GuestRef } from '../guests/types.ts';
import type { StorageInfo } from './rollback.ts';
import { deleteState, runningDeletes, type DeleteState, type TaskEntry } from './locks.ts';

export type { GuestRef };

/**
 * A guest's snapshot list, read once. PVE's list (qemu-server PVE/API2/Qemu.pm
 * `snapshot_list`, pve-container src/PVE/API2/LXC/Snapshot.pm `list`) ends with a
 * pseudo-entry named `current`: not a snapshot but the guest's present state, with
 * `parent` (the snapshot it runs from), `running` and the config `digest`. It is taken out
 * here, once, so no caller can mistake it for a snapshot (prune it, roll back to it,
 * count it); `current` keeps it for the one reader that draws where the guest is now.
 */
export interface SnapshotList {
  /** the real snapshots, in PVE's (undefined) order; never the `current` pseudo-entry */
  snapshots: SnapshotEntry[];
  /** PVE's `current` entry, when the list had one */
  current?: SnapshotEntry;
}

/** Everything either tool does to a guest's snapshots (and the locks around them). */
export interface SnapshotOps {
  /** the guest's config as it is now (disks, lock, digest) */
  config(g: GuestRef): Promise<Record<string, unknown>>;
  list(g: GuestRef): Promise<SnapshotList>;
  create(g: GuestRef, name: string, params?: SnapshotParams): Promise<TaskResult>;
  remove(g: GuestRef, name: string, opts?: { force?: boolean }): Promise<TaskResult>;
  rollback(g: GuestRef, name: string, opts?: { start?: boolean }): Promise<TaskResult>;
  /** the config a snapshot saved */
  snapshotConfig(g: GuestRef, name: string): Promise<Record<string, unknown>>;
  setDescription(g: GuestRef, name: string, text: string): Promise<void>;
  /** `qm unlock` over the API: root@pam only; the digest makes it fail if anything changed since it was read */
  clearLock(g: GuestRef, digest: string | undefined): Promise<void>;
  /** the half-deleted snapshot detector (locks.ts): a delete running, stuck, or cannot tell */
  deleteState(g: GuestRef): Promise<DeleteState>;
  /** the UPIDs of the guest's snapshot deletes running anywhere in the cluster (throws when that cannot be told) */
  runningDeletes(g: GuestRef): Promise<string[]>;
  /** the cluster's storage definitions (types decide what a rollback may do) */
  storages(): Promise<StorageInfo[]>;
}

// a failed task is returned as a result (ok: false, its log tail kept), never thrown
const NO_THROW: WaitOptions = { throwOnFailure: false };

/** The engine over a client: the only way a tool reaches a guest's snapshots. */
export function snapshotOps(client: PveClient): SnapshotOps {
  return {
    config: (g) => client.get<Record<string, unknown>>(guestBase(g, 'config')),
    list: (g) => readList(client, g),
    create: (g, name, params) => createSnapshot(client, g, name, params, NO_THROW),
    remove: (g, name, opts = {}) => deleteSnapshot(client, g, name, opts, NO_THROW),
    rollback: (g, name, opts = {}) => rollbackSnapshot(client, g, name, opts, NO_THROW),
    snapshotConfig: (g, name) => client.get<Record<string, unknown>>(snapPath(g, name, 'config')).then((c) => c ?? {}),
    setDescription: async (g, name, text) => {
      await client.put(snapPath(g, name, 'config'), { description: text });
    },
    clearLock: async (g, digest) => {
      await client.put(guestBase(g, 'config'), { delete: 'lock', skiplock: 1, digest });
    },
    deleteState: (g) => deleteState(client, g),
    runningDeletes: (g) => runningDeletes(client, g),
    storages: () => client.get<StorageInfo[]>('/storage').then((l) => (Array.isArray(l) ? l : [])),
  };
}

export interface SnapshotParams {
  description?: string;
  /** QEMU only: save RAM too */
  vmstate?: boolean;
}

const base = (g: GuestRef) => guestBase(g, 'snapshot');
const snapPath = (g: GuestRef, name: string, ...rest: string[]) => guestBase(g, 'snapshot', snap(name), ...rest);
const TASK_TYPE = {
  create: { qemu: 'qmsnapshot', lxc: 'vzsnapshot' },
  delete: { qemu: 'qmdelsnapshot', lxc: 'vzdelsnapshot' },
  rollback: { qemu: 'qmrollback', lxc: 'vzrollback' },
} as const;

/** How many times a write is sent again after it provably did not happen. */
const MAX_WRITE_TRIES = 3;

/** One read of the list: `current` set apart, names PVE could not have made left out. */
async function readList(client: PveClient, g: GuestRef): Promise<SnapshotList> {
  const all = await client.get<SnapshotEntry[]>(base(g));
  return splitCurrent(saneSnapshots(g, Array.isArray(all) ? all : []));
}

/** The one place `current` is told from the snapshots (see SnapshotList). */
export function splitCurrent(entries: SnapshotEntry[]): SnapshotList {
  const current = entries.find((s) => s.name === 'current');
  return { snapshots: entries.filter((s) => s.name !== 'current'), ...(current ? { current } : {}) };
}

/** The snapshots alone, for the "did it happen?" checks below. */
const listSnapshots = async (client: PveClient, g: GuestRef) => (await readList(client, g)).snapshots;

const reported = new Set<string>();

/** A name for a message: escaped (control characters, bidi marks), and cut when long. */
export function quoteName(name: unknown): string {
  const s = typeof name === 'string' ? name : String(name);
  const cut = s.length > 60 ? `${s.slice(0, 60)}` : s;
  const q = JSON.stringify(cut).replace(/[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return s.length > 60 ? `${q}... (${s.length} characters)` : q;
}

/**
 * The entries whose names PVE could have made (`current` included); any other is reported
 * once per guest and name, and left out, so no tool ever plans anything for it (its name
 * could not even be put into a request path safely).
 */
function saneSnapshots(g: GuestRef, list: SnapshotEntry[]): SnapshotEntry[] {
  return list.filter((s) => {
    if (s && (s.name === 'current' || isSnapshotName(s.name))) return true;
    const key = `${g.node}/${g.vmid}/${String(s?.name)}`;
    if (!reported.has(key)) {
      reported.add(key);
      warn(`${g.vmid}: snapshot named ${quoteName(s?.name)} left alone: not a name Proxmox VE could have made`);
    }
    return false;
  });
}

/** The guest's recent tasks of one type, newest first (empty when the call is refused). */
async function recentTasks(client: PveClient, g: GuestRef, type: string): Promise<TaskEntry[]> {
  try {
    const list = await client.get<TaskEntry[]>(pvePath('nodes', nodeSeg(g.node), 'tasks'), { vmid: g.vmid, typefilter: type, source: 'all', limit: 50 });
    return (Array.isArray(list) ? list : []).filter((t) => t.type === type && (!t.id || t.id === String(g.vmid))).sort((a, b) => (b.starttime ?? 0) - (a.starttime ?? 0));
  } catch (e) {
    debug(`task list of ${g.vmid} unavailable: ${(e as Error).message}`);
    return [];
  }
}

async function finish(client: PveClient, upid: unknown, what: string, wait?: WaitOptions): Promise<TaskResult> {
  if (!isUpid(upid)) throw new AppError(`${what}: expected a task id, got ${JSON.stringify(upid)}`);
  return client.waitTask(upid, wait);
}

/** Could this listed snapshot be the one our create task (UPID) made? */
export function madeBy(s: SnapshotEntry, upid: string, description?: string): boolean {
  if (typeof s.snaptime === 'number' && s.snaptime < parseUpid(upid).starttime) return false;
  return description === undefined || (s.description ?? '').trim() === description.trim();
}

/**
 * The task was started but waiting for it failed in a way that says nothing about the task
 * (a 500 on a status read, a time-out, a lost connection): before that becomes a failure,
 * the snapshot list says what the cluster holds. A create whose snapshot is there (and
 * finished) was made; a delete whose snapshot is gone was done. Anything else, or a list
 * that cannot be read either, keeps the original error. A failed task (TaskError) is an
 * answer, not an unknown, and is never second-guessed.
 */
async function finishOrLookUp(client: PveClient, g: GuestRef, name: string, upid: unknown, what: string, want: 'present' | 'gone', wait?: WaitOptions, description?: string): Promise<TaskResult> {
  try {
    return await finish(client, upid, what, wait);
  } catch (e) {
    if (e instanceof TaskError || !isUpid(upid)) throw e;
    let delay: number | undefined;
    // a snapshot still being made or removed settles within its task's time; bounded
    for (let i = 0; i < 40; i++) {
      let list: SnapshotEntry[];
      try {
        list = await listSnapshots(client, g);
      } catch {
        throw e;
      }
      const s = list.find((x) => x.name === name);
      // a snapshot of that name older than our task, or with another description, is not
      // ours: the task failed with 'already used' (snaptime and the UPID's start are both
      // the node's clock, so no clock skew enters)
      if (want === 'present' && s && !madeBy(s, upid, description)) throw e;
      const settled = want === 'present' ? s !== undefined && !s.snapstate : s === undefined;
      if (settled) {
        warn(`${what}: ${(e as Error).message}; the snapshot list shows it ${want === 'present' ? 'made' : 'removed'}`);
        return { upid, node: g.node, exitstatus: 'OK', ok: true, warnings: 0 };
      }
      // not there (create) or still there without a state (delete): the task did not do it
      if (want === 'present' ? s === undefined : !s?.snapstate) throw e;
      delay = nextPollDelay(delay);
      await sleep(delay);
    }
    throw e;
  }
}

/**
 * Create a snapshot and wait for its task. When the answer to the POST is lost, the
 * snapshot list says whether it was made: present (with our description, if one was
 * given) means it was, and its task is looked up and waited for.
 */
async function createSnapshot(client: PveClient, g: GuestRef, name: string, params: SnapshotParams = {}, wait?: WaitOptions): Promise<TaskResult> {
  const body: Params = { snapname: name, description: params.description };
  // RAM is saved for a VM when asked; a container has none (PVE's LXC API takes no vmstate)
  if (g.type === 'qemu' && params.vmstate) body.vmstate = true;
  const what = `snapshot ${name} of ${g.vmid}`;
  for (let attempt = 1; ; attempt++) {
    let upid: unknown;
    const sentAt = Math.floor(Date.now() / 1000);
    try {
      upid = await client.post(base(g), body);
    } catch (e) {
      if (!isAmbiguous(e) || attempt >= MAX_WRITE_TRIES) throw e;
      warn(`${what}: ${(e as Error).message}; checking whether it was made`);
      const found = await afterLostCreate(client, g, name, params, sentAt, wait);
      if (found) return found;
      continue;
    }
    return finishOrLookUp(client, g, name, upid, what, 'present', wait, params.description);
  }
}

async function afterLostCreate(client: PveClient, g: GuestRef, name: string, params: SnapshotParams, sentAt: number, wait?: WaitOptions): Promise<TaskResult | undefined> {
  const snap = (await listSnapshots(client, g)).find((s) => s.name === name);
  if (!snap) return undefined;
  // someone else's snapshot of the same name is not ours to claim
  if (params.description !== undefined && (snap.description ?? '').trim() !== params.description.trim()) {
    throw new AppError(`snapshot name '${name}' already used on ${g.vmid}`);
  }
  return adoptTask(client, g, TASK_TYPE.create[g.type], sentAt, async () => {
    const s = (await listSnapshots(client, g)).find((x) => x.name === name);
    return s ? (s.snapstate ? 'running' : 'done') : 'gone';
  }, wait);
}

/**
 * Tolerance for the clocks of this host and the node when telling this call's task from an
 * older one (cluster nodes keep NTP time; a minute covers a sloppy client).
 */
const CLOCK_SLACK_S = 60;

/**
 * A write took effect but its UPID was lost: wait for the guest's newest task of that type
 * that started after the write was sent (an older task, say yesterday's failed delete of
 * another snapshot, is not this call's result); without one, watch the object itself
 * until it settles.
 */
async function adoptTask(client: PveClient, g: GuestRef, type: string, sentAt: number, settle: () => Promise<'running' | 'done' | 'gone'>, wait?: WaitOptions): Promise<TaskResult> {
  const task = (await recentTasks(client, g, type)).find((t) => (t.starttime ?? 0) >= sentAt - CLOCK_SLACK_S);
  if (task && isUpid(task.upid)) return client.waitTask(task.upid, wait);
  let delay: number | undefined;
  for (let i = 0; i < 200; i++) {
    const st = await settle();
    if (st === 'done') return { upid: '', node: g.node, exitstatus: 'OK', ok: true, warnings: 0 };
    if (st === 'gone') throw new AppError(`${type} of ${g.vmid}: the task ended without result`);
    delay = nextPollDelay(delay);
    await sleep(delay);
  }
  throw new AppError(`${type} of ${g.vmid}: still running; gave up waiting`);
}

/** Delete a snapshot and wait; a lost answer is resolved by looking whether it is gone. */
async function deleteSnapshot(client: PveClient, g: GuestRef, name: string, opts: { force?: boolean } = {}, wait?: WaitOptions): Promise<TaskResult> {
  const what = `delete snapshot ${name} of ${g.vmid}`;
  for (let attempt = 1; ; attempt++) {
    let upid: unknown;
    const sentAt = Math.floor(Date.now() / 1000);
    try {
      upid = await client.delete(snapPath(g, name), opts.force ? { force: true } : undefined);
    } catch (e) {
      if (!isAmbiguous(e) || attempt >= MAX_WRITE_TRIES) throw e;
      warn(`${what}: ${(e as Error).message}; checking whether it happened`);
      const snap = (await listSnapshots(client, g)).find((s) => s.name === name);
      if (snap && !snap.snapstate) continue;
      return adoptTask(client, g, TASK_TYPE.delete[g.type], sentAt, async () => {
        const s = (await listSnapshots(client, g)).find((x) => x.name === name);
        return s ? 'running' : 'done';
      }, wait);
    }
    return finishOrLookUp(client, g, name, upid, what, 'gone', wait);
  }
}

/**
 * Roll back and wait. A rollback is not repeated after a lost answer unless the node's
 * task list shows none started since this call began.
 */
async function rollbackSnapshot(client: PveClient, g: GuestRef, name: string, opts: { start?: boolean } = {}, wait?: WaitOptions): Promise<TaskResult> {
  const what = `rollback of ${g.vmid} to ${name}`;
  const type = TASK_TYPE.rollback[g.type];
  const before = (await recentTasks(client, g, type))[0]?.upid;
  for (let attempt = 1; ; attempt++) {
    let upid: unknown;
    try {
      upid = await client.post(snapPath(g, name, 'rollback'), opts.start ? { start: true } : undefined);
    } catch (e) {
      if (!isAmbiguous(e) || attempt >= MAX_WRITE_TRIES) throw e;
      warn(`${what}: ${(e as Error).message}; checking whether it started`);
      const [task] = await recentTasks(client, g, type);
      if (task && task.upid !== before && isUpid(task.upid)) return client.waitTask(task.upid, wait);
      continue;
    }
    return finish(client, upid, what, wait);
  }
}
