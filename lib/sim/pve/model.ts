// The simulated cluster: guests, storages, pools, tasks and the clock, loaded from a seed;
// the checks every guest task makes (config lock, guest lock, injected failures). Snapshots
// live in snapshots.ts, power actions and the guest agent in power.ts, config updates in
// config.ts, how the records read over the API in views.ts; HTTP, authentication and
// validation in server.ts and the modules it names, the API methods in routes.ts.
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

  /** the guest runs from now on (a start, a resume, a rollback to a snapshot with RAM) */
  setRunning(g: Guest): void {
    g.status = 'running';
    g.paused = false;
    g.agentRunning = !!g.agent;
    g.startedAt = this.nowSec();
  }

  /** every task's start and end in ms since `origin` (performance.now()), for traces */
  taskTimes(origin: number): { upid: string; node: string; type: string; id: string; start: number; end?: number }[] {
    return [...this.tasks.values()].map((t) => ({ upid: t.upid, node: t.node, type: t.type, id: t.id, start: (t.startedMs ?? origin) - origin, end: t.endedMs === undefined ? undefined : t.endedMs - origin }));
  }

  /** everything, for /_sim/state */
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
