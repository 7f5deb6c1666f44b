// The simulated API methods, keyed by "METHOD /schema/path". Parameters arrive validated
// and coerced (integers as numbers, booleans as 0/1) and the schema's permission check has
// passed; handlers add the checks PVE makes per object (resource filtering, pools, tasks).
import { checkPerm, hasPriv, principalName, type AuthDb, type PermContext, type Principal } from './auth.ts';
import { updateConfig } from './config.ts';
import { PveError } from './errors.ts';
import type { PveModel } from './model.ts';
import { agentFreeze, agentPing, powerTask } from './power.ts';
import type { GuestType } from './records.ts';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots, rollbackSnapshot, setSnapshotDescription, snapshotConfig } from './snapshots.ts';
import { clusterTaskList, nodeTaskList, type NodeTaskParams } from './tasklist.ts';
import { parseUpid } from './upid.ts';
import { VERSION } from './version.ts';
import { backupJobEntry, configOf, resourceOfGuest, statusOf, storageConfig, storageStatus } from './views.ts';

export interface Ctx {
  model: PveModel;
  auth: AuthDb;
  principal: Principal;
  params: Record<string, any>;
  perm: PermContext;
  /** set by a handler whose answer carries `total` */
  total?: number;
}

export type Handler = (c: Ctx) => unknown;

export const ROUTES: Record<string, Handler> = {};

const route = (key: string, h: Handler) => {
  ROUTES[key] = h;
};

const user = (c: Ctx) => principalName(c.principal);

/** seconds between RRD points per timeframe (PVE::RRD: 1 min, 30 min, 3 h, 12 h, 1 week) */
const RRD_STEP: Record<string, number> = { hour: 60, day: 1800, week: 10800, month: 43200, year: 604800 };

route('GET /version', () => ({ version: VERSION.version, release: VERSION.release, repoid: VERSION.repoid, console: 'xtermjs' }));

route('GET /nodes', (c) => {
  return [...c.model.nodes.values()].map((n) => {
    const e: Record<string, unknown> = { node: n.node, status: n.status, type: 'node', id: `node/${n.node}`, ssl_fingerprint: c.model.fingerprint ?? '' };
    if (n.status === 'online' && hasPriv(c.principal, `/nodes/${n.node}`, 'Sys.Audit')) Object.assign(e, { maxcpu: 16, maxmem: 68719476736, mem: 17179869184, cpu: 0.05, uptime: 864000, level: '' });
    return e;
  });
});

route('GET /cluster/resources', (c) => {
  const type: string | undefined = c.params.type;
  const out: Record<string, unknown>[] = [];
  const m = c.model;
  if (!type || type === 'vm') {
    for (const g of m.guests.values()) {
      if (hasPriv(c.principal, `/vms/${g.vmid}`, 'VM.Audit', c.perm)) out.push(resourceOfGuest(g, m.nowSec()));
    }
  }
  if (!type || type === 'node') {
    for (const n of m.nodes.values()) {
      const e: Record<string, unknown> = { id: `node/${n.node}`, type: 'node', node: n.node, status: n.status };
      if (hasPriv(c.principal, `/nodes/${n.node}`, 'Sys.Audit')) Object.assign(e, { maxcpu: 16, maxmem: 68719476736, cpu: 0.05, mem: 17179869184, uptime: 864000, level: '', cgroup_mode: 2 });
      out.push(e);
    }
  }
  if (!type || type === 'storage') {
    for (const s of m.storages.values()) {
      if (!hasPriv(c.principal, `/storage/${s.storage}`, 'Datastore.Audit') && !hasPriv(c.principal, `/storage/${s.storage}`, 'Datastore.AllocateSpace')) continue;
      for (const n of m.nodes.values()) {
        if (s.nodes && !s.nodes.includes(n.node)) continue;
        out.push({
          id: `storage/${n.node}/${s.storage}`, type: 'storage', storage: s.storage, node: n.node, disk: s.used, maxdisk: s.total,
          content: s.content, shared: s.shared ? 1 : 0, plugintype: s.type, status: n.status === 'online' && !s.disable ? 'available' : 'unknown',
        });
      }
    }
  }
  if (!type) {
    for (const p of m.pools.values()) {
      if (hasPriv(c.principal, `/pool/${p.poolid}`, 'Pool.Audit')) out.push({ id: `pool/${p.poolid}`, type: 'pool', pool: p.poolid });
    }
  }
  return out;
});

