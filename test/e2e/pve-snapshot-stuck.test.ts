// pve-snapshot and the half-deleted snapshot (snapstate=delete, lock snapshot-delete), end
// to end: the compiled executable against the simulator over both transports. An API token
// can never clear the lock (skiplock is root@pam's alone): it gets the commands to run and
// nothing changes. pvesh and a root@pam login clear it and finish the delete with force=1.
// A delete still running looks the same and is never "repaired".
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, toolLink } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const T0 = 1750000000;
const zfs = (vmid: number) => ({ scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` });
const half = (name = 'halfgone') => [
  { name: 'keep1', snaptime: T0, description: 'manual' },
  { name, snaptime: T0 + 60, snapstate: 'delete' },
];
const SEED = {
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'] }],
  guests: [
    { vmid: 200, type: 'qemu', node: 'pve1', name: 'viapvesh', status: 'running', lock: 'snapshot-delete', disks: zfs(200), snapshots: half() },
    { vmid: 201, type: 'qemu', node: 'pve2', name: 'viaroot', status: 'running', lock: 'snapshot-delete', disks: zfs(201), snapshots: half() },
    { vmid: 202, type: 'qemu', node: 'pve1', name: 'failing', status: 'running', disks: zfs(202), snapshots: [{ name: 'keep1', snaptime: T0 }, { name: 'doomed', snaptime: T0 + 60 }] },
    { vmid: 203, type: 'qemu', node: 'pve1', name: 'dry', status: 'running', lock: 'snapshot-delete', disks: zfs(203), snapshots: half() },
    { vmid: 204, type: 'qemu', node: 'pve1', name: 'backingup', status: 'running', lock: 'backup', disks: zfs(204), snapshots: half() },
    { vmid: 210, type: 'lxc', node: 'pve2', name: 'stuckct', status: 'running', lock: 'snapshot-delete', disks: { rootfs: 'local-zfs:subvol-210-disk-0,size=8G' }, snapshots: half() },
  ],
  users: [{ userid: 'root@pam', password: 'root-secret-pw' }],
};

let sim: SimHandle;
let tmp: string;
let conf: string;

beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pve-snapshot-stuck-'));
  conf = path.join(tmp, 'empty.conf');
  fs.writeFileSync(conf, '');
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const overToken = (s: SimHandle, args: string[]) =>
  run(['pve-snapshot', '--host', s.hostPort, '--fingerprint', s.fingerprint, ...args], { env: { AUTOSNAP_API_TOKEN: s.token, AUTOSNAP_CONFIG: conf, TZ: 'UTC' } });
const overPvesh = (s: SimHandle, args: string[]) =>
  run(['pve-snapshot', '--transport', 'pvesh', '--pvesh', toolLink('pvesh'), ...args], { env: { ...s.pveshEnv, AUTOSNAP_CONFIG: conf, TZ: 'UTC' } });

async function state(s: SimHandle, vmid: number) {
  const g = (await s.control('/state')).guests.find((x: any) => x.vmid === vmid);
  return { lock: g.lock as string | null, snapshots: (g.snapshots as any[]).map((x) => `${x.name}${x.snapstate ? `:${x.snapstate}` : ''}`) };
}
const unlocks = async (s: SimHandle) => {
  const r = (await s.control('/stats')).requests;
  return (r['PUT /nodes/{node}/qemu/{vmid}/config'] ?? 0) + (r['PUT /nodes/{node}/lxc/{vmid}/config'] ?? 0);
};
const deletes = async (s: SimHandle) => (await s.control('/stats')).tasks.qmdelsnapshot ?? 0;

describe('over pvesh (root@pam on the node)', () => {
  test('without --force: the state and the way out in one line, nothing changed', async () => {
    const r = await overPvesh(sim, ['delete', '200', 'halfgone']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      "error: pve-snapshot: 200 (viapvesh): snapshot 'halfgone' is half-deleted (snapstate=delete) and the VM still holds the lock snapshot-delete of that failed delete: " +
        'run again with --force to clear the lock and finish the delete (force=1 drops it from the config even if a disk snapshot cannot be removed)\n',
    );
    expect(await state(sim, 200)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'halfgone:delete'] });
  });

  test('--force clears the leftover lock, deletes with force=1 and says what it did', async () => {
    const before = await unlocks(sim);
    const r = await overPvesh(sim, ['delete', '200', 'halfgone', '--force']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("200 (viapvesh): cleared the lock snapshot-delete left by a failed delete, then deleted snapshot 'halfgone' (forced)\n");
    expect(r.stderr).toContain("200 (viapvesh): cleared the lock snapshot-delete (snapshot 'halfgone' was half-deleted by a failed delete)");
    expect(await state(sim, 200)).toEqual({ lock: null, snapshots: ['keep1'] });
    expect(await unlocks(sim)).toBe(before + 1);
  });

  test('--force on a container: no API can clear its lock, so the pct command, exit 1, nothing changed', async () => {
    const before = await unlocks(sim);
    const r = await overPvesh(sim, ['delete', 'stuckct', 'halfgone', '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: pve-snapshot: 210 (stuckct): cannot finish the half-deleted snapshot 'halfgone': the CT is locked (snapshot-delete) by that failed delete and " +
        "the API offers no way to clear a container's lock; run 'pct unlock 210' on pve2, then 'pve-snapshot delete 210 halfgone --force'\n",
    );
    expect(await state(sim, 210)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'halfgone:delete'] });
    expect(await unlocks(sim)).toBe(before);
  });

  test('--dry-run --force says what it would do and does nothing', async () => {
    const before = { unlocks: await unlocks(sim), deletes: await deletes(sim) };
    const r = await overPvesh(sim, ['delete', '203', 'halfgone', '--force', '--dry-run']);
    expect(r.code).toBe(0);
    // the plan: one step, the unlock and the forced delete it would send
    expect(r.stdout.split('\n')[1]).toMatch(/^ *203 +dry +pve\d +delete +halfgone +run +clear the lock snapshot-delete left by a failed delete, then delete snapshot 'halfgone' with force=1$/);
    expect(await state(sim, 203)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'halfgone:delete'] });
    expect({ unlocks: await unlocks(sim), deletes: await deletes(sim) }).toEqual(before);
  });

  test('the lock of another snapshot\'s failed delete, and any other lock, are never cleared', async () => {
    const before = await unlocks(sim);
    const other = await overPvesh(sim, ['delete', '203', 'keep1', '--force']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("203 (dry): VM is locked (snapshot-delete) by the unfinished delete of 'halfgone': finish that one first ('pve-snapshot delete 203 halfgone --force')");
    const backup = await overPvesh(sim, ['delete', '204', 'halfgone', '--force']);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toContain('204 (backingup): VM is locked (backup); try again when that operation has finished');
    expect(await state(sim, 203)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'halfgone:delete'] });
    expect(await state(sim, 204)).toEqual({ lock: 'backup', snapshots: ['keep1', 'halfgone:delete'] });
    expect(await unlocks(sim)).toBe(before);
  });
});

describe('over the API', () => {
  test('with a token: the commands to run on the node, exit 1, nothing changed', async () => {
    const before = { unlocks: await unlocks(sim), deletes: await deletes(sim) };
    const r = await overToken(sim, ['delete', 'viaroot', 'halfgone', '--force']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: pve-snapshot: 201 (viaroot): cannot finish the half-deleted snapshot 'halfgone': the VM is locked (snapshot-delete) by that failed delete and " +
        `only root@pam can clear a lock over the API, not the API token ${sim.tokenId}; run 'qm unlock 201' on pve2, then 'pve-snapshot delete 201 halfgone --force'\n`,
    );
    expect(await state(sim, 201)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'halfgone:delete'] });
    expect({ unlocks: await unlocks(sim), deletes: await deletes(sim) }).toEqual(before);
  });

  test('logged in as root@pam: repaired like over pvesh', async () => {
    const pw = path.join(tmp, 'root.pw');
    fs.writeFileSync(pw, 'root-secret-pw\n', { mode: 0o600 });
    const r = await run(['pve-snapshot', '--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--username', 'root@pam', '--password-file', pw, 'delete', '201', 'halfgone', '--force', '-o', 'json'], {
      env: { AUTOSNAP_CONFIG: conf, AUTOSNAP_API_TOKEN: undefined, TZ: 'UTC' },
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual([
      expect.objectContaining({ vmid: 201, node: 'pve2', action: 'delete', snapshot: 'halfgone', status: 'ok', message: "cleared the lock snapshot-delete left by a failed delete, then deleted snapshot 'halfgone' (forced)" }),
    ]);
    expect(out[0].upid).toContain(':qmdelsnapshot:201:root@pam:');
    expect(r.stderr).not.toContain('root-secret-pw');
    expect(await state(sim, 201)).toEqual({ lock: null, snapshots: ['keep1'] });
  });

  test('a delete that fails now: a token is told the way out; pvesh then finishes it (the disk part fails again: a warning)', async () => {
    await sim.control('/faults', { spec: 'taskfail=202:qmdelsnapshot:zfs error: cannot destroy snapshot: dataset is busy' });
    try {
      const r = await overToken(sim, ['delete', '202', 'doomed']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        "error: pve-snapshot: 202 (failing): delete 'doomed' failed: zfs error: cannot destroy snapshot: dataset is busy; " +
          "Proxmox left it half-deleted and the VM locked (snapshot-delete): run 'qm unlock 202' on pve1, then 'pve-snapshot delete 202 doomed --force'\n",
      );
      expect(await state(sim, 202)).toEqual({ lock: 'snapshot-delete', snapshots: ['keep1', 'doomed:delete'] });
      const f = await overPvesh(sim, ['delete', '202', 'doomed', '--force']);
      expect(f.code).toBe(0);
      expect(f.stdout).toBe("202 (failing): cleared the lock snapshot-delete left by a failed delete, then deleted snapshot 'doomed' (forced) (WARNINGS: 1)\n");
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(await state(sim, 202)).toEqual({ lock: null, snapshots: ['keep1'] });
  });
});

describe('a delete still running is never repaired', () => {
  // deletes that take ten minutes: the task is still running while the tool looks
  let slow: SimHandle;
  beforeAll(async () => {
    slow = await startSim({
      seed: {
        nodes: [{ node: 'pve1' }],
        storages: [{ storage: 'local-zfs', type: 'zfspool', nodes: ['pve1'] }],
        guests: [{ vmid: 300, type: 'qemu', node: 'pve1', name: 'busy', status: 'running', disks: zfs(300), snapshots: [{ name: 'big', snaptime: T0 }] }],
        taskDurations: { qmdelsnapshot: 600 },
      },
    });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  test('over pvesh, with and without --force: the running task named, nothing touched', async () => {
    const upid = (await slow.api('DELETE', '/nodes/pve1/qemu/300/snapshot/big')).body.data as string;
    expect(upid).toContain(':qmdelsnapshot:300:');
    // exactly the picture of a stuck delete
    expect(await state(slow, 300)).toEqual({ lock: 'snapshot-delete', snapshots: ['big:delete'] });
    const line = `error: pve-snapshot: 300 (busy): a snapshot delete is still running on this VM (${upid}): the lock snapshot-delete is in use, not left over; nothing done, try again when it has finished\n`;
    for (const extra of [[], ['--force']]) {
      const r = await overPvesh(slow, ['delete', '300', 'big', ...extra]);
      expect([r.code, r.stderr]).toEqual([1, line]);
    }
    expect(await unlocks(slow)).toBe(0);
    expect(await state(slow, 300)).toEqual({ lock: 'snapshot-delete', snapshots: ['big:delete'] });
    expect((await slow.api('GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`)).body.data.status).toBe('running');
  });
});
