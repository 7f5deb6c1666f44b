// Another client's snapshot delete is not a stuck one. While a second client deletes a
// snapshot slowly (the guest locked snapshot-delete, the snapshot in snapstate=delete),
// the compiled autosnap and pve-snapshot name the task deleting it (its UPID), never call
// it stuck and never advise `qm unlock`; autosnap waits within --lock-wait, then skips, or
// goes on once the delete has ended.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const T0 = 1750000000;
const snaps = [
  { name: 'autohourly250101000000', snaptime: T0, description: 'autosnap' },
  { name: 'autohourly250101010000', snaptime: T0 + 3600, description: 'autosnap' },
  { name: 'autohourly250101020000', snaptime: T0 + 7200, description: 'autosnap' },
];
const SEED = {
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'] }],
  guests: [100, 101].map((vmid) => ({ vmid, type: 'qemu', node: 'pve1', name: `g${vmid}`, status: 'running', agent: true, disks: { scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` }, snapshots: snaps })),
  // the other client's delete runs long enough to be seen
  taskDurations: { qmdelsnapshot: 4, qmsnapshot: 0.2 },
};

let sim: SimHandle;
let tmp: string;
let conf: string;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 1, clock: '2025-06-20T00:00:00Z' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'concurrent-delete-'));
  conf = path.join(tmp, 'empty.conf');
  fs.writeFileSync(conf, '');
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const env = () => ({ AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: conf, TZ: 'UTC', AUTOSNAP_LOCK_FILE: path.join(tmp, 'lock') });
const tool = (name: string, args: string[], now?: string) =>
  run([name, '--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], { env: { ...env(), ...(now ? { AUTOSNAP_NOW: now } : {}) } });
const NO_STUCK = /stuck|half-deleted|unlock/i;

async function otherClientDeletes(name: string): Promise<string> {
  const r = await sim.api('DELETE', `/nodes/pve1/qemu/100/snapshot/${name}`);
  expect(r.status).toBe(200);
  const upid: string = r.body.data;
  // the task has taken the lock once the snapshot shows snapstate=delete
  for (let i = 0; i < 100; i++) {
    const g = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100);
    if (g.snapshots.some((s: any) => s.name === name && s.snapstate === 'delete')) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return upid;
}

test('while another client deletes: the UPID is named, nothing is called stuck, no unlock advice', async () => {
  const upid = await otherClientDeletes('autohourly250101000000');

  const plan = await tool('autosnap', ['--vmid', '100', 'plan', '--label', 'hourly', '--keep', '2'], '2025-06-20T10:00:00Z');
  expect(plan.code).toBe(0);
  expect(plan.stderr).toContain(`100 g100: snapshot autohourly250101000000 is being deleted by task ${upid}`);
  expect(plan.stderr).not.toMatch(NO_STUCK);

  const snap = await tool('autosnap', ['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '5', '--lock-wait', '1'], '2025-06-20T10:00:00Z');
  expect(snap.stderr).toContain(`100 g100: skipped: snapshot autohourly250101000000 is being deleted by task ${upid}`);
  expect(snap.stderr).not.toMatch(NO_STUCK);
  expect(snap.stdout).toContain('101 g101: created autohourly250620100000');
  expect(snap.code).toBe(0);

  const del = await tool('pve-snapshot', ['delete', '100', 'autohourly250101010000']);
  expect(del.code).toBe(1);
  expect(del.stderr).toContain(upid);
  expect(del.stderr).not.toMatch(NO_STUCK);
}, 60_000);

test('autosnap waits within --lock-wait for another client\'s delete, then goes on', async () => {
  // the first delete may still run: wait for it to end
  for (let i = 0; i < 300; i++) {
    const g = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100);
    if (!g.lock) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  await otherClientDeletes('autohourly250101010000');
  const r = await tool('autosnap', ['--vmid', '100', 'snap', '--label', 'hourly', '--keep', '5', '--lock-wait', '20'], '2025-06-20T11:00:00Z');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('100 g100: created autohourly250620110000');
  expect(r.stderr).not.toMatch(NO_STUCK);
}, 60_000);

test('another client deleting while the task lists cannot be read: no stuck verdict, no unlock or --force advice', async () => {
  for (let i = 0; i < 300; i++) {
    const g = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100);
    if (!g.lock) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const name = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100).snapshots.find((s: any) => s.name !== 'current').name;
  await otherClientDeletes(name);
  await sim.control('/faults', { spec: 'fail=GET:/tasks$:500:internal error' });
  try {
    const del = await tool('pve-snapshot', ['delete', '100', name]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain('whether a delete task is still running cannot be read');
    expect(del.stderr).not.toMatch(/stuck|half-deleted|qm unlock|--force/i);
  } finally {
    await sim.control('/faults', { spec: '' });
  }
}, 60_000);

test('another client starts deleting the same snapshot between our list read and our delete: its task is named, no unlock advice', async () => {
  for (let i = 0; i < 300; i++) {
    const g = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100);
    if (!g.lock) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const name = (await sim.control('/state')).guests.find((x: any) => x.vmid === 100).snapshots.find((s: any) => s.name !== 'current').name;
  // every API request takes 400 ms: the other delete, sent when our list read arrives, takes the lock before our delete
  await sim.control('/faults', { spec: 'latency=400' });
  try {
    const seen = (await sim.control('/stats')).log.length;
    const running = tool('pve-snapshot', ['delete', '100', name]);
    let other: Promise<any> | undefined;
    for (let i = 0; i < 500 && !other; i++) {
      const log = (await sim.control('/stats')).log.slice(seen);
      if (log.some((l: any) => l.method === 'GET' && l.path === '/nodes/pve1/qemu/100/snapshot')) other = sim.api('DELETE', `/nodes/pve1/qemu/100/snapshot/${name}`);
      else await new Promise((res) => setTimeout(res, 10));
    }
    const upid: string = (await other!).body.data;
    const del = await running;
    expect(del.code).toBe(1);
    expect(del.stderr).toContain(upid);
    expect(del.stderr).not.toMatch(/half-deleted|qm unlock|--force/i);
  } finally {
    await sim.control('/faults', { spec: '' });
  }
}, 60_000);