route('GET /pools', (c) => {
  const m = c.model;
  const poolid: string | undefined = c.params.poolid;
  if (poolid === undefined) {
    return [...m.pools.values()]
      .filter((p) => hasPriv(c.principal, `/pool/${p.poolid}`, 'Pool.Audit'))
      .map((p) => (p.comment ? { poolid: p.poolid, comment: p.comment } : { poolid: p.poolid }));
  }
  const pool = m.pools.get(poolid);
  if (!pool) throw new PveError(500, `pool '${poolid}' does not exist`);
  checkPerm(c.principal, `/pool/${poolid}`, ['Pool.Audit']);
  const members: Record<string, unknown>[] = [];
  if (c.params.type !== 'storage') {
    for (const g of m.guests.values()) {
      if (g.pool !== poolid) continue;
      if (c.params.type && c.params.type !== g.type) continue;
      members.push(resourceOfGuest(g, m.nowSec()));
    }
  }
  const entry: Record<string, unknown> = { poolid, members };
  if (pool.comment) entry.comment = pool.comment;
  return [entry];
});

// GET /pools/{poolid}: the same pool as an object (PVE 8.1 deprecated it for GET
// /pools?poolid=, clients still call it; pve-manager PVE/API2/Pool.pm read_pool)
route('GET /pools/{poolid}', (c) => {
  const pool = c.model.pools.get(c.params.poolid);
  if (!pool) throw new PveError(500, `pool '${c.params.poolid}' does not exist`);
  const members: Record<string, unknown>[] = [];
  if (c.params.type !== 'storage') {
    for (const g of c.model.guests.values()) {
      if (g.pool !== pool.poolid || (c.params.type && c.params.type !== g.type)) continue;
      members.push(resourceOfGuest(g, c.model.nowSec()));
    }
  }
  return pool.comment ? { comment: pool.comment, members } : { members };
});

// GET /cluster/status: the cluster entry, then one per node (pve-cluster
// PVE/API2/ClusterConfig.pm / pve-manager PVE/API2/Cluster.pm get_status; booleans as 0/1)
route('GET /cluster/status', (c) => {
  const nodes = [...c.model.nodes.values()];
  const online = nodes.filter((n) => n.status === 'online').length;
  const out: Record<string, unknown>[] = [
    { type: 'cluster', id: 'cluster', name: c.model.cluster, nodes: nodes.length, quorate: online * 2 > nodes.length ? 1 : 0, version: nodes.length + 1 },
  ];
  nodes.forEach((n, i) => {
    out.push({ type: 'node', id: `node/${n.node}`, name: n.node, nodeid: i + 1, ip: `192.0.2.${i + 1}`, local: i === 0 ? 1 : 0, online: n.status === 'online' ? 1 : 0, level: '' });
  });
  return out;
});

// ---- guests: the same handlers for qemu and lxc ---------------------------------------

