// The seed: the cluster the simulator starts with (JSON, described by seed.schema.json),
// and the built-in demo cluster used when no seed is given.
import fs from 'node:fs';

interface SeedSnapshot {
  name: string;
  snaptime?: number;
  description?: string;
  /** parent snapshot; omitted = the previous entry of the list */
  parent?: string | null;
  vmstate?: boolean;
  snapstate?: 'prepare' | 'delete';
}

export interface SeedGuest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name?: string;
  status?: 'running' | 'stopped';
  template?: boolean;
  tags?: string[];
  pool?: string;
  lock?: string | null;
  /** QEMU guest agent configured (true, or the agent property string) */
  agent?: boolean | string;
  /** whether the agent answers inside the guest (default: when running) */
  agentRunning?: boolean;
  disks?: Record<string, string>;
  config?: Record<string, unknown>;
  snapshots?: SeedSnapshot[];
}

interface SeedStorage {
  storage: string;
  type: string;
  content?: string;
  shared?: boolean;
  nodes?: string[];
  total?: number;
  used?: number;
  server?: string;
  export?: string;
  path?: string;
  options?: string;
  disable?: boolean;
  [k: string]: unknown;
}

export interface SeedUser {
  userid: string;
  password?: string;
  privileges?: Record<string, string[]>;
  tokens?: { id: string; secret: string; privsep?: boolean; privileges?: Record<string, string[]> }[];
}

/**
 * A backup job of Datacenter > Backup (jobs.cfg, type vzdump), with the keys GET
 * /cluster/backup returns; the simulator adds `type` and `next-run` as PVE does.
 */
export interface SeedBackupJob {
  id: string;
  schedule: string;
  /** only on this node; absent = every node */
  node?: string;
  /** default true (PVE's create_job stores enabled 1 when not given) */
  enabled?: boolean;
  storage?: string;
  vmid?: string;
  all?: boolean;
  pool?: string;
  exclude?: string;
  mode?: 'snapshot' | 'suspend' | 'stop';
  compress?: string;
  comment?: string;
  'notes-template'?: string;
  'repeat-missed'?: boolean;
}

/** the keys a seed's backup job may have (a subset of the schema's returned properties) */
const BACKUP_JOB_KEYS = ['id', 'schedule', 'node', 'enabled', 'storage', 'vmid', 'all', 'pool', 'exclude', 'mode', 'compress', 'comment', 'notes-template', 'repeat-missed'];

export interface Seed {
  cluster?: string;
  nodes?: { node: string; status?: 'online' | 'offline' | 'unknown' }[];
  storages?: SeedStorage[];
  pools?: { poolid: string; comment?: string }[];
  guests?: SeedGuest[];
  users?: SeedUser[];
  replication?: { id: string; guest: number; snapshots?: string[] }[];
  backupJobs?: SeedBackupJob[];
  taskDurations?: Record<string, number>;
}

export class SeedError extends Error {}

