// --dry-run of every writing pve-snapshot action: the plan is printed and nothing is sent
// (no task started, no description changed, no lock cleared), over HTTPS with a pin.
import { expect, test } from 'bun:test';
import { toolAgainstSim } from '../helpers/sim.ts';

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86400;
const lvm = (vmid: number) => `local-lvm:vm-${vmid}-disk-0,size=8G`;
const qemu = (vmid: number, name: string, extra: Record<string, unknown> = {}) => ({
  vmid, type: 'qemu', node: 'pve1', name, status: 'running', template: false, tags: [], lock: null, agent: true,
  disks: { scsi0: lvm(vmid) }, config: { memory: 2048 }, snapshots: [], ...extra,
});
const SEED = {
  cluster: 'test',
  nodes: [{ node: 'pve1', status: 'online' }],
  storages: [{ storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', shared: false, nodes: ['pve1'], total: 1e12, used: 1e11 }],
  guests: [
    qemu(100, 'a', { tags: ['t'], snapshots: [{ name: 'old', snaptime: NOW - 10 * DAY, description: 'd' }, { name: 'newer', snaptime: NOW - 5 * DAY, parent: 'old' }] }),
    qemu(101, 'b', { tags: ['t'], snapshots: [{ name: 'old', snaptime: NOW - 10 * DAY }] }),
    // a delete that failed half way, on a VM (root@pam could finish it)
    qemu(104, 'stuck', { lock: 'snapshot-delete', snapshots: [{ name: 'halfgone', snaptime: NOW - 8 * DAY, snapstate: 'delete' }] }),
  ],
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5, qmrollback: 1 },
};

const fixture = toolAgainstSim('pve-snapshot', { seed: SEED, timeScale: 0.01, clock: new Date(NOW * 1000).toISOString() });
const ps = fixture.run;
const state = async () => {
  const s = await fixture.sim.control('/state');
  return JSON.stringify({ tasks: s.tasks.length, guests: s.guests.map((g: any) => ({ vmid: g.vmid, lock: g.lock, parent: g.parent, status: g.status, snapshots: g.snapshots })) });
};

test.each([
  [['rollback', '100', 'old', '--dry-run'], 0, 'roll back'],
  [['rollback', '@tag-t', 'old', '--yes', '--dry-run'], 0, 'roll back'],
  [['delete', '100', 'old', '--dry-run'], 0, "delete snapshot 'old'"],
  [['delete', '@tag-t', 'old', '--dry-run'], 0, "delete snapshot 'old'"],
  [['delete', '@tag-t', '--match', '*', '--dry-run'], 0, "delete snapshot 'old'"],
  [['create', '@tag-t', 'fresh', '--dry-run'], 0, "create snapshot 'fresh'"],
  [['describe', '100', 'old', 'new text', '--dry-run'], 0, 'set the description'],
  [['delete', '104', 'halfgone', '--force', '--dry-run'], 1, 'halfgone'],
])('%p prints the plan and changes nothing', async (args, code, shown) => {
  const before = await state();
  const r = await ps(args as string[]);
  expect(r.code).toBe(code as number);
  expect(r.stdout + r.stderr).toContain(shown as string);
  expect(await state()).toBe(before);
});