for (const type of ['qemu', 'lxc'] as GuestType[]) {
  const base = `/nodes/{node}/${type}/{vmid}`;
  const guest = (c: Ctx) => c.model.guestOn(c.params.node, type, c.params.vmid);

  route(`GET /nodes/{node}/${type}`, (c) => {
    c.model.checkNode(c.params.node);
    const out = [];
    for (const g of c.model.guests.values()) {
      if (g.node !== c.params.node || g.type !== type) continue;
      if (!hasPriv(c.principal, `/vms/${g.vmid}`, 'VM.Audit', c.perm)) continue;
      out.push(statusOf(g, c.model.nowSec()));
    }
    return out;
  });
  route(`GET ${base}/config`, (c) => configOf(guest(c)));
  route(`PUT ${base}/config`, (c) => {
    updateConfig(c.model, guest(c), c.params, user(c));
    return null;
  });
  if (type === 'qemu') {
    route(`POST ${base}/config`, (c) => {
      const g = guest(c);
      updateConfig(c.model, g, c.params, user(c));
      return c.model.startTask(c.params.node, 'qmconfig', String(g.vmid), user(c), async () => undefined);
    });
  }
  route(`GET ${base}/status/current`, (c) => statusOf(guest(c), c.model.nowSec()));
  // RRD statistics: 70 points of the timeframe's step, aligned to it, as pvestatd's RRD
  // answers (pve-manager PVE/API2/Nodes.pm / qemu-server rrddata: PVE::RRD::create_rrd_data)
  route(`GET ${base}/rrddata`, (c) => {
    const g = guest(c);
    const step = RRD_STEP[c.params.timeframe as string] ?? 60;
    const end = Math.floor(c.model.nowSec() / step) * step;
    const running = g.status === 'running';
    const out: Record<string, number>[] = [];
    for (let i = 69; i >= 0; i--) {
      const time = end - i * step;
      const wave = (Math.sin(time / 3600 + g.vmid) + 1) / 2;
      const p: Record<string, number> = { time, maxcpu: 2, maxmem: 2147483648, maxdisk: 34359738368, disk: 0 };
      if (running) Object.assign(p, { cpu: 0.02 + 0.1 * wave, mem: Math.round(536870912 * (1 + wave)), netin: Math.round(1000 * wave), netout: Math.round(800 * wave), diskread: 0, diskwrite: Math.round(4096 * wave) });
      out.push(p);
    }
    return out;
  });
  route(`GET ${base}/snapshot`, (c) => listSnapshots(guest(c)));
  route(`POST ${base}/snapshot`, (c) => createSnapshot(c.model, c.params.node, type, c.params.vmid, c.params.snapname,
    { description: c.params.description, vmstate: c.params.vmstate === 1 }, user(c)));
  route(`GET ${base}/snapshot/{snapname}`, (c) => {
    getSnapshot(guest(c), c.params.snapname);
    return [{ rel: 'child', href: 'config' }, { rel: 'child', href: 'rollback' }];
  });
  route(`DELETE ${base}/snapshot/{snapname}`, (c) => deleteSnapshot(c.model, c.params.node, type, c.params.vmid, c.params.snapname, c.params.force === 1, user(c)));
  route(`GET ${base}/snapshot/{snapname}/config`, (c) => {
    const g = guest(c);
    return snapshotConfig(c.model, g, getSnapshot(g, c.params.snapname));
  });
  route(`PUT ${base}/snapshot/{snapname}/config`, async (c) => {
    await setSnapshotDescription(c.model, guest(c), c.params.snapname, c.params.description);
    return null;
  });
  route(`POST ${base}/snapshot/{snapname}/rollback`, (c) => {
    // QEMU needs VM.PowerMgmt too when the VM is to be started afterwards
    if (type === 'qemu' && c.params.start === 1) checkPerm(c.principal, `/vms/${c.params.vmid}`, ['VM.PowerMgmt'], false, c.perm);
    return rollbackSnapshot(c.model, c.params.node, type, c.params.vmid, c.params.snapname, c.params.start === 1, user(c));
  });
  for (const action of ['start', 'shutdown', 'stop', 'suspend', 'resume'] as const) {
    route(`POST ${base}/status/${action}`, (c) => powerTask(c.model, c.params.node, type, c.params.vmid, action, { todisk: c.params.todisk === 1 }, user(c)));
  }
}

