// The simulator must be as strict as a real PVE 9 node: these tests pin each behaviour and
// its exact text, against the compiled executable over HTTPS with real authentication.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import crypto from 'node:crypto';
import apidoc from '../../data/pve-api/apidoc-pve-9.1.json' with { type: 'json' };
import { startSim, waitTask, type SimHandle } from '../helpers/sim.ts';

const T0 = 1700000000;
export const SEED = {
  cluster: 'conf',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }, { node: 'pve9', status: 'offline' }],
  storages: [
    { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 400 },
    { storage: 'thin', type: 'lvmthin', content: 'images,rootdir', nodes: ['pve1', 'pve2'] },
    { storage: 'local', type: 'dir', path: '/var/lib/vz', content: 'images,rootdir,backup' },
    { storage: 'nas', type: 'nfs', server: '10.0.0.5', export: '/vol/x', path: '/mnt/pve/nas', options: 'vers=4.2', content: 'images' },
  ],
  pools: [{ poolid: 'prod' }, { poolid: 'prod/db' }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, tags: ['prod', 'AutoSnapshot'], pool: 'prod',
      disks: { scsi0: 'local-zfs:vm-100-disk-0,size=32G' }, snapshots: [{ name: 'sa', snaptime: T0 }, { name: 'sb', snaptime: T0 + 10, description: 'second' }] },
    { vmid: 101, type: 'qemu', node: 'pve1', name: 'nfs1', status: 'running', disks: { scsi0: 'nas:101/vm-101-disk-0.qcow2,size=8G' },
      snapshots: [{ name: 's1', snaptime: T0 }, { name: 's2', snaptime: T0 + 1 }] },
    { vmid: 102, type: 'lxc', node: 'pve2', name: 'ct1', status: 'running', disks: { rootfs: 'thin:vm-102-disk-0,size=8G' }, pool: 'prod/db' },
    { vmid: 103, type: 'qemu', node: 'pve1', name: 'tmpl', template: true, disks: { scsi0: 'local-zfs:base-103-disk-0,size=8G' }, snapshots: [{ name: 'x1' }] },
    { vmid: 104, type: 'qemu', node: 'pve1', name: 'busy', status: 'running', lock: 'backup', disks: { scsi0: 'local-zfs:vm-104-disk-0,size=8G' } },
    { vmid: 105, type: 'qemu', node: 'pve1', name: 'raw', status: 'running', disks: { scsi0: 'local:105/vm-105-disk-0.raw,size=8G' } },
    { vmid: 106, type: 'qemu', node: 'pve1', name: 'off', status: 'stopped', disks: { scsi0: 'thin:vm-106-disk-0,size=8G' } },
    { vmid: 107, type: 'qemu', node: 'pve2', name: 'noagent', status: 'running', agent: true, agentRunning: false, disks: { scsi0: 'thin:vm-107-disk-0,size=8G' } },
    { vmid: 108, type: 'lxc', node: 'pve1', name: 'stuck', status: 'running', lock: 'snapshot-delete', disks: { rootfs: 'local-zfs:subvol-108-disk-0,size=8G' },
      snapshots: [{ name: 'inc', snaptime: T0, snapstate: 'delete' }] },
    { vmid: 109, type: 'qemu', node: 'pve1', name: 'chain', status: 'running', disks: { scsi0: 'thin:vm-109-disk-0,size=8G' },
      snapshots: [{ name: 'c1', snaptime: T0 }, { name: 'c2', snaptime: T0 + 1 }, { name: 'c3', snaptime: T0 + 2 }] },
    { vmid: 110, type: 'qemu', node: 'pve1', name: 'repl', status: 'running', disks: { scsi0: 'local-zfs:vm-110-disk-0,size=8G' }, snapshots: [{ name: 'replsnap', snaptime: T0 }] },
    { vmid: 111, type: 'qemu', node: 'pve1', name: 'failing', status: 'running', disks: { scsi0: 'thin:vm-111-disk-0,size=8G' },
      snapshots: [{ name: 'f1', snaptime: T0 }, { name: 'f2', snaptime: T0 + 1 }] },
    { vmid: 112, type: 'qemu', node: 'pve1', name: 'stateful', status: 'running', disks: { scsi0: 'thin:vm-112-disk-0,size=8G' } },
  ],
  users: [
    { userid: 'snap@pve', password: 'snap-pw', privileges: { '/vms': ['VM.Audit', 'VM.Snapshot'], '/storage': ['Datastore.Audit'], '/pool': ['Pool.Audit'] },
      tokens: [{ id: 'ro', secret: 'ro-secret', privsep: true, privileges: { '/vms': ['VM.Audit'] } }, { id: 'full', secret: 'full-secret', privsep: false }] },
    { userid: 'audit@pve', password: 'audit-pw', privileges: { '/vms/100': ['VM.Audit'] } },
    { userid: 'root@pam', password: 'root-pw' },
  ],
  replication: [{ id: '110-0', guest: 110, snapshots: ['replsnap'] }],
  backupJobs: [
    { id: 'backup-nightly', schedule: '21:00', storage: 'local', all: true, mode: 'snapshot', compress: 'zstd' },
    { id: 'backup-pve2', schedule: 'mon..fri 23:30', node: 'pve2', vmid: '110', enabled: false },
  ],
};

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01, clock: '2025-06-01T00:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
});

const tls = { rejectUnauthorized: false };
async function raw(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  const r = await fetch(`${sim.url}${path}`, { method, headers: init.headers, body: init.body, tls } as RequestInit);
  return { status: r.status, reason: r.statusText, body: (await r.json().catch(() => null)) as any, headers: r.headers };
}
const as = (token: string) => ({ Authorization: `PVEAPIToken=${token}` });

/** start a task call and wait for its end; returns the final status */
async function runTask(method: string, path: string, params?: Record<string, unknown>) {
  const r = await sim.api(method, path, params);
  expect(r.status).toBe(200);
  return waitTask(sim, r.body.data);
}
const snaps = async (path: string) => (await sim.api('GET', `${path}/snapshot`)).body.data as any[];

