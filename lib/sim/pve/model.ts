// The simulated cluster: guests, snapshots, storages, pools, tasks and the clock, with the
// snapshot semantics of PVE's AbstractConfig (shared by QEMU and LXC, small differences
// per guest type). HTTP, auth and validation live in server.ts and routes.ts.
import crypto from 'node:crypto';
import { PveError, exitText } from './errors.ts';
import { formatUpid } from './upid.ts';
import { broadcastList, type Task } from './tasklist.ts';
import type { Seed, SeedBackupJob, SeedGuest } from './seed.ts';
import { nextEvent, parseCalendarEvent } from '../../domain/backup/calendar.ts';

export type GuestType = 'qemu' | 'lxc';

export interface Snap {
  name: string;
  snaptime: number;
  description: string;
  parent?: string;
  vmstate: boolean;
  snapstate?: 'prepare' | 'delete';
  /** creation order, for "most recent snapshot" on ZFS */
  seq: number;
  config: Record<string, unknown>;
  disks: Record<string, string>;
}

export interface Guest {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: 'running' | 'stopped';
  paused: boolean;
  template: boolean;
  tags: string[];
  pool?: string;
  lock?: string;
  agent?: string;
  agentRunning: boolean;
  /** file systems frozen through the guest agent (fsfreeze-freeze until fsfreeze-thaw) */
  frozen?: boolean;
  disks: Record<string, string>;
  config: Record<string, unknown>;
  snapshots: Map<string, Snap>;
  /** the snapshot `current` descends from */
  parent?: string;
  digest: string;
  startedAt?: number;
}

export interface Storage {
  storage: string;
  type: string;
  content: string;
  shared: boolean;
  nodes?: string[];
  total: number;
  used: number;
  disable?: boolean;
  extra: Record<string, unknown>;
}

// A task as the model keeps it; declared with the task lists (tasklist.ts) so that
// module need not import this one.
export type { Task } from './tasklist.ts';

export interface TaskFail {
  vmid: number;
  type: string;
  message: string;
}

const DEFAULT_DURATIONS: Record<string, number> = {
  qmsnapshot: 1.0, qmdelsnapshot: 0.5, qmrollback: 1.0,
  vzsnapshot: 1.0, vzdelsnapshot: 0.5, vzrollback: 1.0,
  qmsuspend: 1.0, qmpause: 0.2, qmresume: 0.5, qmstart: 1.0, qmshutdown: 2.0, qmstop: 0.5,
  vzstart: 1.0, vzshutdown: 1.0, vzstop: 0.5, vzsuspend: 0.5, vzresume: 0.5,
};

const QEMU_DISK_RE = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;
const LXC_DISK_RE = /^(rootfs|mp\d+)$/;
/** storage types whose volumes can always be snapshotted */
const SNAP_ANY = new Set(['zfspool', 'zfs', 'lvmthin', 'rbd', 'btrfs', 'cephfs']);
/** file storages: only qcow2 (QEMU) can be snapshotted */
const SNAP_QCOW2 = new Set(['dir', 'nfs', 'cifs', 'glusterfs']);
/** storages where a rollback past newer snapshots is refused */
const ROLLBACK_MOST_RECENT = new Set(['zfspool', 'zfs']);

export interface ModelOptions {
  timeScale?: number;
  /** simulated "now" at start */
  clock?: Date;
}

export class PveModel {
  cluster: string;
  /** the certificate fingerprint every node reports (one server plays all nodes) */
  fingerprint?: string;
  nodes = new Map<string, { node: string; status: string }>();
  storages = new Map<string, Storage>();
  pools = new Map<string, { poolid: string; comment?: string }>();
  guests = new Map<number, Guest>();
  replication: { id: string; guest: number; snapshots: string[] }[] = [];
  backupJobs: SeedBackupJob[] = [];
  durations: Record<string, number>;
  tasks = new Map<string, Task>();
  private readonly taskListVersions = new Map<string, number>();
  private readonly broadcasts = new Map<string, { version: number; list: Record<string, unknown>[] }>();
  taskCounts: Record<string, number> = {};
  timeScale: number;
  taskFails: TaskFail[] = [];
  /** config-file locks held by "another operation": vmid -> simulated ms until released */
  cfgLocks = new Map<number, number>();
  private clockOffset = 0;
  private nextPid = 0x1000 + Math.floor(Math.random() * 0x10000);
  private pstart = 0x100000 + Math.floor(Math.random() * 0x1000000);
  private snapSeq = 0;
  private endSeq = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(seed: Seed, opts: ModelOptions = {}) {
    this.timeScale = opts.timeScale ?? 1;
    if (opts.clock) this.setClock(opts.clock.getTime());
    this.cluster = seed.cluster ?? 'sim';
    for (const n of seed.nodes ?? [{ node: 'pve1' }]) this.nodes.set(n.node, { node: n.node, status: n.status ?? 'online' });
    for (const s of seed.storages ?? []) {
      const { storage, type, content, shared, nodes, total, used, disable, ...extra } = s;
      this.storages.set(storage, {
        storage, type, content: content ?? 'images,rootdir', shared: shared ?? ['nfs', 'cifs', 'rbd', 'cephfs', 'glusterfs'].includes(type),
        nodes, total: total ?? 1e12, used: used ?? 0, disable, extra,
      });
    }
    for (const p of seed.pools ?? []) this.pools.set(p.poolid, { poolid: p.poolid, comment: p.comment });
    for (const g of seed.guests ?? []) this.guests.set(g.vmid, this.guestFromSeed(g));
    this.backupJobs = (seed.backupJobs ?? []).map((j) => ({ ...j }));
    for (const r of seed.replication ?? []) {
      this.replication.push({ id: r.id, guest: r.guest, snapshots: r.snapshots ?? [] });
      const g = this.guests.get(r.guest);
      for (const name of r.snapshots ?? []) {
        if (g && !g.snapshots.has(name)) this.addSeedSnap(g, { name, snaptime: this.nowSec(), description: 'replication snapshot' });
      }
    }
    this.durations = { ...DEFAULT_DURATIONS, ...(seed.taskDurations ?? {}) };
  }