route('POST /nodes/{node}/qemu/{vmid}/agent/ping', (c) => {
  agentPing(c.model, c.params.node, c.params.vmid);
  return { result: {} };
});
route('POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-freeze', (c) => ({ result: agentFreeze(c.model, c.params.node, c.params.vmid, true) }));
route('POST /nodes/{node}/qemu/{vmid}/agent/fsfreeze-thaw', (c) => ({ result: agentFreeze(c.model, c.params.node, c.params.vmid, false) }));

// ---- tasks ----------------------------------------------------------------------------

function taskOf(c: Ctx) {
  const upid: string = c.params.upid;
  const parsed = parseUpid(upid);
  if (!parsed) throw new PveError(400, 'unable to parse worker upid');
  const task = c.model.tasks.get(upid);
  if (!task || task.node !== c.params.node) throw new PveError(500, 'no such task');
  // a task's owner may always read it; others need Sys.Audit on the node
  if (task.user !== user(c)) checkPerm(c.principal, `/nodes/${c.params.node}`, ['Sys.Audit']);
  return task;
}

route('GET /nodes/{node}/tasks/{upid}/status', (c) => {
  const t = taskOf(c);
  const out: Record<string, unknown> = {
    upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user,
    status: t.status,
  };
  if (t.user.includes('!')) {
    out.user = t.user.split('!')[0];
    out.tokenid = t.user.split('!')[1];
  }
  if (t.status === 'stopped') out.exitstatus = t.exitstatus;
  return out;
});

route('GET /nodes/{node}/tasks/{upid}/log', (c) => {
  const t = taskOf(c);
  const lines = t.log.length ? t.log : ['no content'];
  const start: number = c.params.start ?? 0;
  // PVE's dump_logfile reads a limit of 0 as the default 50
  const limit: number = c.params.limit || 50;
  c.total = lines.length;
  const out = [];
  for (let i = start; i < lines.length && out.length < limit; i++) out.push({ n: i + 1, t: lines[i] });
  return out;
});

route('GET /nodes/{node}/tasks', (c) => {
  c.model.checkNode(c.params.node);
  const who = { user: user(c), auditor: hasPriv(c.principal, `/nodes/${c.params.node}`, 'Sys.Audit') };
  const { data, total } = nodeTaskList(c.model.tasks.values(), c.params as NodeTaskParams, who);
  c.total = total;
  return data;
});

route('GET /cluster/tasks', (c) => {
  const who = { user: user(c), auditor: hasPriv(c.principal, '/', 'Sys.Audit') };
  return clusterTaskList(c.model.tasks.values(), c.model.nodes.keys(), who, (node) => c.model.broadcastOf(node));
});

// GET /cluster/backup: the cluster's vzdump jobs (pve-manager PVE/API2/Backup.pm, index:
// permissions check ['perm', '/', ['Sys.Audit']], enforced from the schema before this runs).
route('GET /cluster/backup', (c) => c.model.backupJobs.map((j) => backupJobEntry(j, c.model.now())));

// ---- storage --------------------------------------------------------------------------

const canSeeStorage = (c: Ctx, id: string) =>
  hasPriv(c.principal, `/storage/${id}`, 'Datastore.Audit') || hasPriv(c.principal, `/storage/${id}`, 'Datastore.AllocateSpace');

route('GET /nodes/{node}/storage', (c) => {
  c.model.checkNode(c.params.node);
  const out = [];
  for (const s of c.model.storages.values()) {
    if (!c.model.storageOnNode(s.storage, c.params.node) || !canSeeStorage(c, s.storage)) continue;
    if (c.params.storage && c.params.storage !== s.storage) continue;
    if (c.params.content && !s.content.split(',').includes(c.params.content)) continue;
    out.push(storageStatus(s));
  }
  return out;
});