describe('envelope and errors', () => {
  test('unknown path: 501 with PVE text; reason phrase = message', async () => {
    const r = await sim.api('GET', '/nodes/pve1/bogus');
    expect([r.status, r.reason, r.body]).toEqual([501, "Method 'GET /nodes/pve1/bogus' not implemented", { data: null, message: "Method 'GET /nodes/pve1/bogus' not implemented" }]);
  });
  test('known path, unknown method: 501', async () => {
    const r = await sim.api('PUT', '/version');
    expect(r.status).toBe(501);
    expect(r.body.message).toBe("Method 'PUT /version' not implemented");
  });
  test('parameter errors: 400, errors object, reason phrase', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'bad name', extra: 1 });
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Parameter verification failed.');
    expect(r.body).toEqual({
      data: null, message: 'Parameter verification failed.',
      errors: { snapname: "invalid format - invalid configuration ID 'bad name'", extra: 'property is not defined in schema and the schema does not allow additional properties' },
    });
  });
  test('JSON bodies with JSON booleans work like form bodies', async () => {
    const r = await raw('POST', '/api2/json/nodes/pve1/qemu/106/snapshot', {
      headers: { ...as(sim.token), 'Content-Type': 'application/json' }, body: JSON.stringify({ snapname: 'json1', vmstate: true }),
    });
    expect(r.status).toBe(200);
    expect((await waitTask(sim, r.body.data)).exitstatus).toBe('OK');
    // vmstate is ignored for a stopped VM
    expect((await snaps('/nodes/pve1/qemu/106')).find((s) => s.name === 'json1').vmstate).toBe(0);
  });
  test('a request for an unknown node fails like pveproxy', async () => {
    const r = await sim.api('GET', '/nodes/nosuch/qemu/100/snapshot');
    expect(r.status).toBe(500);
    expect(r.body.message).toBe("hostname lookup 'nosuch' failed - failed to get address info for: nosuch: Name or service not known");
    expect((await sim.api('GET', '/nodes/pve9/qemu/100/snapshot')).status).toBe(595);
  });
});

