// How the simulated cluster's records read over the API: a guest's config, status and
// resource row, a storage's status, its storage.cfg entry and digest, a backup job's
// entry. Pure functions of the records (the clock passed in), so the model and the
// routes both use them.
import crypto from 'node:crypto';
import { nextEvent, parseCalendarEvent } from '../../domain/backup/calendar.ts';
import type { Guest, Storage } from './records.ts';
import type { SeedBackupJob } from './seed.ts';

export function configOf(g: Guest, config = g.config, disks = g.disks): Record<string, unknown> {
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

/** GET .../status/current and one row of the node's guest list; `nowSec` gives the uptime. */
export function statusOf(g: Guest, nowSec: number): Record<string, unknown> {
  const disk = maxdisk(g);
  const out: Record<string, unknown> = {
    vmid: g.vmid, name: g.name, status: g.status, uptime: g.startedAt ? Math.max(0, nowSec - g.startedAt) : 0,
    cpus: g.type === 'qemu' ? 2 : 1, maxmem: (g.type === 'qemu' ? 2048 : 512) * 1048576, maxdisk: disk, cpu: 0, mem: 0, disk: 0,
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

/** the sum of the `size=` of a guest's disks, in bytes */
export function maxdisk(g: Guest): number {
  let total = 0;
  for (const v of Object.values(g.disks)) {
    const m = /(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)(?:,|$)/.exec(v);
    if (m) total += Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 } as Record<string, number>)[m[2]];
  }
  return Math.round(total);
}

/** a guest's row of GET /cluster/resources (and of a pool's members) */
export function resourceOfGuest(g: Guest, nowSec: number): Record<string, unknown> {
  const r: Record<string, unknown> = {
    id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node, name: g.name, status: g.status,
    template: g.template ? 1 : 0, maxdisk: maxdisk(g), maxmem: (g.type === 'qemu' ? 2048 : 512) * 1048576,
    maxcpu: g.type === 'qemu' ? 2 : 1, uptime: g.startedAt ? Math.max(0, nowSec - g.startedAt) : 0,
    cpu: 0, mem: 0, disk: 0, netin: 0, netout: 0, diskread: 0, diskwrite: 0, tags: g.tags.join(';'),
  };
  if (g.lock) r.lock = g.lock;
  if (g.pool) r.pool = g.pool;
  return r;
}

export function storageStatus(s: Storage): Record<string, unknown> {
  return {
    storage: s.storage, type: s.type, content: s.content, active: 1, enabled: 1, shared: s.shared ? 1 : 0,
    total: s.total, used: s.used, avail: Math.max(0, s.total - s.used), used_fraction: s.total ? s.used / s.total : 0,
  };
}

/**
 * storage.cfg as PVE writes it (PVE::SectionConfig::write_config: `type: id`, then one
 * tab-indented `key value` line per property, a blank line between sections).
 */
export function storageCfgText(storages: Map<string, Storage>): string {
  return [...storages.values()]
    .map((s) => {
      const props = storageProps(s);
      const lines = Object.keys(props)
        .filter((k) => k !== 'storage' && k !== 'type')
        .sort()
        .map((k) => `\t${k} ${props[k]}`);
      return `${s.type}: ${s.storage}\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
    })
    .join('\n');
}

function storageProps(s: Storage): Record<string, unknown> {
  const out: Record<string, unknown> = { storage: s.storage, type: s.type, content: s.content, ...s.extra };
  if (s.shared && !['nfs', 'cifs', 'rbd', 'cephfs', 'glusterfs'].includes(s.type)) out.shared = 1;
  if (s.nodes) out.nodes = s.nodes.join(',');
  if (s.disable) out.disable = 1;
  if (out.sparse === true) out.sparse = 1;
  return out;
}

export function storageConfig(storages: Map<string, Storage>, s: Storage): Record<string, unknown> {
  // the digest of the whole file, as PVE hands it out with every entry (SectionConfig
  // parse_config: Digest::SHA::sha1_hex of the raw storage.cfg)
  const digest = crypto.createHash('sha1').update(storageCfgText(storages)).digest('hex');
  return { ...storageProps(s), digest };
}

/**
 * One entry of GET /cluster/backup: the job as jobs.cfg holds it (type vzdump, booleans as
 * 0/1, enabled written by create_job), plus `next-run` from its schedule, computed from
 * now as pve-manager's PVE/API2/Backup.pm (index) does.
 */
export function backupJobEntry(j: SeedBackupJob, now: number): Record<string, unknown> {
  const e: Record<string, unknown> = { type: 'vzdump' };
  for (const [k, v] of Object.entries(j)) e[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  e.enabled = j.enabled === false ? 0 : 1;
  try {
    const next = nextEvent(parseCalendarEvent(j.schedule), new Date(now));
    if (next) e['next-run'] = Math.floor(next.getTime() / 1000);
  } catch {
    // a form the simulator cannot compute: PVE would have one, the entry simply lacks it
  }
  return e;
}