route('GET /nodes/{node}/storage/{storage}/status', (c) => {
  c.model.checkNode(c.params.node);
  const s = c.model.storageOnNode(c.params.storage, c.params.node);
  if (!s) throw new PveError(400, 'No such storage.');
  return storageStatus(s);
});

route('GET /storage', (c) => {
  return [...c.model.storages.values()]
    .filter((s) => canSeeStorage(c, s.storage) && (!c.params.type || c.params.type === s.type))
    .map((s) => storageConfig(c.model.storages, s));
});

route('GET /storage/{storage}', (c) => {
  const s = c.model.storages.get(c.params.storage);
  if (!s) throw new PveError(500, `storage '${c.params.storage}' does not exist`);
  return storageConfig(c.model.storages, s);
});

const STORAGE_KEYS = new Set(['storage', 'type', 'content', 'shared', 'nodes', 'disable']);

route('POST /storage', (c) => {
  const p = c.params;
  const m = c.model;
  if (m.storages.has(p.storage)) throw new PveError(500, `create storage failed: storage ID '${p.storage}' already defined`);
  const need = (k: string) => {
    if (p[k] === undefined) throw new PveError(400, 'Parameter verification failed.', { [k]: 'property is missing and it is not optional' });
  };
  if (p.type === 'nfs' || p.type === 'cifs') {
    need('server');
    need(p.type === 'nfs' ? 'export' : 'share');
  }
  if (p.type === 'dir') need('path');
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (!STORAGE_KEYS.has(k)) extra[k] = v;
  if ((p.type === 'nfs' || p.type === 'cifs') && extra.path === undefined) extra.path = `/mnt/pve/${p.storage}`;
  m.storages.set(p.storage, {
    storage: p.storage, type: p.type, content: p.content ?? (p.type === 'nfs' ? 'images' : 'images,rootdir'),
    shared: p.shared === 1 || ['nfs', 'cifs', 'rbd', 'cephfs', 'glusterfs'].includes(p.type),
    nodes: p.nodes ? String(p.nodes).split(/[,;\s]+/).filter(Boolean) : undefined,
    total: 1e12, used: 0, disable: p.disable === 1, extra,
  });
  return { storage: p.storage, type: p.type };
});

route('DELETE /storage/{storage}', (c) => {
  if (!c.model.storages.delete(c.params.storage)) throw new PveError(500, `delete storage failed: storage '${c.params.storage}' does not exist`);
  return null;
});

// ---- access ---------------------------------------------------------------------------

route('GET /access/ticket', () => null);

// GET /access/domains: the two realms every installation has (their comments as in a
// fresh domains.cfg, pve-access-control PVE/AccessControl.pm); readable without login
route('GET /access/domains', () => [
  { realm: 'pam', type: 'pam', comment: 'Linux PAM standard authentication' },
  { realm: 'pve', type: 'pve', comment: 'Proxmox VE authentication server' },
]);

// GET /access/users: the caller always, the others with User.Modify or Sys.Audit on
// /access/groups (pve-access-control PVE/API2/User.pm index); tokens with full=1
route('GET /access/users', (c) => {
  const me = c.principal.userid;
  const all = hasPriv(c.principal, '/access/groups', 'User.Modify') || hasPriv(c.principal, '/access/groups', 'Sys.Audit');
  return c.auth
    .listUsers()
    .filter((u) => all || u.userid === me)
    .filter(() => c.params.enabled === undefined || c.params.enabled === 1)
    .map((u) => {
      const realm = u.userid.slice(u.userid.lastIndexOf('@') + 1);
      const e: Record<string, unknown> = { userid: u.userid, enable: 1, expire: 0, 'realm-type': realm === 'pam' ? 'pam' : 'pve' };
      if (c.params.full === 1) e.tokens = u.tokens.map((t) => ({ tokenid: t.tokenid, privsep: t.privsep ? 1 : 0, expire: 0 }));
      return e;
    });
});

// GET /access/groups: the simulator has no groups
route('GET /access/groups', () => []);