  private guestFromSeed(s: SeedGuest): Guest {
    const agent = s.agent === true ? '1' : typeof s.agent === 'string' ? s.agent : undefined;
    const status = s.status ?? 'stopped';
    const g: Guest = {
      vmid: s.vmid, type: s.type, node: s.node, name: s.name ?? `${s.type === 'qemu' ? 'vm' : 'ct'}${s.vmid}`,
      status, paused: false, template: !!s.template, tags: [...(s.tags ?? [])], pool: s.pool, lock: s.lock ?? undefined,
      agent, agentRunning: s.agentRunning ?? (status === 'running' && !!agent), disks: { ...(s.disks ?? {}) },
      config: { ...(s.config ?? {}) }, snapshots: new Map(), digest: '', startedAt: status === 'running' ? this.nowSec() - 3600 : undefined,
    };
    if (s.pool && !this.pools.has(s.pool)) this.pools.set(s.pool, { poolid: s.pool });
    let prev: string | undefined;
    for (const sn of s.snapshots ?? []) {
      this.addSeedSnap(g, { ...sn, parent: sn.parent === undefined ? prev : sn.parent ?? undefined });
      prev = sn.name;
    }
    g.parent = prev;
    this.touch(g);
    return g;
  }

  private addSeedSnap(g: Guest, sn: { name: string; snaptime?: number; description?: string; parent?: string; vmstate?: boolean; snapstate?: 'prepare' | 'delete' }) {
    g.snapshots.set(sn.name, {
      name: sn.name, snaptime: sn.snaptime ?? this.nowSec(), description: sn.description ?? '', parent: sn.parent,
      vmstate: !!sn.vmstate && g.type === 'qemu', snapstate: sn.snapstate, seq: ++this.snapSeq,
      config: { ...g.config }, disks: { ...g.disks },
    });
  }

  // ------------------------------------------------------------------ clock and timers

  now(): number {
    return Date.now() + this.clockOffset;
  }
  nowSec(): number {
    return Math.floor(this.now() / 1000);
  }
  setClock(ms: number): void {
    this.clockOffset = ms - Date.now();
  }
  advance(seconds: number): void {
    this.clockOffset += seconds * 1000;
  }

  /** wait `seconds` of simulated work, shortened by the time scale */
  sleep(seconds: number): Promise<void> {
    const ms = Math.max(0, seconds * 1000 * this.timeScale);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** run `fn` after `seconds` (scaled), unless the simulator closes first */
  later(seconds: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, Math.max(0, seconds * 1000 * this.timeScale));
    this.timers.add(t);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ------------------------------------------------------------------ lookups

  touch(g: Guest): void {
    g.digest = crypto.createHash('sha1').update(`${g.vmid}:${++this.snapSeq}:${Math.random()}`).digest('hex');
  }

  /** The guest as the node's config file sees it; QEMU answers 500, LXC too outside tasks. */
  guestOn(node: string, type: GuestType, vmid: number): Guest {
    this.checkNode(node);
    const g = this.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) throw new PveError(500, `Configuration file '${confPath(node, type, vmid)}' does not exist`);
    return g;
  }

