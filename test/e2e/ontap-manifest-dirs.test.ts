// A manifest this tool writes is one its own reader accepts, whatever the directories of
// the other NFS storages in the volume are called: Proxmox takes any path as an NFS export
// (pve-storage-path: no ';', '(' or ')'), so a storage below the junction may live in a
// directory with a space in its name. Such a directory cannot be looked up safely and is
// left out of the record; the manifest itself, and every guest in it, still counts.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { writeConfig } from '../helpers/ontap.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { configText, errorLines, PVE_SEED, startClusters, type Clusters } from './ontap-fixtures.ts';

setDefaultTimeout(60_000);

let c: Clusters;
let pve: SimHandle;
let cfg: string;
beforeAll(async () => {
  c = await startClusters();
  const odd = { ...PVE_SEED.storages[0], storage: 'nfs-odd', export: '/vol/pve_nfs/pve data', path: '/mnt/pve/nfs-odd' };
  pve = await startSim({ seed: { ...PVE_SEED, storages: [...PVE_SEED.storages, odd] }, timeScale: 0.01 });
  cfg = writeConfig(configText(pve, c.ontap), 0o600, 'manifest-dirs.conf');
});
afterAll(async () => {
  await c?.stop();
  await pve?.stop();
});

test('a storage directory with a space: the manifest written is read back, its guests found', async () => {
  const made = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'odd_dirs', '--config', cfg]);
  expect([made.code, errorLines(made)]).toEqual([0, []]);
  const r = await c.tool(['vm', 'snapshots', '--vm', '100', '--storage', 'nfs1', '--snapshot', 'odd_dirs', '-o', 'json', '--config', cfg]);
  expect(r.stderr).not.toContain('ignored');
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.stdout) as any[];
  expect(rows.map((x) => [x.snapshot, x.vmid])).toEqual([['odd_dirs', 100]]);
  expect(rows[0].disks.find((d: any) => d.key === 'scsi0')).toMatchObject({ found: true });
  const show = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'odd_dirs', '--config', cfg]);
  expect(show.stderr).not.toContain('ignored');
  expect(show.stdout).toMatch(/guests\s+.*100 \(qemu every-bus\)/);
});