/** Read a seed file; errors name the file and what is wrong. */
export function readSeedFile(file: string): Seed {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    throw new SeedError(`cannot read seed file ${file}: ${e.code ?? e.message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e: any) {
    throw new SeedError(`seed file ${file} is not valid JSON: ${e.message}`);
  }
  checkSeed(doc, file);
  return doc as Seed;
}

/** The structural checks that would otherwise surface as odd behaviour much later. */
export function checkSeed(doc: unknown, where = 'seed'): asserts doc is Seed {
  const fail = (msg: string): never => {
    throw new SeedError(`${where}: ${msg}`);
  };
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) fail('must be a JSON object');
  const s = doc as Record<string, unknown>;
  const known = ['cluster', 'nodes', 'storages', 'pools', 'guests', 'users', 'replication', 'backupJobs', 'taskDurations', '$schema', 'comment'];
  for (const k of Object.keys(s)) if (!known.includes(k)) fail(`unknown key '${k}'`);
  for (const k of ['nodes', 'storages', 'pools', 'guests', 'users', 'replication', 'backupJobs']) {
    if (s[k] !== undefined && !Array.isArray(s[k])) fail(`'${k}' must be an array`);
  }
  const nodes = new Set(((s.nodes as any[]) ?? []).map((n, i) => {
    if (!n || typeof n.node !== 'string' || !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(n.node)) fail(`nodes[${i}]: 'node' must be a node name`);
    return n.node as string;
  }));
  const vmids = new Set<number>();
  ((s.guests as any[]) ?? []).forEach((g, i) => {
    const at = `guests[${i}]`;
    if (!g || typeof g !== 'object') fail(`${at}: must be an object`);
    if (!Number.isInteger(g.vmid) || g.vmid < 100 || g.vmid > 999999999) fail(`${at}: 'vmid' must be an integer 100..999999999`);
    if (vmids.has(g.vmid)) fail(`${at}: vmid ${g.vmid} is used twice`);
    vmids.add(g.vmid);
    if (g.type !== 'qemu' && g.type !== 'lxc') fail(`${at}: 'type' must be qemu or lxc`);
    if (typeof g.node !== 'string' || (nodes.size && !nodes.has(g.node))) fail(`${at}: node '${g.node}' is not in 'nodes'`);
    if (g.snapshots !== undefined && !Array.isArray(g.snapshots)) fail(`${at}: 'snapshots' must be an array`);
    const names = new Set<string>();
    for (const sn of g.snapshots ?? []) {
      if (!sn || typeof sn.name !== 'string' || !sn.name) fail(`${at}: every snapshot needs a 'name'`);
      if (names.has(sn.name)) fail(`${at}: snapshot '${sn.name}' is listed twice`);
      names.add(sn.name);
    }
    for (const sn of g.snapshots ?? []) {
      if (sn.parent && !names.has(sn.parent)) fail(`${at}: snapshot '${sn.name}' has unknown parent '${sn.parent}'`);
    }
  });
  ((s.storages as any[]) ?? []).forEach((st, i) => {
    if (!st || typeof st.storage !== 'string' || typeof st.type !== 'string') fail(`storages[${i}]: needs 'storage' and 'type'`);
  });
  ((s.users as any[]) ?? []).forEach((u, i) => {
    if (!u || typeof u.userid !== 'string' || !/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(u.userid)) fail(`users[${i}]: 'userid' must look like user@realm`);
  });
  ((s.replication as any[]) ?? []).forEach((r, i) => {
    if (!r || typeof r.id !== 'string' || !vmids.has(r.guest)) fail(`replication[${i}]: needs 'id' and a 'guest' that exists`);
  });
  const jobIds = new Set<string>();
  ((s.backupJobs as any[]) ?? []).forEach((j, i) => {
    const at = `backupJobs[${i}]`;
    if (!j || typeof j !== 'object') fail(`${at}: must be an object`);
    for (const k of Object.keys(j)) if (!BACKUP_JOB_KEYS.includes(k)) fail(`${at}: unknown key '${k}'`);
    // pve-configid, the format of a job id (PVE::JSONSchema::pve_verify_configid)
    if (typeof j.id !== 'string' || !/^[a-z][a-z0-9_-]+$/i.test(j.id)) fail(`${at}: 'id' must be a job id (a letter, then letters, digits, _ or -)`);
    if (jobIds.has(j.id)) fail(`${at}: id '${j.id}' is used twice`);
    jobIds.add(j.id);
    if (typeof j.schedule !== 'string' || !j.schedule.trim()) fail(`${at}: needs a 'schedule' (a calendar event such as '21:00')`);
    if (j.node !== undefined && (typeof j.node !== 'string' || (nodes.size && !nodes.has(j.node)))) fail(`${at}: node '${j.node}' is not in 'nodes'`);
    for (const k of ['enabled', 'all', 'repeat-missed']) if (j[k] !== undefined && typeof j[k] !== 'boolean') fail(`${at}: '${k}' must be true or false`);
  });
}

// ---------------------------------------------------------------------------------------
// The demo cluster: deterministic, so documentation and tests can name its guests.

/** 2023-11-14T22:13:20Z; demo snapshots are dated relative to it */
const T0 = 1700000000;

export function demoSeed(): Seed {
  const nodes = ['pve1', 'pve2', 'pve3'];
  const guests: SeedGuest[] = [];
  const pools = ['prod', 'prod/db', 'prod/web', 'dev', 'test'];
  const nodeStorage = (node: string) => (node === 'pve2' ? 'local-lvm' : 'local-zfs');
  let i = 0;
  const add = (g: Partial<SeedGuest> & { vmid: number; type: 'qemu' | 'lxc' }) => {
    const node = g.node ?? nodes[i++ % nodes.length];
    const store = nodeStorage(node);
    const disks = g.disks ?? (g.type === 'qemu'
      ? { scsi0: `${store}:vm-${g.vmid}-disk-0,size=32G` }
      : { rootfs: `${store}:${store === 'local-zfs' ? 'subvol' : 'vm'}-${g.vmid}-disk-0,size=8G` });
    guests.push({ name: `${g.type === 'qemu' ? 'vm' : 'ct'}${g.vmid}`, status: 'running', template: false, tags: [], agent: g.type === 'qemu', ...g, node, disks });
  };
  // web tier: AutoSnapshot-tagged VMs in prod/web
  for (let v = 100; v < 106; v++) {
    add({ vmid: v, type: 'qemu', name: `web${v - 99}`, tags: ['prod', 'AutoSnapshot'], pool: 'prod/web',
      snapshots: v === 100 ? [
        { name: 'pre-upgrade', snaptime: T0, description: 'manual' },
        { name: 'before-php83', snaptime: T0 + 86400, description: 'manual, keep' },
      ] : v === 102 ? [{ name: 'pre-upgrade', snaptime: T0 + 3600, description: 'manual' }] : [] });
  }
  // one web VM is being backed up right now
  guests.find((g) => g.vmid === 103)!.lock = 'backup';
  // databases: AutoSnapshot VMs and containers in the nested pool prod/db
  for (let v = 110; v < 116; v++) {
    add({ vmid: v, type: v % 2 ? 'lxc' : 'qemu', name: `db${v - 109}`, tags: ['prod', 'db', 'AutoSnapshot'], pool: 'prod/db',
      snapshots: v === 111 ? [{ name: 'pre-migration', snaptime: T0 + 7200, description: 'do not delete' }] : [] });
  }
  // infrastructure containers, not tagged
  for (let v = 120; v < 126; v++) add({ vmid: v, type: 'lxc', name: ['dns1', 'dns2', 'proxy', 'mail', 'monitor', 'backup-ui'][v - 120], tags: ['infra'], pool: 'prod' });
  // dev and test guests, some stopped
  for (let v = 200; v < 208; v++) {
    add({ vmid: v, type: v % 3 === 0 ? 'lxc' : 'qemu', name: `dev${v - 199}`, tags: v % 2 ? ['dev'] : ['dev', 'AutoSnapshot'], pool: v < 204 ? 'dev' : 'test',
      status: v % 4 === 3 ? 'stopped' : 'running' });
  }
  // a VM whose raw disk on a directory storage cannot be snapshotted
  add({ vmid: 300, type: 'qemu', node: 'pve1', name: 'legacy-raw', tags: ['AutoSnapshot'], disks: { scsi0: 'local:300/vm-300-disk-0.raw,size=20G' } });
  // qcow2 on NFS: snapshots work, rollback past newer snapshots too
  add({ vmid: 301, type: 'qemu', node: 'pve2', name: 'nfs-qcow2', tags: ['AutoSnapshot'], disks: { scsi0: 'nas-nfs:301/vm-301-disk-0.qcow2,size=40G' },
    snapshots: [{ name: 'pre-upgrade', snaptime: T0 + 10, description: 'manual' }] });
  // a replicated VM: the replication snapshot must never be deleted by tools
  add({ vmid: 302, type: 'qemu', node: 'pve3', name: 'replicated', tags: ['prod', 'AutoSnapshot'], pool: 'prod',
    snapshots: [{ name: '__replicate_302-0_1700000000__', snaptime: T0, description: 'replication snapshot' }] });
  // templates
  add({ vmid: 9000, type: 'qemu', node: 'pve1', name: 'debian-12-tmpl', template: true, status: 'stopped', tags: ['template'], agent: true });
  add({ vmid: 9001, type: 'lxc', node: 'pve2', name: 'alpine-tmpl', template: true, status: 'stopped', tags: ['template'] });
  return {
    cluster: 'demo',
    nodes: nodes.map((node) => ({ node, status: 'online' })),
    storages: [
      { storage: 'local', type: 'dir', path: '/var/lib/vz', content: 'iso,vztmpl,backup,images,rootdir', shared: false, total: 100e9, used: 21e9 },
      { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', shared: false, nodes: ['pve1', 'pve3'], total: 1000e9, used: 420e9, pool: 'rpool/data', sparse: true },
      { storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', shared: false, nodes: ['pve2'], total: 800e9, used: 300e9, vgname: 'pve', thinpool: 'data' },
      { storage: 'nas-nfs', type: 'nfs', content: 'images,backup', shared: true, total: 4000e9, used: 1500e9, server: '10.0.0.5', export: '/vol/pve_nfs', path: '/mnt/pve/nas-nfs', options: 'vers=4.2' },
    ],
    pools: pools.map((poolid) => ({ poolid })),
    guests,
    users: [
      { userid: 'root@pam', password: 'demo-root-pw' },
      { userid: 'snap@pve', password: 'snap-pw',
        privileges: { '/vms': ['VM.Audit', 'VM.Snapshot'], '/storage': ['Datastore.Audit'], '/pool': ['Pool.Audit'] },
        tokens: [{ id: 'auto', secret: '7e0d3c51-3c5c-4a5e-9d55-1f7f2a1c0b01', privsep: true, privileges: { '/': ['VM.Audit', 'VM.Snapshot', 'Datastore.Audit', 'Pool.Audit'] } }] },
      { userid: 'audit@pve', password: 'audit-pw', privileges: { '/vms': ['VM.Audit'] } },
    ],
    replication: [{ id: '302-0', guest: 302, snapshots: ['__replicate_302-0_1700000000__'] }],
    backupJobs: [
      { id: 'backup-nightly', schedule: '21:00', storage: 'nas-nfs', all: true, mode: 'snapshot', compress: 'zstd', comment: 'every guest, every night' },
      { id: 'backup-dev-weekly', schedule: 'sat 02:00', node: 'pve2', storage: 'nas-nfs', pool: 'dev', mode: 'stop', enabled: false },
    ],
  };
}