  /** pveproxy forwards a request to the node named in the path */
  checkNode(node: string): void {
    const n = this.nodes.get(node);
    if (!n) throw new PveError(500, `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
    if (n.status !== 'online') throw new PveError(595, `Connection refused`);
  }

  storageOnNode(id: string, node: string): Storage | undefined {
    const s = this.storages.get(id);
    if (!s || s.disable || (s.nodes && !s.nodes.includes(node))) return undefined;
    return s;
  }

  /** disk volumes of a guest: key -> { volid, storage, volname } (CD-ROMs and 'none' excluded) */
  volumes(g: Guest, disks = g.disks): { key: string; volid: string; storage: string; volname: string }[] {
    const out = [];
    for (const [key, value] of Object.entries(disks)) {
      if (!(g.type === 'qemu' ? QEMU_DISK_RE : LXC_DISK_RE).test(key)) continue;
      if (/(^|,)media=cdrom(,|$)/.test(value)) continue;
      const volid = value.split(',')[0];
      const m = /^([^:]+):(.+)$/.exec(volid);
      if (!m) continue;
      out.push({ key, volid, storage: m[1], volname: m[2] });
    }
    return out;
  }

  private snapshotPossible(g: Guest): boolean {
    for (const v of this.volumes(g)) {
      const st = this.storages.get(v.storage);
      if (!st) return false;
      if (SNAP_ANY.has(st.type)) continue;
      if (SNAP_QCOW2.has(st.type) && g.type === 'qemu' && v.volname.endsWith('.qcow2')) continue;
      return false;
    }
    return true;
  }

  poolPathsOf(vmid: number): string[] {
    const pool = this.guests.get(vmid)?.pool;
    return pool ? [`/pool/${pool}`] : [];
  }

  // ------------------------------------------------------------------ tasks

  startTask(node: string, type: string, id: string, user: string, work: (t: Task) => Promise<number | void>): string {
    const starttime = this.nowSec();
    const pid = this.nextPid++;
    const upid = formatUpid({ node, pid, pstart: this.pstart, starttime, type, id, user });
    const task: Task = { upid, node, type, id, user, pid, pstart: this.pstart, starttime, status: 'running', log: [], startedMs: performance.now() };
    this.tasks.set(upid, task);
    this.taskListChanged(node);
    this.taskCounts[type] = (this.taskCounts[type] ?? 0) + 1;
    void (async () => {
      let exitstatus: string;
      try {
        const warnings = (await work(task)) || 0;
        exitstatus = warnings ? `WARNINGS: ${warnings}` : 'OK';
        task.log.push(warnings ? `TASK WARNINGS: ${warnings}` : 'TASK OK');
      } catch (e: any) {
        exitstatus = exitText(String(e?.message ?? e)) || 'unknown error';
        task.log.push(`TASK ERROR: ${exitstatus}`);
      }
      task.status = 'stopped';
      task.exitstatus = exitstatus;
      task.endtime = this.nowSec();
      task.endSeq = ++this.endSeq;
      task.endedMs = performance.now();
      this.taskListChanged(node);
      const key = `${type}:${exitstatus === 'OK' ? 'ok' : exitstatus.startsWith('WARNINGS') ? 'warnings' : 'error'}`;
      this.taskCounts[key] = (this.taskCounts[key] ?? 0) + 1;
    })();
    return upid;
  }

  /**
   * What `node` last broadcast of its tasks (see tasklist.ts broadcastList). A node sends
   * its list when one of its tasks starts or ends, and GET /cluster/tasks serves what
   * pmxcfs holds (pve-cluster PVE/Cluster.pm get_tasklist reads the status cache, checked
   * by version), so the list is built once per change, not at every read.
   */
  broadcastOf(node: string): Record<string, unknown>[] {
    const version = this.taskListVersions.get(node) ?? 0;
    const cached = this.broadcasts.get(node);
    if (cached && cached.version === version) return cached.list;
    const list = broadcastList(this.tasks.values(), node);
    this.broadcasts.set(node, { version, list });
    return list;
  }

  private taskListChanged(node: string): void {
    this.taskListVersions.set(node, (this.taskListVersions.get(node) ?? 0) + 1);
  }

  private injected(g: Guest, type: string): string | undefined {
    return this.taskFails.find((f) => f.vmid === g.vmid && f.type === type)?.message;
  }

  /** PVE's lock_config: wait up to 10 s for the config file lock, then give up */
  private async lockConfig(g: Guest): Promise<void> {
    const until = this.cfgLocks.get(g.vmid);
    if (until === undefined) return;
    if (until > this.now()) {
      // waits until the holder is done, or 10 s, whichever is first
      const waitSec = Math.min(10, (until - this.now()) / 1000);
      await this.sleep(waitSec);
      if (waitSec >= 10) {
        const file = g.type === 'qemu' ? `/var/lock/qemu-server/lock-${g.vmid}.conf` : `/run/lock/lxc/pve-config-${g.vmid}.lock`;
        throw new Error(`can't lock file '${file}' - got timeout`);
      }
    }
    this.cfgLocks.delete(g.vmid);
  }

  private checkLock(g: Guest): void {
    if (g.lock) throw new Error(`${g.type === 'qemu' ? 'VM' : 'CT'} is locked (${g.lock})`);
  }

  /** the guest a task works on: QEMU was checked before forking, LXC reports inside */
  private taskGuest(node: string, type: GuestType, vmid: number): Guest {
    const g = this.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) throw new Error(`Configuration file '${confPath(node, type, vmid)}' does not exist`);
    return g;
  }

  // ------------------------------------------------------------------ snapshots

  listSnapshots(g: Guest): Record<string, unknown>[] {
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

  getSnapshot(g: Guest, name: string): Snap {
    const s = g.snapshots.get(name);
    if (!s) throw new PveError(500, `snapshot '${name}' does not exist`);
    return s;
  }

  snapshotConfig(g: Guest, s: Snap): Record<string, unknown> {
    const cfg: Record<string, unknown> = { ...this.configOf(g, s.config, s.disks), snaptime: s.snaptime, description: s.description };
    delete cfg.digest;
    delete cfg.lock;
    if (s.parent) cfg.parent = s.parent;
    else delete cfg.parent;
    if (s.snapstate) cfg.snapstate = s.snapstate;
    if (s.vmstate) cfg.vmstate = `${this.volumes(g)[0]?.storage ?? 'local'}:vm-${g.vmid}-state-${s.name}`;
    return cfg;
  }

  async setSnapshotDescription(g: Guest, name: string, description: string | undefined): Promise<void> {
    const until = this.cfgLocks.get(g.vmid);
    if (until !== undefined && until > this.now()) {
      await this.lockConfig(g).catch((e) => {
        throw new PveError(500, e.message);
      });
    }
    const s = this.getSnapshot(g, name);
    if (description !== undefined) s.description = description;
    this.touch(g);
  }

  /** HTTP phase of a snapshot create; reserved names fail before any task */
  createSnapshot(node: string, type: GuestType, vmid: number, name: string, opts: { description?: string; vmstate?: boolean }, user: string): string {
    if (name === 'current') throw new PveError(500, `unable to use snapshot name 'current' (reserved name)`);
    if (type === 'qemu' && name.toLowerCase() === 'pending') throw new PveError(500, `unable to use snapshot name 'pending' (reserved name)`);
    if (type === 'lxc' && name === 'vzdump') throw new PveError(500, `unable to use snapshot name 'vzdump' (reserved name)`);
    if (type === 'qemu') this.guestOn(node, type, vmid);
    else this.checkNode(node);
    const taskType = type === 'qemu' ? 'qmsnapshot' : 'vzsnapshot';
    return this.startTask(node, taskType, String(vmid), user, async (task) => {
      const g = this.taskGuest(node, type, vmid);
      await this.lockConfig(g);
      if (g.template) throw new Error(`you can't take a snapshot if it's a template`);
      this.checkLock(g);
      if (g.snapshots.has(name)) throw new Error(`snapshot name '${name}' already used`);
      if (!this.snapshotPossible(g)) throw new Error('snapshot feature is not available');
      const withState = type === 'qemu' && !!opts.vmstate && g.status === 'running';
      const snap: Snap = {
        name, snaptime: this.nowSec(), description: opts.description ?? '', parent: g.parent, vmstate: withState, snapstate: 'prepare',
        seq: ++this.snapSeq, config: { ...g.config }, disks: { ...g.disks },
      };
      g.lock = 'snapshot';
      g.snapshots.set(name, snap);
      this.touch(g);
      const vols = this.volumes(g);
      const freeze = type === 'qemu' && !withState && g.status === 'running' && !!g.agent && g.agentRunning;
      let failure: string | undefined;
      try {
        if (withState) {
          task.log.push(`saving VM state and RAM using storage '${vols[0]?.storage ?? 'local'}'`);
          await this.sleep(this.durations[taskType] ?? 1);
          task.log.push('completed saving the VM state in 1s, saved 1.02 GiB');
        }
        if (freeze) task.log.push(`issuing guest-agent 'fs-freeze' command`);
        for (const v of vols) {
          if (type === 'qemu') task.log.push(`snapshotting 'drive-${v.key}' (${v.volid})`);
        }
        await this.sleep(this.durations[taskType] ?? 1);
        if (freeze) task.log.push(`issuing guest-agent 'fs-thaw' command`);
        failure = this.injected(g, taskType);
        if (failure) throw new Error(failure);
      } catch (e: any) {
        // PVE cleans up a half-made snapshot with a forced delete, then reports the error
        task.log.push('snapshot create failed: starting cleanup');
        g.snapshots.delete(name);
        g.lock = undefined;
        this.touch(g);
        throw e;
      }
      delete snap.snapstate;
      g.parent = name;
      g.lock = undefined;
      this.touch(g);
    });
  }

  deleteSnapshot(node: string, type: GuestType, vmid: number, name: string, force: boolean, user: string): string {
    if (type === 'qemu') this.guestOn(node, type, vmid);
    else this.checkNode(node);
    const taskType = type === 'qemu' ? 'qmdelsnapshot' : 'vzdelsnapshot';
    return this.startTask(node, taskType, String(vmid), user, async (task) => {
      const g = this.taskGuest(node, type, vmid);
      await this.lockConfig(g);
      // AbstractConfig::snapshot_delete's order: existence, replication (unless forced),
      // then set_lock, which refuses any lock: `force` does not override a leftover
      // `snapshot-delete`; that takes `qm unlock` / `pct unlock` first
      const snap = g.snapshots.get(name);
      if (!snap) throw new Error(`snapshot '${name}' does not exist`);
      if (!force) {
        const job = this.replication.find((r) => r.guest === g.vmid && r.snapshots.includes(name));
        if (job) throw new Error(`snapshot '${name}' needed by replication job '${job.id}' - run replication first`);
      }
      this.checkLock(g);
      if (g.template) throw new Error(`you can't delete a snapshot if vm is a template`);
      g.lock = 'snapshot-delete';
      snap.snapstate = 'delete';
      this.touch(g);
      await this.sleep(this.durations[taskType] ?? 0.5);
      let warnings = 0;
      const failure = this.injected(g, taskType);
      if (failure) {
        if (!force) throw new Error(failure);
        task.log.push(failure);
        warnings++;
      }
      for (const s of g.snapshots.values()) if (s.parent === name) s.parent = snap.parent;
      if (g.parent === name) g.parent = snap.parent;
      g.snapshots.delete(name);
      g.lock = undefined;
      this.touch(g);
      return warnings;
    });
  }

  rollbackSnapshot(node: string, type: GuestType, vmid: number, name: string, start: boolean, user: string): string {
    if (type === 'qemu') this.guestOn(node, type, vmid);
    else this.checkNode(node);
    const taskType = type === 'qemu' ? 'qmrollback' : 'vzrollback';
    return this.startTask(node, taskType, String(vmid), user, async (task) => {
      const g = this.taskGuest(node, type, vmid);
      await this.lockConfig(g);
      if (g.template) throw new Error(`you can't rollback if vm is a template`);
      const snap = g.snapshots.get(name);
      if (!snap) throw new Error(`snapshot '${name}' does not exist`);
      if (snap.snapstate) throw new Error(`unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`);
      this.checkLock(g);
      for (const v of this.volumes(g, snap.disks)) {
        const st = this.storages.get(v.storage);
        if (!st || !ROLLBACK_MOST_RECENT.has(st.type)) continue;
        const newer = [...g.snapshots.values()].some((s) => s.seq > snap.seq && this.volumes(g, s.disks).some((w) => w.volid === v.volid));
        // named with its storage, as PVE says it (proxmox/pve-storage
        // src/PVE/Storage/ZFSPoolPlugin.pm, volume_rollback_is_possible: "$storeid:$volname")
        if (newer) throw new Error(`can't rollback, '${name}' is not most recent snapshot on '${v.storage}:${v.volname}'`);
      }
      g.lock = 'rollback';
      this.touch(g);
      if (g.status === 'running') {
        task.log.push(type === 'qemu' ? `VM ${vmid} qmp command 'quit' - stopping hard` : `stopping container ${vmid}`);
        g.status = 'stopped';
        g.paused = false;
        g.agentRunning = false;
        g.startedAt = undefined;
      }
      await this.sleep(this.durations[taskType] ?? 1);
      const failure = this.injected(g, taskType);
      // a failed rollback leaves the guest locked, as on a real node
      if (failure) throw new Error(failure);
      g.config = { ...snap.config };
      g.disks = { ...snap.disks };
      g.parent = name;
      g.lock = undefined;
      if (snap.vmstate || start) {
        if (snap.vmstate) task.log.push('resuming VM from saved state');
        this.setRunning(g);
      }
      this.touch(g);
    });
  }

  private setRunning(g: Guest): void {
    g.status = 'running';
    g.paused = false;
    g.agentRunning = !!g.agent;
    g.startedAt = this.nowSec();
  }

  /**
   * PUT/POST .../config: disks (a new volume from `STORAGE:SIZE_GB`), name, tags, agent,
   * `lock`, other keys, `delete`. `user` is the caller as PVE's rpcenv names it: an API
   * token is `user@realm!id`, so even root's own token is not `root@pam`.
   */
  updateConfig(g: Guest, params: Record<string, unknown>, user: string): void {
    const root = user === 'root@pam';
    const deletes = String(params.delete ?? '').split(/[,;\s]+/).filter(Boolean);
    const locked = () => {
      try {
        this.checkLock(g);
      } catch (e: any) {
        throw new PveError(500, e.message);
      }
    };
    if (g.type === 'qemu') {
      // qemu-server's update_vm_api: skiplock first, then the per-option permission check
      // (`lock` is root@pam's alone), then digest and lock inside the config lock
      if (params.skiplock && !root) throw new PveError(400, 'Parameter verification failed.', { skiplock: 'Only root may use this option.' });
      if (!root && (params.lock !== undefined || deletes.includes('lock'))) throw new PveError(500, "only root can set 'lock' config");
      if (params.digest !== undefined && params.digest !== g.digest) {
        throw new PveError(500, 'detected modified configuration - file changed by other user? Try again.');
      }
      if (!params.skiplock) locked();
    } else {
      // pve-container checks the lock unconditionally (it has no skiplock): a locked
      // container is unlocked only by `pct unlock` on its node, never over the API
      locked();
      if (params.digest !== undefined && params.digest !== g.digest) {
        throw new PveError(500, 'detected modified configuration - file changed by other user? Try again.');
      }
    }
    const diskRe = g.type === 'qemu' ? QEMU_DISK_RE : LXC_DISK_RE;
    const skip = new Set(['node', 'vmid', 'digest', 'skiplock', 'delete', 'revert', 'background_delay', 'force']);
    for (const [k, v] of Object.entries(params)) {
      if (skip.has(k)) continue;
      const value = String(v);
      if (diskRe.test(k)) {
        const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)(,.*)?$/i.exec(value);
        if (m) {
          const st = this.storages.get(m[1]);
          if (!st) throw new PveError(500, `storage '${m[1]}' does not exist`);
          // the next free disk number, counting volumes still held by snapshots
          let n = 0;
          for (const d of [g.disks, ...[...g.snapshots.values()].map((x) => x.disks)]) {
            for (const vol of Object.values(d)) {
              const dm = /-disk-(\d+)/.exec(vol);
              if (dm) n = Math.max(n, Number(dm[1]) + 1);
            }
          }
          const opts = m[3] ?? '';
          const fmt = /(^|,)format=(\w+)/.exec(opts)?.[2] ?? 'qcow2';
          const file = ['dir', 'nfs', 'cifs', 'glusterfs'].includes(st.type) ? `${g.vmid}/vm-${g.vmid}-disk-${n}.${fmt}` : `vm-${g.vmid}-disk-${n}`;
          g.disks[k] = `${m[1]}:${file}${opts.replace(/(^|,)format=\w+/, '')},size=${m[2]}G`;
        } else g.disks[k] = value;
      } else if (k === 'name' || k === 'hostname') g.name = value;
      else if (k === 'tags') g.tags = value.split(/[;,\s]+/).filter(Boolean);
      else if (k === 'agent') g.agent = value;
      else if (k === 'lock') g.lock = value;
      else g.config[k] = v;
    }
    for (const k of deletes) {
      delete g.disks[k];
      delete g.config[k];
      if (k === 'tags') g.tags = [];
      if (k === 'agent') g.agent = undefined;
      if (k === 'lock') g.lock = undefined;
    }
    this.touch(g);
  }

  // ------------------------------------------------------------------ power

  powerTask(node: string, type: GuestType, vmid: number, action: 'start' | 'shutdown' | 'stop' | 'suspend' | 'resume', opts: { todisk?: boolean }, user: string): string {
    const g0 = this.guestOn(node, type, vmid);
    const prefix = type === 'qemu' ? 'qm' : 'vz';
    const taskType = action === 'suspend' && type === 'qemu' && !opts.todisk ? 'qmpause' : `${prefix}${action}`;
    if (action === 'start' && g0.status === 'running' && !g0.paused) throw new PveError(500, `${type === 'qemu' ? 'VM' : 'CT'} ${vmid} already running`);
    return this.startTask(node, taskType, String(vmid), user, async () => {
      const g = this.taskGuest(node, type, vmid);
      await this.lockConfig(g);
      const word = type === 'qemu' ? 'VM' : 'CT';
      if (action === 'start' || action === 'resume') {
        if (g.lock && !(g.lock === 'suspended' && type === 'qemu')) this.checkLock(g);
        if (action === 'resume' && g.status !== 'running' && g.lock !== 'suspended') throw new Error(`${word} ${vmid} not running`);
      } else if (action !== 'stop') this.checkLock(g);
      if ((action === 'shutdown' || action === 'suspend') && g.status !== 'running') throw new Error(`${word} ${vmid} not running`);
      if (action === 'suspend' && opts.todisk) g.lock = 'suspending';
      await this.sleep(this.durations[taskType] ?? 0.5);
      const failure = this.injected(g, taskType);
      if (failure) {
        if (g.lock === 'suspending') g.lock = undefined;
        throw new Error(failure);
      }
      switch (action) {
        case 'start':
        case 'resume':
          if (g.lock === 'suspended') g.lock = undefined;
          this.setRunning(g);
          break;
        case 'shutdown':
        case 'stop':
          g.status = 'stopped';
          g.paused = false;
          g.agentRunning = false;
          g.startedAt = undefined;
          break;
        case 'suspend':
          if (opts.todisk) {
            g.lock = 'suspended';
            g.status = 'stopped';
            g.agentRunning = false;
            g.startedAt = undefined;
          } else g.paused = true;
          break;
      }
      this.touch(g);
    });
  }

  agentPing(node: string, vmid: number): void {
    const g = this.guestOn(node, 'qemu', vmid);
    if (!g.agent || /^(0|enabled=0)(,|$)/.test(g.agent)) throw new PveError(500, 'No QEMU guest agent configured');
    if (g.status !== 'running') throw new PveError(500, `VM ${vmid} is not running`);
    if (!g.agentRunning || g.paused) throw new PveError(500, 'QEMU guest agent is not running');
  }

  /**
   * POST .../agent/fsfreeze-freeze and fsfreeze-thaw: the checks of agent_available in
   * qemu-server's PVE/QemuServer/Agent.pm (no agent configured, VM not running, agent not
   * running), then the guest's answer. Assumption: the result is the number of file
   * systems frozen or thawed (qemu-guest-agent's guest-fsfreeze-* return that count);
   * the simulator's guests have 2 when frozen. A second freeze fails as the agent does
   * while frozen (only guest-fsfreeze-status/thaw are allowed then).
   */
  agentFreeze(node: string, vmid: number, freeze: boolean): number {
    this.agentPing(node, vmid);
    const g = this.guestOn(node, 'qemu', vmid);
    if (freeze) {
      if (g.frozen) throw new PveError(500, 'Agent error: Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state');
      g.frozen = true;
      return 2;
    }
    const was = g.frozen;
    g.frozen = false;
    return was ? 2 : 0;
  }

  // ------------------------------------------------------------------ views

  configOf(g: Guest, config = g.config, disks = g.disks): Record<string, unknown> {
    const cfg: Record<string, unknown> = {};
    if (g.type === 'qemu') {
      cfg.name = g.name;
      cfg.memory = 2048;
      cfg.cores = 2;
      cfg.ostype = 'l26';
      cfg.boot = 'order=scsi0';
      cfg.scsihw = 'virtio-scsi-single';
      if (g.agent) cfg.agent = g.agent;
    } else {
      cfg.hostname = g.name;
      cfg.memory = 512;
      cfg.cores = 1;
      cfg.arch = 'amd64';
      cfg.ostype = 'debian';
    }
    Object.assign(cfg, config, disks);
    if (g.tags.length) cfg.tags = g.tags.join(';');
    if (g.template) cfg.template = 1;
    if (g.lock) cfg.lock = g.lock;
    if (g.parent) cfg.parent = g.parent;
    cfg.digest = g.digest;
    return cfg;
  }

  statusOf(g: Guest): Record<string, unknown> {
    const maxdisk = this.maxdisk(g);
    const out: Record<string, unknown> = {
      vmid: g.vmid, name: g.name, status: g.status, uptime: g.startedAt ? Math.max(0, this.nowSec() - g.startedAt) : 0,
      cpus: g.type === 'qemu' ? 2 : 1, maxmem: (g.type === 'qemu' ? 2048 : 512) * 1048576, maxdisk, cpu: 0, mem: 0, disk: 0,
      netin: 0, netout: 0, diskread: 0, diskwrite: 0, ha: { managed: 0 },
    };
    if (g.type === 'qemu') {
      out.qmpstatus = g.status === 'running' ? (g.paused ? 'paused' : 'running') : 'stopped';
      if (g.agent && !/^(0|enabled=0)(,|$)/.test(g.agent)) out.agent = 1;
      if (g.status === 'running') out.pid = 10000 + g.vmid;
    } else out.type = 'lxc';
    if (g.lock) out.lock = g.lock;
    if (g.template) out.template = 1;
    if (g.tags.length) out.tags = g.tags.join(';');
    return out;
  }

  maxdisk(g: Guest): number {
    let total = 0;
    for (const v of Object.values(g.disks)) {
      const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)/.exec(v);
      if (m) total += Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 } as Record<string, number>)[m[2]];
    }
    return Math.round(total);
  }

  resourceOfGuest(g: Guest): Record<string, unknown> {
    const r: Record<string, unknown> = {
      id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node, name: g.name, status: g.status,
      template: g.template ? 1 : 0, maxdisk: this.maxdisk(g), maxmem: (g.type === 'qemu' ? 2048 : 512) * 1048576,
      maxcpu: g.type === 'qemu' ? 2 : 1, uptime: g.startedAt ? Math.max(0, this.nowSec() - g.startedAt) : 0,
      cpu: 0, mem: 0, disk: 0, netin: 0, netout: 0, diskread: 0, diskwrite: 0, tags: g.tags.join(';'),
    };
    if (g.lock) r.lock = g.lock;
    if (g.pool) r.pool = g.pool;
    return r;
  }

  storageStatus(s: Storage): Record<string, unknown> {
    return {
      storage: s.storage, type: s.type, content: s.content, active: 1, enabled: 1, shared: s.shared ? 1 : 0,
      total: s.total, used: s.used, avail: Math.max(0, s.total - s.used), used_fraction: s.total ? s.used / s.total : 0,
    };
  }

  /**
   * storage.cfg as PVE writes it (PVE::SectionConfig::write_config: `type: id`, then one
   * tab-indented `key value` line per property, a blank line between sections).
   */
  storageCfgText(): string {
    return [...this.storages.values()]
      .map((s) => {
        const props = this.storageProps(s);
        const lines = Object.keys(props)
          .filter((k) => k !== 'storage' && k !== 'type')
          .sort()
          .map((k) => `\t${k} ${props[k]}`);
        return `${s.type}: ${s.storage}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
      })
      .join('\n');
  }

  private storageProps(s: Storage): Record<string, unknown> {
    const out: Record<string, unknown> = { storage: s.storage, type: s.type, content: s.content, ...s.extra };
    if (s.shared && !['nfs', 'cifs', 'rbd', 'cephfs', 'glusterfs'].includes(s.type)) out.shared = 1;
    if (s.nodes) out.nodes = s.nodes.join(',');
    if (s.disable) out.disable = 1;
    if (out.sparse === true) out.sparse = 1;
    return out;
  }

  storageConfig(s: Storage): Record<string, unknown> {
    // the digest of the whole file, as PVE hands it out with every entry (SectionConfig
    // parse_config: Digest::SHA::sha1_hex of the raw storage.cfg)
    const digest = crypto.createHash('sha1').update(this.storageCfgText()).digest('hex');
    return { ...this.storageProps(s), digest };
  }

  /**
   * One entry of GET /cluster/backup: the job as jobs.cfg holds it (type vzdump, booleans as
   * 0/1, enabled written by create_job), plus `next-run` from its schedule, computed from
   * now as pve-manager's PVE/API2/Backup.pm (index) does.
   */
  backupJobEntry(j: SeedBackupJob): Record<string, unknown> {
    const e: Record<string, unknown> = { type: 'vzdump' };
    for (const [k, v] of Object.entries(j)) e[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    e.enabled = j.enabled === false ? 0 : 1;
    try {
      const next = nextEvent(parseCalendarEvent(j.schedule), new Date(this.now()));
      if (next) e['next-run'] = Math.floor(next.getTime() / 1000);
    } catch {
      // a form the simulator cannot compute: PVE would have one, the entry simply lacks it
    }
    return e;
  }

  /** everything, for /_sim/state */
  /** every task's start and end in ms since `origin` (performance.now()), for traces */
  taskTimes(origin: number): { upid: string; node: string; type: string; id: string; start: number; end?: number }[] {
    return [...this.tasks.values()].map((t) => ({ upid: t.upid, node: t.node, type: t.type, id: t.id, start: (t.startedMs ?? origin) - origin, end: t.endedMs === undefined ? undefined : t.endedMs - origin }));
  }

  dump(): Record<string, unknown> {
    return {
      cluster: this.cluster,
      now: new Date(this.now()).toISOString(),
      timeScale: this.timeScale,
      nodes: [...this.nodes.values()],
      storages: [...this.storages.values()].map((s) => this.storageConfig(s)),
      pools: [...this.pools.values()],
      guests: [...this.guests.values()].map((g) => ({
        vmid: g.vmid, type: g.type, node: g.node, name: g.name, status: g.status, paused: g.paused, template: g.template,
        tags: g.tags, pool: g.pool ?? null, lock: g.lock ?? null, agent: g.agent ?? null, agentRunning: g.agentRunning, frozen: g.frozen ?? false,
        disks: g.disks, parent: g.parent ?? null,
        snapshots: [...g.snapshots.values()].sort((a, b) => a.seq - b.seq).map((s) => ({
          name: s.name, snaptime: s.snaptime, description: s.description, parent: s.parent ?? null, vmstate: s.vmstate, snapstate: s.snapstate ?? null,
        })),
      })),
      replication: this.replication,
      tasks: [...this.tasks.values()].map((t) => ({ upid: t.upid, type: t.type, id: t.id, user: t.user, status: t.status, exitstatus: t.exitstatus ?? null, starttime: t.starttime, endtime: t.endtime ?? null })),
    };
  }
}

function confPath(node: string, type: GuestType, vmid: number): string {
  return `nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf`;
}
