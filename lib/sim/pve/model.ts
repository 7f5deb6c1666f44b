// The simulated cluster: guests, storages, pools, tasks and the clock, loaded from a seed;
// the checks every guest task makes (config lock, guest lock, injected failures), power
// actions, the guest agent and config updates. Snapshots live in snapshots.ts, how the
// records read over the API in views.ts; HTTP, authentication and validation in server.ts
// and the modules it names, the API methods in routes.ts.
import crypto from 'node:crypto';
import { PveError, exitText } from './errors.ts';
import { confPath, DEFAULT_DURATIONS, LXC_DISK_RE, QEMU_DISK_RE, SNAP_ANY, SNAP_QCOW2, type Guest, type GuestType, type Storage, type Task, type TaskFail } from './records.ts';
import type { Seed, SeedBackupJob, SeedGuest } from './seed.ts';
import { formatUpid } from './upid.ts';
import { storageConfig } from './views.ts';
import { broadcastList } from './tasklist.ts';

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

  /** the next number of the model's sequence (snapshot creation order, digests) */
  nextSeq(): number {
    return ++this.snapSeq;
  }

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

  snapshotPossible(g: Guest): boolean {
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

  injected(g: Guest, type: string): string | undefined {
    return this.taskFails.find((f) => f.vmid === g.vmid && f.type === type)?.message;
  }

  /** PVE's lock_config: wait up to 10 s for the config file lock, then give up */
  async lockConfig(g: Guest): Promise<void> {
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

  checkLock(g: Guest): void {
    if (g.lock) throw new Error(`${g.type === 'qemu' ? 'VM' : 'CT'} is locked (${g.lock})`);
  }

  /** the guest a task works on: QEMU was checked before forking, LXC reports inside */
  taskGuest(node: string, type: GuestType, vmid: number): Guest {
    const g = this.guests.get(vmid);
    if (!g || g.node !== node || g.type !== type) throw new Error(`Configuration file '${confPath(node, type, vmid)}' does not exist`);
    return g;
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

  setRunning(g: Guest): void {
    g.status = 'running';
    g.paused = false;
    g.agentRunning = !!g.agent;
    g.startedAt = this.nowSec();
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
      storages: [...this.storages.values()].map((s) => storageConfig(this.storages, s)),
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