describe('authentication', () => {
  test('no credentials: 401 No ticket', async () => {
    const r = await raw('GET', '/api2/json/version');
    expect([r.status, r.reason]).toEqual([401, 'No ticket']);
  });
  test.each([
    ['PVEAPIToken=root@pam!test=wrong'],
    ['PVEAPIToken=root@pam!nosuch=x'],
    ['PVEAPIToken=garbage'],
  ])('%s: 401 authentication failure', async (header) => {
    const r = await raw('GET', '/api2/json/version', { headers: { Authorization: header } });
    expect([r.status, r.body?.message]).toEqual([401, 'authentication failure']);
  });
  test('a blank instead of = after PVEAPIToken is accepted', async () => {
    expect((await raw('GET', '/api2/json/version', { headers: { Authorization: `PVEAPIToken ${sim.token}` } })).status).toBe(200);
  });
  test('ticket login, cookie, CSRF on writes', async () => {
    const login = await raw('POST', '/api2/json/access/ticket', { body: 'username=snap@pve&password=snap-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(login.status).toBe(200);
    const { ticket, CSRFPreventionToken, username, clustername } = login.body.data;
    expect(ticket).toMatch(/^PVE:snap@pve:[0-9A-F]{8}::\S+$/);
    expect([username, clustername]).toEqual(['snap@pve', 'conf']);
    const cookie = `PVEAuthCookie=${encodeURIComponent(ticket)}`;
    expect((await raw('GET', '/api2/json/version', { headers: { Cookie: cookie } })).status).toBe(200);
    const noCsrf = await raw('POST', '/api2/json/nodes/pve1/qemu/106/snapshot', { headers: { Cookie: cookie }, body: 'snapname=tk1' });
    expect([noCsrf.status, noCsrf.reason]).toEqual([401, 'Permission denied - invalid csrf token']);
    const ok = await raw('POST', '/api2/json/nodes/pve1/qemu/106/snapshot', { headers: { Cookie: cookie, CSRFPreventionToken }, body: 'snapname=tk1' });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toContain(':qmsnapshot:106:snap@pve:');
    await waitTask(sim, ok.body.data);
  });
  test('wrong password: 401 authentication failure', async () => {
    const r = await raw('POST', '/api2/json/access/ticket', { body: 'username=snap&realm=pve&password=nope', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect([r.status, r.reason]).toEqual([401, 'authentication failure']);
  });
  test('a ticket expires after 2 h of simulated time', async () => {
    const login = await raw('POST', '/api2/json/access/ticket', { body: 'username=audit@pve&password=audit-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    const cookie = `PVEAuthCookie=${encodeURIComponent(login.body.data.ticket)}`;
    await sim.control('/clock', { advance: 7300 });
    try {
      expect((await raw('GET', '/api2/json/version', { headers: { Cookie: cookie } })).status).toBe(401);
    } finally {
      await sim.control('/clock', { advance: -7300 });
    }
  });
});

describe('privileges', () => {
  const ro = 'snap@pve!ro=ro-secret';
  const full = 'snap@pve!full=full-secret';
  test('privilege-separated token: listing works, creating is 403 with PVE text', async () => {
    expect((await raw('GET', '/api2/json/nodes/pve1/qemu/100/snapshot', { headers: as(ro) })).status).toBe(200);
    const r = await raw('POST', '/api2/json/nodes/pve1/qemu/100/snapshot', { headers: as(ro), body: 'snapname=nope' });
    expect([r.status, r.reason, r.body.message]).toEqual([403, 'Permission check failed (/vms/100, VM.Snapshot)', 'Permission check failed (/vms/100, VM.Snapshot)']);
  });
  test('a token without privilege separation has its user\'s privileges', async () => {
    const r = await raw('POST', '/api2/json/nodes/pve1/qemu/106/snapshot', { headers: as(full), body: 'snapname=full1' });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatch(/:qmsnapshot:106:snap@pve!full:$/);
    await waitTask(sim, r.body.data);
  });
  test('/cluster/resources is filtered per guest by VM.Audit', async () => {
    const login = await raw('POST', '/api2/json/access/ticket', { body: 'username=audit@pve&password=audit-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    const cookie = `PVEAuthCookie=${encodeURIComponent(login.body.data.ticket)}`;
    const r = await raw('GET', '/api2/json/cluster/resources?type=vm', { headers: { Cookie: cookie } });
    expect(r.body.data.map((g: any) => g.vmid)).toEqual([100]);
    const p = await raw('GET', '/api2/json/pools?poolid=prod', { headers: { Cookie: cookie } });
    expect([p.status, p.body.message]).toEqual([403, 'Permission check failed (/pool/prod, Pool.Audit)']);
  });
});

describe('inventory', () => {
  test('cluster resources: fields of a guest', async () => {
    const r = await sim.api('GET', '/cluster/resources', { type: 'vm' });
    expect(r.body.data.find((g: any) => g.vmid === 100)).toMatchObject({ id: 'qemu/100', type: 'qemu', node: 'pve1', name: 'web1', status: 'running', template: 0, tags: 'prod;AutoSnapshot', pool: 'prod' });
    expect(r.body.data.find((g: any) => g.vmid === 104).lock).toBe('backup');
    expect(r.body.data.find((g: any) => g.vmid === 103).template).toBe(1);
  });
  test('storage resources per node', async () => {
    const r = await sim.api('GET', '/cluster/resources', { type: 'storage' });
    expect(r.body.data.find((s: any) => s.id === 'storage/pve1/local-zfs')).toMatchObject({ storage: 'local-zfs', node: 'pve1', disk: 400, maxdisk: 1000, plugintype: 'zfspool', shared: 0 });
    expect(r.body.data.some((s: any) => s.id === 'storage/pve2/local-zfs')).toBe(false);
  });
  test('pools: nested pool members, unknown pool', async () => {
    const r = await sim.api('GET', '/pools', { poolid: 'prod/db' });
    expect(r.body.data[0].members.map((m: any) => [m.id, m.node, m.type, m.vmid])).toEqual([['lxc/102', 'pve2', 'lxc', 102]]);
    const prod = await sim.api('GET', '/pools', { poolid: 'prod' });
    expect(prod.body.data[0].members.map((m: any) => m.vmid)).toEqual([100]);
    const bad = await sim.api('GET', '/pools', { poolid: 'nope' });
    expect([bad.status, bad.body.message]).toEqual([500, "pool 'nope' does not exist"]);
  });
  test('config and status/current', async () => {
    const c = (await sim.api('GET', '/nodes/pve1/qemu/100/config')).body.data;
    expect(c).toMatchObject({ name: 'web1', agent: '1', scsi0: 'local-zfs:vm-100-disk-0,size=32G', tags: 'prod;AutoSnapshot', parent: 'sb' });
    expect(c.digest).toMatch(/^[0-9a-f]{40}$/);
    const s = (await sim.api('GET', '/nodes/pve1/qemu/104/status/current')).body.data;
    expect(s).toMatchObject({ status: 'running', lock: 'backup', name: 'busy' });
    const missing = await sim.api('GET', '/nodes/pve2/qemu/100/config');
    expect([missing.status, missing.body.message]).toEqual([500, "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist"]);
  });
  test('storage status and unknown storage', async () => {
    const s = (await sim.api('GET', '/nodes/pve1/storage/local-zfs/status')).body.data;
    expect(s).toMatchObject({ type: 'zfspool', total: 1000, used: 400, avail: 600, active: 1, enabled: 1, shared: 0 });
    const bad = await sim.api('GET', '/nodes/pve2/storage/local-zfs/status');
    expect([bad.status, bad.body.message]).toEqual([400, 'No such storage.']);
  });
});

describe('snapshot list', () => {
  test('entries, then current last with "You are here!"', async () => {
    const list = await snaps('/nodes/pve1/qemu/100');
    expect(list[list.length - 1]).toMatchObject({ name: 'current', description: 'You are here!', parent: 'sb', running: 1 });
    expect(list.find((s) => s.name === 'sb')).toEqual({ name: 'sb', snaptime: T0 + 10, description: 'second', parent: 'sa', vmstate: 0 });
    expect(list.find((s) => s.name === 'sa')).toEqual({ name: 'sa', snaptime: T0, description: '', vmstate: 0 });
  });
  test('LXC entries have no vmstate', async () => {
    const list = await snaps('/nodes/pve1/lxc/108');
    expect(list.find((s) => s.name === 'inc')).toEqual({ name: 'inc', snaptime: T0, description: '', snapstate: 'delete' });
  });
  test('the order is not fixed', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 30 && orders.size < 2; i++) orders.add((await snaps('/nodes/pve1/qemu/109')).map((s) => s.name).join(','));
    expect(orders.size).toBeGreaterThan(1);
  });
});

describe('snapshot create', () => {
  test.each([
    ['qemu', 100, 'current'], ['qemu', 100, 'pending'], ['qemu', 100, 'PENDING'], ['lxc', 102, 'vzdump'], ['lxc', 102, 'current'],
  ])('%s reserved name %s: HTTP 500 before any task', async (type, vmid, name) => {
    const node = type === 'lxc' ? 'pve2' : 'pve1';
    const r = await sim.api('POST', `/nodes/${node}/${type}/${vmid}/snapshot`, { snapname: name });
    expect([r.status, r.body.message]).toEqual([500, `unable to use snapshot name '${name.toLowerCase() === 'pending' ? 'pending' : name}' (reserved name)`]);
  });
  test('QEMU: missing config is an HTTP 500', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/999/snapshot', { snapname: 'x1' });
    expect([r.status, r.body.message]).toEqual([500, "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"]);
  });
  test('LXC: missing config is a failed task', async () => {
    const st = await runTask('POST', '/nodes/pve1/lxc/999/snapshot', { snapname: 'x1' });
    expect(st.exitstatus).toBe("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
  });
  test.each([
    ['template', '/nodes/pve1/qemu/103', 'y1', "you can't take a snapshot if it's a template"],
    ['locked VM', '/nodes/pve1/qemu/104', 'y1', 'VM is locked (backup)'],
    ['locked CT', '/nodes/pve1/lxc/108', 'y1', 'CT is locked (snapshot-delete)'],
    ['name used', '/nodes/pve1/qemu/100', 'sa', "snapshot name 'sa' already used"],
    ['raw on dir', '/nodes/pve1/qemu/105', 'y1', 'snapshot feature is not available'],
  ])('%s: failed task with PVE text', async (_what, path, name, text) => {
    const st = await runTask('POST', `${path}/snapshot`, { snapname: name });
    expect(st.exitstatus).toBe(text);
    expect(st.status).toBe('stopped');
  });
  test('template is checked before the lock, the lock before the name', async () => {
    await sim.control('/lock', { vmid: 103, lock: 'backup' });
    try {
      expect((await runTask('POST', '/nodes/pve1/qemu/103/snapshot', { snapname: 'x1' })).exitstatus).toBe("you can't take a snapshot if it's a template");
    } finally {
      await sim.control('/lock', { vmid: 103, lock: null });
    }
    expect((await runTask('POST', '/nodes/pve1/qemu/104/snapshot', { snapname: 'x1' })).exitstatus).toBe('VM is locked (backup)');
  });
  test('vmstate on a running VM is kept; the new snapshot becomes the parent of current', async () => {
    expect((await runTask('POST', '/nodes/pve1/qemu/112/snapshot', { snapname: 'ram1', vmstate: 1, description: 'with RAM' })).exitstatus).toBe('OK');
    const list = await snaps('/nodes/pve1/qemu/112');
    expect(list.find((s) => s.name === 'ram1')).toMatchObject({ vmstate: 1, description: 'with RAM' });
    expect(list[list.length - 1].parent).toBe('ram1');
  });
  test('task log: lines, total, TASK OK last', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/100/snapshot', { snapname: 'logged' });
    await waitTask(sim, r.body.data);
    const log = await sim.api('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/log`);
    expect(log.body.data[0]).toEqual({ n: 1, t: "issuing guest-agent 'fs-freeze' command" });
    expect(log.body.data[log.body.data.length - 1].t).toBe('TASK OK');
    expect(log.body.total).toBe(log.body.data.length);
    const page = await sim.api('GET', `/nodes/pve1/tasks/${encodeURIComponent(r.body.data)}/log`, { start: 1, limit: 1 });
    expect(page.body.data).toEqual([{ n: 2, t: "snapshotting 'drive-scsi0' (local-zfs:vm-100-disk-0)" }]);
  });
  test('snapshot config: GET and PUT description', async () => {
    const g = await sim.api('GET', '/nodes/pve1/qemu/100/snapshot/sb/config');
    expect(g.body.data).toMatchObject({ snaptime: T0 + 10, description: 'second', parent: 'sa', scsi0: 'local-zfs:vm-100-disk-0,size=32G' });
    const p = await sim.api('PUT', '/nodes/pve1/qemu/100/snapshot/sb/config', { description: 'changed' });
    expect([p.status, p.body]).toEqual([200, { data: null }]);
    expect((await snaps('/nodes/pve1/qemu/100')).find((s) => s.name === 'sb').description).toBe('changed');
    const m = await sim.api('GET', '/nodes/pve1/qemu/100/snapshot/nope/config');
    expect([m.status, m.body.message]).toEqual([500, "snapshot 'nope' does not exist"]);
  });
});

describe('snapshot delete', () => {
  test('missing snapshot: failed task', async () => {
    expect((await runTask('DELETE', '/nodes/pve1/qemu/100/snapshot/nope')).exitstatus).toBe("snapshot 'nope' does not exist");
  });
  test('template', async () => {
    expect((await runTask('DELETE', '/nodes/pve1/qemu/103/snapshot/x1')).exitstatus).toBe("you can't delete a snapshot if vm is a template");
  });
  test('a snapshot with children: children are re-linked to its parent', async () => {
    expect((await runTask('DELETE', '/nodes/pve1/qemu/109/snapshot/c2')).exitstatus).toBe('OK');
    const list = await snaps('/nodes/pve1/qemu/109');
    expect(list.find((s) => s.name === 'c3').parent).toBe('c1');
    expect(list.some((s) => s.name === 'c2')).toBe(false);
  });
  test('replication snapshot: refused unless forced', async () => {
    expect((await runTask('DELETE', '/nodes/pve1/qemu/110/snapshot/replsnap')).exitstatus).toBe("snapshot 'replsnap' needed by replication job '110-0' - run replication first");
  });
  test('a failed delete leaves lock snapshot-delete and snapstate delete; the lock blocks every delete, forced or not', async () => {
    await sim.control('/faults', { spec: 'taskfail=111:qmdelsnapshot:zfs error: dataset is busy' });
    try {
      expect((await runTask('DELETE', '/nodes/pve1/qemu/111/snapshot/f1')).exitstatus).toBe('zfs error: dataset is busy');
      const status = (await sim.api('GET', '/nodes/pve1/qemu/111/status/current')).body.data;
      expect(status.lock).toBe('snapshot-delete');
      expect((await snaps('/nodes/pve1/qemu/111')).find((s) => s.name === 'f1').snapstate).toBe('delete');
      expect((await runTask('DELETE', '/nodes/pve1/qemu/111/snapshot/f2')).exitstatus).toBe('VM is locked (snapshot-delete)');
      // force only means "drop it from the config even if the disk part fails": the leftover lock still refuses
      expect((await runTask('DELETE', '/nodes/pve1/qemu/111/snapshot/f1', { force: 1 })).exitstatus).toBe('VM is locked (snapshot-delete)');
      expect((await runTask('POST', '/nodes/pve1/qemu/111/snapshot/f1/rollback')).exitstatus).toBe('unable to rollback to incomplete snapshot (snapstate = delete)');
      expect((await snaps('/nodes/pve1/qemu/111')).map((s) => [s.name, s.snapstate]).sort()).toEqual([['current', undefined], ['f1', 'delete'], ['f2', undefined]]);
      // a delete on the half-deleted snapshot that fails again leaves the same state
      await rootUnlock('qemu', 111);
      expect((await runTask('DELETE', '/nodes/pve1/qemu/111/snapshot/f1')).exitstatus).toBe('zfs error: dataset is busy');
      expect((await sim.api('GET', '/nodes/pve1/qemu/111/config')).body.data.lock).toBe('snapshot-delete');
      // qm unlock, then force: the disk part fails again, the snapshot leaves the config anyway
      await rootUnlock('qemu', 111);
      expect((await runTask('DELETE', '/nodes/pve1/qemu/111/snapshot/f1', { force: 1 })).exitstatus).toBe('WARNINGS: 1');
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect((await snaps('/nodes/pve1/qemu/111')).some((s) => s.name === 'f1')).toBe(false);
    expect((await sim.api('GET', '/nodes/pve1/qemu/111/status/current')).body.data.lock).toBeUndefined();
  });
  test('order: a missing snapshot is reported before the lock, the lock before the template', async () => {
    expect((await runTask('DELETE', '/nodes/pve1/lxc/108/snapshot/nope')).exitstatus).toBe("snapshot 'nope' does not exist");
    expect((await runTask('DELETE', '/nodes/pve1/lxc/108/snapshot/inc', { force: 1 })).exitstatus).toBe('CT is locked (snapshot-delete)');
    expect((await runTask('DELETE', '/nodes/pve1/qemu/104/snapshot/nope')).exitstatus).toBe("snapshot 'nope' does not exist");
  });
});

/** A ticket session of root@pam: the only caller PVE lets use skiplock or touch `lock`. */
async function rootSession() {
  const login = await raw('POST', '/api2/json/access/ticket', { body: 'username=root@pam&password=root-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  expect(login.status).toBe(200);
  const { ticket, CSRFPreventionToken } = login.body.data;
  return (method: string, path: string, form: Record<string, string> = {}) =>
    raw(method, `/api2/json${path}`, {
      headers: { Cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}`, CSRFPreventionToken, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
}
/** `qm unlock` as the API offers it */
async function rootUnlock(type: 'qemu' | 'lxc', vmid: number) {
  const r = await (await rootSession())('PUT', `/nodes/pve1/${type}/${vmid}/config`, { delete: 'lock', skiplock: '1' });
  expect([r.status, r.body]).toEqual([200, { data: null }]);
}

describe('clearing a lock (qm unlock over the API)', () => {
  const cfg = async (type: string, vmid: number) => (await sim.api('GET', `/nodes/pve1/${type}/${vmid}/config`)).body.data;
  test('skiplock is root@pam only: refused to any token, root@pam!test included', async () => {
    await sim.control('/lock', { vmid: 112, lock: 'snapshot-delete' });
    try {
      const r = await sim.api('PUT', '/nodes/pve1/qemu/112/config', { delete: 'lock', skiplock: 1 });
      expect([r.status, r.reason, r.body]).toEqual([400, 'Parameter verification failed.', { data: null, message: 'Parameter verification failed.', errors: { skiplock: 'Only root may use this option.' } }]);
      const noSkip = await sim.api('PUT', '/nodes/pve1/qemu/112/config', { delete: 'lock' });
      expect([noSkip.status, noSkip.body.message]).toEqual([500, "only root can set 'lock' config"]);
      const setLock = await sim.api('PUT', '/nodes/pve1/qemu/112/config', { lock: 'backup' });
      expect([setLock.status, setLock.body.message]).toEqual([500, "only root can set 'lock' config"]);
      expect((await cfg('qemu', 112)).lock).toBe('snapshot-delete');
      // root@pam without skiplock meets the lock like anyone
      const root = await rootSession();
      const locked = await root('PUT', '/nodes/pve1/qemu/112/config', { delete: 'lock' });
      expect([locked.status, locked.body.message]).toEqual([500, 'VM is locked (snapshot-delete)']);
      // a stale digest refuses even root's unlock
      const stale = await root('PUT', '/nodes/pve1/qemu/112/config', { delete: 'lock', skiplock: '1', digest: '0'.repeat(40) });
      expect([stale.status, stale.body.message]).toEqual([500, 'detected modified configuration - file changed by other user? Try again.']);
      expect((await cfg('qemu', 112)).lock).toBe('snapshot-delete');
      const ok = await root('PUT', '/nodes/pve1/qemu/112/config', { delete: 'lock', skiplock: '1', digest: (await cfg('qemu', 112)).digest });
      expect([ok.status, ok.body]).toEqual([200, { data: null }]);
      expect((await cfg('qemu', 112)).lock).toBeUndefined();
      expect((await sim.api('GET', '/nodes/pve1/qemu/112/status/current')).body.data.lock).toBeUndefined();
    } finally {
      await sim.control('/lock', { vmid: 112, lock: null });
    }
  });
  test('containers: no skiplock in the schema, and the lock is checked before any change', async () => {
    const r = await sim.api('PUT', '/nodes/pve1/lxc/108/config', { delete: 'lock', skiplock: 1 });
    expect([r.status, r.body.errors]).toEqual([400, { skiplock: 'property is not defined in schema and the schema does not allow additional properties' }]);
    const root = await rootSession();
    const locked = await root('PUT', '/nodes/pve1/lxc/108/config', { delete: 'lock' });
    expect([locked.status, locked.body.message]).toEqual([500, 'CT is locked (snapshot-delete)']);
    expect((await cfg('lxc', 108)).lock).toBe('snapshot-delete');
  });
});

describe('rollback', () => {
  test('ZFS refuses to roll back past a newer snapshot', async () => {
    expect((await runTask('POST', '/nodes/pve1/qemu/100/snapshot/sa/rollback')).exitstatus).toBe("can't rollback, 'sa' is not most recent snapshot on 'local-zfs:vm-100-disk-0'");
  });
  test('qcow2 on NFS allows it; the VM is stopped hard and current follows', async () => {
    const st = await runTask('POST', '/nodes/pve1/qemu/101/snapshot/s1/rollback');
    expect(st.exitstatus).toBe('OK');
    const list = await snaps('/nodes/pve1/qemu/101');
    expect(list.map((s) => s.name).sort()).toEqual(['current', 's1', 's2']);
    expect(list[list.length - 1]).toMatchObject({ parent: 's1', running: 0 });
  });
  test('a snapshot with vmstate resumes the VM', async () => {
    await sim.control('/lock', { vmid: 112, lock: null });
    expect((await runTask('POST', '/nodes/pve1/qemu/112/snapshot/ram1/rollback')).exitstatus).toBe('OK');
    expect((await sim.api('GET', '/nodes/pve1/qemu/112/status/current')).body.data.status).toBe('running');
  });
  test('locked guest and template are refused', async () => {
    expect((await runTask('POST', '/nodes/pve1/qemu/103/snapshot/x1/rollback')).exitstatus).toBe("you can't rollback if vm is a template");
  });
});

describe('tasks', () => {
  test('bad UPID: 400; unknown: no such task', async () => {
    const bad = await sim.api('GET', '/nodes/pve1/tasks/nonsense/status');
    expect([bad.status, bad.body.message]).toEqual([400, 'unable to parse worker upid']);
    const unknown = await sim.api('GET', `/nodes/pve1/tasks/${encodeURIComponent('UPID:pve1:00000001:00000001:00000001:qmsnapshot:100:root@pam:')}/status`);
    expect([unknown.status, unknown.body.message]).toEqual([500, 'no such task']);
  });
  test('status fields', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/106/snapshot', { snapname: 'st1' });
    const st = await waitTask(sim, r.body.data);
    expect(st).toMatchObject({ upid: r.body.data, node: 'pve1', type: 'qmsnapshot', id: '106', user: 'root@pam', tokenid: 'test', status: 'stopped', exitstatus: 'OK' });
  });
});

describe('power and agent', () => {
  test.each([
    [106, 'pve1', 'No QEMU guest agent configured'],
    [107, 'pve2', 'QEMU guest agent is not running'],
  ])('agent ping %d: %s', async (vmid, node, text) => {
    const r = await sim.api('POST', `/nodes/${node}/qemu/${vmid}/agent/ping`);
    expect([r.status, r.body.message]).toEqual([500, text]);
  });
  test('agent ping on a stopped VM with an agent', async () => {
    expect((await runTask('POST', '/nodes/pve1/qemu/100/status/shutdown')).exitstatus).toBe('OK');
    const r = await sim.api('POST', '/nodes/pve1/qemu/100/agent/ping');
    expect([r.status, r.body.message]).toEqual([500, 'VM 100 is not running']);
    expect((await runTask('POST', '/nodes/pve1/qemu/100/status/start')).exitstatus).toBe('OK');
    expect((await sim.api('POST', '/nodes/pve1/qemu/100/agent/ping')).status).toBe(200);
  });
  test('suspend to disk and resume', async () => {
    const r = await sim.api('POST', '/nodes/pve1/qemu/112/status/suspend', { todisk: 1 });
    expect(r.body.data).toContain(':qmsuspend:112:');
    await waitTask(sim, r.body.data);
    expect((await sim.api('GET', '/nodes/pve1/qemu/112/status/current')).body.data).toMatchObject({ status: 'stopped', lock: 'suspended' });
    expect((await runTask('POST', '/nodes/pve1/qemu/112/status/resume')).exitstatus).toBe('OK');
    const after = (await sim.api('GET', '/nodes/pve1/qemu/112/status/current')).body.data;
    expect([after.status, after.lock]).toEqual(['running', undefined]);
  });
});

describe('storage config', () => {
  test('add an NFS storage, refuse a duplicate, delete, refuse a missing one', async () => {
    const add = await sim.api('POST', '/storage', { storage: 'clone1', type: 'nfs', server: '10.0.0.9', export: '/vol/clone1', content: 'images' });
    expect(add.status).toBe(200);
    expect((await sim.api('GET', '/storage/clone1')).body.data).toMatchObject({ storage: 'clone1', type: 'nfs', server: '10.0.0.9', export: '/vol/clone1', path: '/mnt/pve/clone1' });
    const dup = await sim.api('POST', '/storage', { storage: 'clone1', type: 'nfs', server: '10.0.0.9', export: '/vol/clone1' });
    expect([dup.status, dup.body.message]).toEqual([500, "create storage failed: storage ID 'clone1' already defined"]);
    expect((await sim.api('DELETE', '/storage/clone1')).status).toBe(200);
    const gone = await sim.api('DELETE', '/storage/clone1');
    expect([gone.status, gone.body.message]).toEqual([500, "delete storage failed: storage 'clone1' does not exist"]);
  });
});

describe('faults and control API', () => {
  test('fail and failn', async () => {
    await sim.control('/faults', { spec: 'fail=GET:^/version$:596:Connection timed out; failn=1:GET:/cluster/resources:503' });
    try {
      const r = await sim.api('GET', '/version');
      expect([r.status, r.reason, r.body.message]).toEqual([596, 'Connection timed out', 'Connection timed out']);
      expect((await sim.api('GET', '/cluster/resources')).status).toBe(503);
      expect((await sim.api('GET', '/cluster/resources')).status).toBe(200);
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect((await sim.api('GET', '/version')).status).toBe(200);
  });
  test('drop closes the connection without an answer', async () => {
    await sim.control('/faults', { spec: 'drop=1' });
    try {
      await expect(sim.api('GET', '/version')).rejects.toThrow();
    } finally {
      await sim.control('/faults', { spec: '' });
    }
  });
  test('a bad spec is refused and names the fault', async () => {
    await expect(sim.control('/faults', { spec: 'latency=fast' })).rejects.toThrow("fault latency: 'fast' is not a number of milliseconds");
  });
  test('lock via control shows up in cluster resources; clock can be set', async () => {
    await sim.control('/lock', { vmid: 106, lock: 'migrate' });
    const g = (await sim.api('GET', '/cluster/resources', { type: 'vm' })).body.data.find((x: any) => x.vmid === 106);
    expect(g.lock).toBe('migrate');
    await sim.control('/lock', { vmid: 106, lock: null });
    const c = await sim.control('/clock', { now: '2030-01-01T00:00:00Z' });
    expect(c.now.slice(0, 16)).toBe('2030-01-01T00:00');
    const st = await sim.control('/state');
    expect(st.now.slice(0, 4)).toBe('2030');
    await sim.control('/clock', { now: '2025-06-01T00:00:00Z' });
  });
  test('stats count requests by method and schema path', async () => {
    const before = (await sim.control('/stats')).requests['GET /nodes/{node}/qemu/{vmid}/snapshot'] ?? 0;
    await snaps('/nodes/pve1/qemu/100');
    const after = (await sim.control('/stats')).requests['GET /nodes/{node}/qemu/{vmid}/snapshot'];
    expect(after).toBe(before + 1);
  });
  test('the control API needs a full-privilege token', async () => {
    const r = await raw('GET', '/_sim/state', { headers: as('snap@pve!ro=ro-secret') });
    expect(r.status).toBe(403);
  });
});

describe('guest config changes', () => {
  test('POST config adds a disk as a task; PUT refuses a locked guest and a stale digest', async () => {
    const st = await runTask('POST', '/nodes/pve1/qemu/106/config', { scsi1: 'nas:4' });
    expect(st.exitstatus).toBe('OK');
    expect(st.type).toBe('qmconfig');
    const cfg = (await sim.api('GET', '/nodes/pve1/qemu/106/config')).body.data;
    expect(cfg.scsi1).toBe('nas:106/vm-106-disk-1.qcow2,size=4G');
    const locked = await sim.api('PUT', '/nodes/pve1/qemu/104/config', { description: 'x' });
    expect([locked.status, locked.body.message]).toEqual([500, 'VM is locked (backup)']);
    const stale = await sim.api('PUT', '/nodes/pve1/qemu/106/config', { delete: 'scsi1', digest: '0'.repeat(40) });
    expect([stale.status, stale.body.message]).toEqual([500, 'detected modified configuration - file changed by other user? Try again.']);
    expect((await sim.api('PUT', '/nodes/pve1/qemu/106/config', { delete: 'scsi1', digest: cfg.digest })).status).toBe(200);
    expect((await sim.api('GET', '/nodes/pve1/qemu/106/config')).body.data.scsi1).toBeUndefined();
  });
});

describe('task lists of a node: source, vmid, typefilter', () => {
  // its own simulator with deletes that take a minute, so a running task can be seen
  let slow: SimHandle;
  beforeAll(async () => {
    slow = await startSim({
      seed: {
        nodes: [{ node: 'pve1' }],
        storages: [{ storage: 'local-zfs', type: 'zfspool', nodes: ['pve1'] }],
        guests: [
          { vmid: 100, type: 'qemu', node: 'pve1', status: 'running', disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' }, snapshots: [{ name: 'a1' }, { name: 'a2' }] },
          { vmid: 101, type: 'lxc', node: 'pve1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' }, snapshots: [{ name: 'b1' }] },
        ],
        taskDurations: { qmdelsnapshot: 600, vzdelsnapshot: 0 },
      },
    });
  });
  afterAll(async () => {
    await slow?.stop();
  });
  test('a running delete is active, not archived; finished ones are archived', async () => {
    const done = await slow.api('DELETE', '/nodes/pve1/lxc/101/snapshot/b1');
    await waitTask(slow, done.body.data);
    const running = (await slow.api('DELETE', '/nodes/pve1/qemu/100/snapshot/a1')).body.data as string;
    const list = async (q: Record<string, unknown>) => ((await slow.api('GET', '/nodes/pve1/tasks', q)).body.data as any[]).map((t) => t.upid);
    expect(await list({ source: 'active' })).toEqual([running]);
    expect(await list({ source: 'active', vmid: 101 })).toEqual([]);
    expect(await list({ source: 'active', vmid: 100, typefilter: 'qmdelsnapshot' })).toEqual([running]);
    expect(await list({ source: 'active', typefilter: 'vzdelsnapshot' })).toEqual([]);
    expect(await list({})).toEqual([done.body.data]);
    expect(await list({ source: 'all' })).toEqual([running, done.body.data]);
    const entry = ((await slow.api('GET', '/nodes/pve1/tasks', { source: 'active' })).body.data as any[])[0];
    // an active entry keeps the token's full name and says RUNNING (Tasks.pm node_tasks)
    expect(entry).toMatchObject({ type: 'qmdelsnapshot', id: '100', user: 'root@pam!test', status: 'RUNNING' });
    expect(entry.endtime).toBeUndefined();
    // while it runs the guest looks exactly like a stuck delete
    expect((await slow.api('GET', '/nodes/pve1/qemu/100/config')).body.data.lock).toBe('snapshot-delete');
    const bad = await slow.api('GET', '/nodes/pve1/tasks', { source: 'running' });
    expect([bad.status, bad.body.errors]).toEqual([400, { source: "value 'running' does not have a value in the enumeration 'archive, active, all'" }]);
  });
});

// ---- read-only paths real clients call, checked against the returns schema of the
// official apidoc (data/pve-api/apidoc-pve-9.1.json)

type Schema = { type?: string; optional?: number; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: number; enum?: string[] };
function returnsOf(method: string, apiPath: string): Schema {
  const walk = (nodes: any[]): any => {
    for (const n of nodes) {
      if (n.path === apiPath) return n;
      const hit = n.children && walk(n.children);
      if (hit) return hit;
    }
  };
  return walk(apidoc as any[]).info[method].returns;
}
/** every problem of `v` against `s`: a missing non-optional property, a wrong type, an extra key where none is allowed */
function schemaProblems(s: Schema, v: unknown, at = '$'): string[] {
  const t = s.type;
  if (t === 'array') return Array.isArray(v) ? v.flatMap((x, i) => (s.items ? schemaProblems(s.items, x, `${at}[${i}]`) : [])) : [`${at}: not an array`];
  if (t === 'object') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${at}: not an object`];
    const o = v as Record<string, unknown>;
    const out: string[] = [];
    for (const [k, ps] of Object.entries(s.properties ?? {})) {
      if (o[k] === undefined) {
        if (!ps.optional) out.push(`${at}.${k}: missing`);
      } else out.push(...schemaProblems(ps, o[k], `${at}.${k}`));
    }
    if (s.additionalProperties === 0) for (const k of Object.keys(o)) if (!(k in (s.properties ?? {}))) out.push(`${at}.${k}: not in the schema`);
    return out;
  }
  if (t === 'integer') return Number.isInteger(v) ? [] : [`${at}: not an integer`];
  if (t === 'number') return typeof v === 'number' ? [] : [`${at}: not a number`];
  if (t === 'boolean') return v === 0 || v === 1 ? [] : [`${at}: not 0/1`];
  if (t === 'string') return typeof v === 'string' && (!s.enum || s.enum.includes(v)) ? [] : [`${at}: not a string of the schema`];
  return [];
}

describe('read-only paths of real clients: schema-valid answers', () => {
  test.each([
    ['/cluster/status', '/cluster/status', {}],
    ['/pools/{poolid}', '/pools/prod', {}],
    ['/pools/{poolid}', '/pools/prod', { type: 'lxc' }],
    ['/access/users', '/access/users', { full: 1 }],
    ['/access/domains', '/access/domains', {}],
    ['/access/groups', '/access/groups', {}],
    ['/nodes/{node}/qemu/{vmid}/rrddata', '/nodes/pve1/qemu/100/rrddata', { timeframe: 'hour' }],
    ['/nodes/{node}/lxc/{vmid}/rrddata', '/nodes/pve2/lxc/102/rrddata', { timeframe: 'day', cf: 'MAX' }],
    ['/storage', '/storage', {}],
    ['/cluster/backup', '/cluster/backup', {}],
  ])('GET %s (%s)', async (schemaPath, p, params) => {
    const r = await sim.api('GET', p, params);
    expect(r.status).toBe(200);
    expect(schemaProblems(returnsOf('GET', schemaPath), r.body.data)).toEqual([]);
  });
  test('backup jobs: as jobs.cfg holds them, next-run from the simulated now, Sys.Audit on / needed', async () => {
    const jobs = (await sim.api('GET', '/cluster/backup')).body.data;
    // 2025-06-01T00:00:00Z is a Sunday; the simulator's zone decides the local times
    const local = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo - 1, d, h, mi).getTime() / 1000;
    const now = Date.parse('2025-06-01T00:00:00Z') / 1000;
    const nightly = [local(2025, 5, 31, 21, 0), local(2025, 6, 1, 21, 0)].find((t) => t > now);
    expect(jobs).toEqual([
      { type: 'vzdump', id: 'backup-nightly', schedule: '21:00', storage: 'local', all: 1, mode: 'snapshot', compress: 'zstd', enabled: 1, 'next-run': nightly },
      { type: 'vzdump', id: 'backup-pve2', schedule: 'mon..fri 23:30', node: 'pve2', vmid: '110', enabled: 0, 'next-run': expect.any(Number) },
    ]);
    // pve-manager PVE/API2/Backup.pm (index): check => ['perm', '/', ['Sys.Audit']]
    const denied = await raw('GET', '/api2/json/cluster/backup', { headers: as('snap@pve!ro=ro-secret') });
    expect([denied.status, denied.body.message]).toEqual([403, 'Permission check failed (/, Sys.Audit)']);
  });

  test('contents: cluster and nodes, pool members, the caller among the users, the two realms, 70 RRD points', async () => {
    const st = (await sim.api('GET', '/cluster/status')).body.data;
    expect(st[0]).toMatchObject({ type: 'cluster', name: 'conf', nodes: 3, quorate: 1 });
    expect(st.slice(1).map((n: any) => [n.name, n.online])).toEqual([['pve1', 1], ['pve2', 1], ['pve9', 0]]);
    const pool = (await sim.api('GET', '/pools/prod')).body.data;
    expect(pool.members.map((m: any) => m.vmid)).toEqual([100]);
    const missing = await sim.api('GET', '/pools/nope');
    expect([missing.status, missing.body.message]).toEqual([500, "pool 'nope' does not exist"]);
    const users = (await sim.api('GET', '/access/users')).body.data.map((u: any) => u.userid);
    expect(users).toEqual(expect.arrayContaining(['root@pam', 'snap@pve']));
    // a user who may not see the others sees itself
    const own = await raw('GET', '/api2/json/access/users', { headers: as('snap@pve!full=full-secret') });
    expect(own.body.data.map((u: any) => u.userid)).toEqual(['snap@pve']);
    // the realms need no login (the login box reads them)
    const domains = await raw('GET', '/api2/json/access/domains');
    expect(domains.body.data.map((d: any) => d.realm)).toEqual(['pam', 'pve']);
    const rrd = (await sim.api('GET', '/nodes/pve1/qemu/100/rrddata', { timeframe: 'hour' })).body.data;
    expect(rrd).toHaveLength(70);
    expect(rrd[1].time - rrd[0].time).toBe(60);
    const bad = await sim.api('GET', '/nodes/pve1/qemu/100/rrddata', { timeframe: 'decade' });
    expect(bad.status).toBe(400);
  });
  test('the ticket\'s cap has every area of PVE 9, sdn and mapping included', async () => {
    const login = await raw('POST', '/api2/json/access/ticket', { body: 'username=root@pam&password=root-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    const cap = login.body.data.cap;
    expect(Object.keys(cap).sort()).toEqual(['access', 'dc', 'mapping', 'nodes', 'sdn', 'storage', 'vms']);
    expect(cap.sdn['SDN.Use']).toBe(1);
    expect(cap.mapping['Mapping.Use']).toBe(1);
    expect(cap.vms['VM.Snapshot']).toBe(1);
    const snap = (await raw('POST', '/api2/json/access/ticket', { body: 'username=snap@pve&password=snap-pw', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).body.data.cap;
    expect(snap.vms).toEqual({ 'VM.Audit': 1, 'VM.Snapshot': 1 });
    expect(snap.sdn).toEqual({});
  });
  test('the storage digest is the sha1 of storage.cfg: one value for all entries, a new one after a change', async () => {
    const list = (await sim.api('GET', '/storage')).body.data;
    const digests = new Set(list.map((s: any) => s.digest));
    expect(digests.size).toBe(1);
    const [d] = [...digests] as string[];
    expect(d).toMatch(/^[0-9a-f]{40}$/);
    // the file as PVE writes it: `type: id`, tab-indented sorted properties, a blank line between
    const section = (s: any) => `${s.type}: ${s.storage}\n${Object.keys(s).filter((k) => !['storage', 'type', 'digest'].includes(k)).sort().map((k) => `\t${k} ${s[k]}\n`).join('')}`;
    expect(crypto.createHash('sha1').update(list.map(section).join('\n')).digest('hex')).toBe(d);
    await sim.api('POST', '/storage', { storage: 'dg1', type: 'dir', path: '/srv/dg1' });
    expect((await sim.api('GET', '/storage/local')).body.data.digest).not.toBe(d);
    await sim.api('DELETE', '/storage/dg1');
    expect((await sim.api('GET', '/storage/local')).body.data.digest).toBe(d);
  });
});
