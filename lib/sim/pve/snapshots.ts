// Snapshots of the simulated guests, with the semantics of PVE's AbstractConfig (shared
// by QEMU and LXC, small differences per guest type): the list with its `current` entry,
// a snapshot's config, and the create, delete and rollback tasks with their checks in
// PVE's order (proxmox/pve-guest-common src/PVE/AbstractConfig.pm, snapshot_create,
// snapshot_delete, snapshot_rollback).
import { PveError } from './errors.ts';
import type { PveModel } from './model.ts';
import { ROLLBACK_MOST_RECENT, type GuestType, type Guest, type Snap, type Task } from './records.ts';
import { configOf } from './views.ts';

export function listSnapshots(g: Guest): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const s of g.snapshots.values()) {
    const item: Record<string, unknown> = { name: s.name, snaptime: s.snaptime, description: s.description };
    if (s.parent) item.parent = s.parent;
    if (s.snapstate) item.snapstate = s.snapstate;
    if (g.type === 'qemu') item.vmstate = s.vmstate ? 1 : 0;
    out.push(item);
  }
  // PVE walks a hash: the order is not defined, and tools must not depend on it
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  const current: Record<string, unknown> = { name: 'current', description: 'You are here!', running: g.status === 'running' ? 1 : 0, digest: g.digest };
  if (g.parent) current.parent = g.parent;
  out.push(current);
  return out;
}

export function getSnapshot(g: Guest, name: string): Snap {
  const s = g.snapshots.get(name);
  if (!s) throw new PveError(500, `snapshot '${name}' does not exist`);
  return s;
}

export function snapshotConfig(m: PveModel, g: Guest, s: Snap): Record<string, unknown> {
  const cfg: Record<string, unknown> = { ...configOf(g, s.config, s.disks), snaptime: s.snaptime, description: s.description };
  delete cfg.digest;
  delete cfg.lock;
  if (s.parent) cfg.parent = s.parent;
  else delete cfg.parent;
  if (s.snapstate) cfg.snapstate = s.snapstate;
  if (s.vmstate) cfg.vmstate = `${m.volumes(g)[0]?.storage ?? 'local'}:vm-${g.vmid}-state-${s.name}`;
  return cfg;
}

export async function setSnapshotDescription(m: PveModel, g: Guest, name: string, description: string | undefined): Promise<void> {
  const until = m.cfgLocks.get(g.vmid);
  if (until !== undefined && until > m.now()) {
    await m.lockConfig(g).catch((e) => {
      throw new PveError(500, e.message);
    });
  }
  const s = getSnapshot(g, name);
  if (description !== undefined) s.description = description;
  m.touch(g);
}

/**
 * What the three snapshot calls share: the HTTP phase finds a VM on its node (a container's
 * node only: pve-container checks the guest in the worker), then the worker runs with the
 * guest's config locked (AbstractConfig lock_config), under the task type of the guest's kind.
 */
function guestTask(m: PveModel, node: string, type: GuestType, vmid: number, user: string, types: [qemu: string, lxc: string], work: (g: Guest, task: Task) => Promise<number | void>): string {
  if (type === 'qemu') m.guestOn(node, type, vmid);
  else m.checkNode(node);
  return m.startTask(node, type === 'qemu' ? types[0] : types[1], String(vmid), user, async (task) => {
    const g = m.taskGuest(node, type, vmid);
    await m.lockConfig(g);
    return work(g, task);
  });
}

/** HTTP phase of a snapshot create; reserved names fail before any task */
export function createSnapshot(m: PveModel, node: string, type: GuestType, vmid: number, name: string, opts: { description?: string; vmstate?: boolean }, user: string): string {
  if (name === 'current') throw new PveError(500, `unable to use snapshot name 'current' (reserved name)`);
  if (type === 'qemu' && name.toLowerCase() === 'pending') throw new PveError(500, `unable to use snapshot name 'pending' (reserved name)`);
  if (type === 'lxc' && name === 'vzdump') throw new PveError(500, `unable to use snapshot name 'vzdump' (reserved name)`);
  return guestTask(m, node, type, vmid, user, ['qmsnapshot', 'vzsnapshot'], async (g, task) => {
    if (g.template) throw new Error(`you can't take a snapshot if it's a template`);
    m.checkLock(g);
    if (g.snapshots.has(name)) throw new Error(`snapshot name '${name}' already used`);
    if (!m.snapshotPossible(g)) throw new Error('snapshot feature is not available');
    const withState = type === 'qemu' && !!opts.vmstate && g.status === 'running';
    const snap: Snap = {
      name, snaptime: m.nowSec(), description: opts.description ?? '', parent: g.parent, vmstate: withState, snapstate: 'prepare',
      seq: m.nextSeq(), config: { ...g.config }, disks: { ...g.disks },
    };
    g.lock = 'snapshot';
    g.snapshots.set(name, snap);
    m.touch(g);
    const vols = m.volumes(g);
    const freeze = type === 'qemu' && !withState && g.status === 'running' && !!g.agent && g.agentRunning;
    let failure: string | undefined;
    try {
      if (withState) {
        task.log.push(`saving VM state and RAM using storage '${vols[0]?.storage ?? 'local'}'`);
        await m.sleep(m.durations[task.type] ?? 1);
        task.log.push('completed saving the VM state in 1s, saved 1.02 GiB');
      }
      if (freeze) task.log.push(`issuing guest-agent 'fs-freeze' command`);
      for (const v of vols) {
        if (type === 'qemu') task.log.push(`snapshotting 'drive-${v.key}' (${v.volid})`);
      }
      await m.sleep(m.durations[task.type] ?? 1);
      if (freeze) task.log.push(`issuing guest-agent 'fs-thaw' command`);
      failure = m.injected(g, task.type);
      if (failure) throw new Error(failure);
    } catch (e: any) {
      // PVE cleans up a half-made snapshot with a forced delete, then reports the error
      task.log.push('snapshot create failed: starting cleanup');
      g.snapshots.delete(name);
      g.lock = undefined;
      m.touch(g);
      throw e;
    }
    delete snap.snapstate;
    g.parent = name;
    g.lock = undefined;
    m.touch(g);
  });
}

