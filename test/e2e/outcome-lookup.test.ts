// A task whose status cannot be read (HTTP 500 on every GET .../tasks/UPID/status) is not
// a failed task: before reporting, the tools look the snapshot up. The compiled executable
// against the simulator with that fault: the JSON report, the exit code and the hooks'
// STATE say what the cluster holds.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const VMIDS = [100, 101, 102, 103, 104, 105];
const SEED = {
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'] }],
  guests: VMIDS.map((vmid, i) => ({
    vmid, type: i % 2 ? 'lxc' : 'qemu', node: i < 3 ? 'pve1' : 'pve2', name: `g${vmid}`, status: 'running', agent: true,
    disks: i % 2 ? { rootfs: `local-zfs:subvol-${vmid}-disk-0,size=8G` } : { scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` },
  })),
};

let sim: SimHandle;
let tmp: string;
let conf: string;
let hookLog: string;
let hook: string;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.05, faults: 'fail=GET:/tasks/[^/]+/status$:500:internal error' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'outcome-lookup-'));
  conf = path.join(tmp, 'empty.conf');
  fs.writeFileSync(conf, '');
  hookLog = path.join(tmp, 'hook.log');
  hook = path.join(tmp, 'hook.sh');
  fs.writeFileSync(hook, `#!/bin/sh\necho "$AUTOSNAP_PHASE $AUTOSNAP_VMID $AUTOSNAP_STATE" >> '${hookLog}'\n`, { mode: 0o755 });
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const snap = (at: string) =>
  run(['autosnap', '--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--vmid', '@all', 'snap', '--label', 'hourly', '--keep', '1', '--script', hook, '-o', 'json'], {
    env: { AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: conf, TZ: 'UTC', AUTOSNAP_NOW: at },
  });
const held = async () => {
  const st = await sim.control('/state');
  return st.guests.flatMap((g: any) => g.snapshots.filter((s: any) => s.name.startsWith('autohourly') && !s.snapstate).map((s: any) => `${g.vmid}/${s.name}`)).sort();
};

test('500 on every task status read: created and removed as the cluster holds them, exit 0', async () => {
  const first = await snap('2025-06-20T10:00:00Z');
  expect(first.stderr).not.toMatch(/: failed/);
  expect(first.stderr).toContain('500 internal error; the snapshot list shows it made');
  expect(first.code).toBe(0);
  const doc1 = JSON.parse(first.stdout);
  expect(doc1.summary).toMatchObject({ created: VMIDS.length, removed: 0, failed: 0 });
  expect(await held()).toEqual(VMIDS.map((v) => `${v}/autohourly250620100000`));

  const second = await snap('2025-06-20T11:00:00Z');
  expect(second.code).toBe(0);
  const doc2 = JSON.parse(second.stdout);
  expect(doc2.summary).toMatchObject({ created: VMIDS.length, removed: VMIDS.length, failed: 0 });
  expect(await held()).toEqual(VMIDS.map((v) => `${v}/autohourly250620110000`));
  expect(doc2.guests.every((g: any) => g.status === 'ok')).toBe(true);

  // the hook was told the snapshots were made and removed
  const lines = fs.readFileSync(hookLog, 'utf8').trim().split('\n');
  expect(lines.filter((l) => l.startsWith('snap-create-post') && l.endsWith(' 1')).length).toBe(2 * VMIDS.length);
  expect(lines.filter((l) => l.startsWith('snap-remove-post') && l.endsWith(' 1')).length).toBe(VMIDS.length);
  expect(lines.filter((l) => /abort/.test(l))).toEqual([]);
  // the status reads really failed: the simulator answered them all with 500
  expect((await sim.control('/stats')).requests['GET /nodes/{node}/tasks/{upid}/status'] ?? 0).toBe(0);
}, 120_000);

test('500 on the status read of a create that failed because the name is taken: a failure, not "created"', async () => {
  const s = await startSim({
    seed: { ...SEED, guests: [{ ...SEED.guests[0], snapshots: [{ name: 'before', snaptime: 1750000000, description: "someone else's" }] }] },
    timeScale: 0.05,
    faults: 'fail=GET:/tasks/[^/]+/status$:500:internal error',
  });
  try {
    const r = await run(['pve-snapshot', '--host', s.hostPort, '--fingerprint', s.fingerprint, 'create', '100', 'before', '-o', 'json'], {
      env: { AUTOSNAP_API_TOKEN: s.token, AUTOSNAP_CONFIG: conf, TZ: 'UTC' },
    });
    // the task really failed ('already used'); the older snapshot of that name is not ours
    expect((await s.control('/stats')).tasks['qmsnapshot:error']).toBe(1);
    expect(r.stderr).not.toContain('the snapshot list shows it made');
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.stdout).map((o: any) => o.status)).toEqual(['failed']);
  } finally {
    await s.stop();
  }
}, 60_000);