export function deleteSnapshot(m: PveModel, node: string, type: GuestType, vmid: number, name: string, force: boolean, user: string): string {
  return guestTask(m, node, type, vmid, user, ['qmdelsnapshot', 'vzdelsnapshot'], async (g, task) => {
    // AbstractConfig::snapshot_delete's order: existence, replication (unless forced),
    // then set_lock, which refuses any lock: `force` does not override a leftover
    // `snapshot-delete`; that takes `qm unlock` / `pct unlock` first
    const snap = g.snapshots.get(name);
    if (!snap) throw new Error(`snapshot '${name}' does not exist`);
    if (!force) {
      const job = m.replication.find((r) => r.guest === g.vmid && r.snapshots.includes(name));
      if (job) throw new Error(`snapshot '${name}' needed by replication job '${job.id}' - run replication first`);
    }
    m.checkLock(g);
    if (g.template) throw new Error(`you can't delete a snapshot if vm is a template`);
    g.lock = 'snapshot-delete';
    snap.snapstate = 'delete';
    m.touch(g);
    await m.sleep(m.durations[task.type] ?? 0.5);
    let warnings = 0;
    const failure = m.injected(g, task.type);
    if (failure) {
      if (!force) throw new Error(failure);
      task.log.push(failure);
      warnings++;
    }
    for (const s of g.snapshots.values()) if (s.parent === name) s.parent = snap.parent;
    if (g.parent === name) g.parent = snap.parent;
    g.snapshots.delete(name);
    g.lock = undefined;
    m.touch(g);
    return warnings;
  });
}

export function rollbackSnapshot(m: PveModel, node: string, type: GuestType, vmid: number, name: string, start: boolean, user: string): string {
  return guestTask(m, node, type, vmid, user, ['qmrollback', 'vzrollback'], async (g, task) => {
    if (g.template) throw new Error(`you can't rollback if vm is a template`);
    const snap = g.snapshots.get(name);
    if (!snap) throw new Error(`snapshot '${name}' does not exist`);
    if (snap.snapstate) throw new Error(`unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`);
    m.checkLock(g);
    for (const v of m.volumes(g, snap.disks)) {
      const st = m.storages.get(v.storage);
      if (!st || !ROLLBACK_MOST_RECENT.has(st.type)) continue;
      const newer = [...g.snapshots.values()].some((s) => s.seq > snap.seq && m.volumes(g, s.disks).some((w) => w.volid === v.volid));
      // named with its storage, as PVE says it (proxmox/pve-storage
      // src/PVE/Storage/ZFSPoolPlugin.pm, volume_rollback_is_possible: "$storeid:$volname")
      if (newer) throw new Error(`can't rollback, '${name}' is not most recent snapshot on '${v.storage}:${v.volname}'`);
    }
    g.lock = 'rollback';
    m.touch(g);
    if (g.status === 'running') {
      task.log.push(type === 'qemu' ? `VM ${vmid} qmp command 'quit' - stopping hard` : `stopping container ${vmid}`);
      g.status = 'stopped';
      g.paused = false;
      g.agentRunning = false;
      g.startedAt = undefined;
    }
    await m.sleep(m.durations[task.type] ?? 1);
    const failure = m.injected(g, task.type);
    // a failed rollback leaves the guest locked, as on a real node
    if (failure) throw new Error(failure);
    g.config = { ...snap.config };
    g.disks = { ...snap.disks };
    g.parent = name;
    g.lock = undefined;
    if (snap.vmstate || start) {
      if (snap.vmstate) task.log.push('resuming VM from saved state');
      m.setRunning(g);
    }
    m.touch(g);
  });
}
