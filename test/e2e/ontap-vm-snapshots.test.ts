// `ontap-snapshot vm snapshots`: the compiled tool finds a guest through the manifests
// inside the volume snapshots (also a guest Proxmox no longer has, and disks that moved),
// locates its disk files inside .snapshot/<name>/, and treats a manifest someone edited
// as untrusted: one warning line, skipped, nothing looked up outside the guest's files.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import { run } from '../helpers/bin.ts';
import { writeConfig } from '../helpers/ontap.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { configText, errorLines, FAST, PVE_SEED, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

setDefaultTimeout(60_000);

const MANIFEST = '.autosnap-manifest.json';
const DISKS_100 = ['scsi0', 'virtio1', 'sata2', 'ide0', 'efidisk0', 'tpmstate0'];

let c: Clusters;
let zapiCfg: string;
/** a Proxmox cluster that no longer has VM 101 nor the storage nfs-sub */
let later: SimHandle;
let laterCfg: string;
beforeAll(async () => {
  c = await startClusters();
  zapiCfg = writeConfig(fs.readFileSync(c.config, 'utf8') + 'api = zapi\n', 0o600, 'vmsnap-zapi.conf');
  const seed = { ...PVE_SEED, guests: PVE_SEED.guests.filter((g) => g.vmid !== 101), storages: PVE_SEED.storages.filter((s) => s.storage !== 'nfs-sub') };
  later = await startSim({ seed, timeScale: 0.01 });
  laterCfg = writeConfig(configText(later, c.ontap), 0o600, 'vmsnap-later.conf');
  // the snapshot every test looks for; its manifest lists 100, 101, 102, 105, 200
  const r = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'vs_one']);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(async () => {
  await c?.stop();
  await later?.stop();
});

const json = (stdout: string) => JSON.parse(stdout) as any[];
/** warnings other than the one for the fixture's storage whose volume does not exist */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning:') && !/storage nfs-missing: not searched/.test(l));

/** Put a manifest into the volume and take a snapshot of it directly on the cluster, as a schedule or a ZAPI run would. */
async function snapshotWith(name: string, manifest: string): Promise<void> {
  const uuid = vol(await c.ontap.state(), 'pve_data').uuid;
  const auth = 'Basic ' + Buffer.from(`${c.ontap.user}:${c.ontap.password}`).toString('base64');
  const file = `${c.ontap.url}/api/storage/volumes/${uuid}/files/${encodeURIComponent(MANIFEST).replace(/\./g, '%2E')}`;
  const opts = { headers: { Authorization: auth }, tls: { rejectUnauthorized: false } };
  await fetch(file, { method: 'DELETE', ...opts } as RequestInit);
  const form = new FormData();
  form.set('data', manifest);
  expect((await fetch(file, { method: 'POST', body: form, ...opts } as RequestInit)).status).toBe(201);
  const r = await c.ontap.rest('POST', `/api/storage/volumes/${uuid}/snapshots`, { name, comment: 'made by ontap-snapshot' });
  expect(r.status).toBeLessThan(300);
  for (let i = 0; i < 100 && !vol(await c.ontap.state(), 'pve_data').snapshots.some((s: any) => s.name === name); i++) await Bun.sleep(50);
}

const guest = (vmid: unknown, config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  vmid, type: 'qemu', node: 'pve1', name: 'every-bus', status: 'running', storages: ['nfs1'], config, ...extra,
});
const manifest = (snapshot: string, guests: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ format: 'autosnap-ontap-manifest/1', snapshot, volume: 'pve_data', svm: 'svm1', created: '2026-01-01T00:00:00.000Z', storages: ['nfs1', 'nfs-sub'], dirs: { nfs1: '', 'nfs-sub': 'sub' }, guests, ...extra });

describe('vm snapshots over REST', () => {
  test('lists the snapshots whose manifest holds the VM, with its recorded config and its disks inside the snapshot', async () => {
    const r = await c.tool(['vm', 'snapshots', '--vm', '100', '-o', 'json']);
    expect(errorLines(r)).toEqual([]);
    expect(warnings(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const rows = json(r.stdout);
    // nightly.0 (an ONTAP schedule's) and the other volumes hold no manifest of theirs
    expect(rows.map((x) => x.snapshot)).toEqual(['vs_one']);
    const row = rows[0];
    expect(row).toMatchObject({ vmid: 100, volume: 'pve_data', svm: 'svm1', type: 'qemu', name: 'every-bus', node: 'pve1', status: 'running' });
    expect(row.config.scsi0).toBe('nfs1:100/vm-100-disk-0.qcow2,size=32G');
    // the CD-ROM, the ZFS disk and the one on a foreign NFS server are not files of this volume
    expect(row.disks.map((d: any) => d.key).sort()).toEqual([...DISKS_100].sort());
    const scsi0 = row.disks.find((d: any) => d.key === 'scsi0');
    expect(scsi0).toEqual({
      key: 'scsi0', storage: 'nfs1', file: 'images/100/vm-100-disk-0.qcow2', path: '.snapshot/vs_one/images/100/vm-100-disk-0.qcow2',
      size: expect.any(Number), found: true, mount_storage: 'nfs1', after_mount: 'nfs1-CLONE-vs_one:100/vm-100-disk-0.qcow2',
    });
    expect(row.disks.every((d: any) => d.found)).toBe(true);
  });

  test('text: one row per snapshot and how to reach the disks', async () => {
    const r = await c.tool(['vm', 'snapshots', '--vm', '102']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vs_one\s+\S+\s+pve_data\s+qemu in-a-subdir, running on pve1\s+virtio0$/m);
    expect(r.stderr).toMatch(/storage mount --storage nfs-sub --snapshot vs_one \(then virtio0 is nfs-sub-CLONE-vs_one:102\/vm-102-disk-0\.raw\)/);
  });

  test('a disk missing from the snapshot is marked, not hidden', async () => {
    // a file that the volume no longer has when the next snapshot is taken
    const uuid = vol(await c.ontap.state(), 'pve_data').uuid;
    const del = await c.ontap.rest('DELETE', `/api/storage/volumes/${uuid}/files/${encodeURIComponent('images/101/vm-101-disk-0.qcow2').replace(/\./g, '%2E')}`);
    expect(del.status).toBeLessThan(300);
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'vs_gone_disk'])).code).toBe(0);
    const r = await c.tool(['vm', 'snapshots', '--vm', '101', '--storage', 'nfs1', '-o', 'json']);
    expect(r.code).toBe(0);
    const rows = json(r.stdout);
    expect(rows.map((x) => x.snapshot)).toEqual(['vs_one', 'vs_gone_disk']);
    expect(rows[0].disks[0]).toMatchObject({ key: 'scsi0', found: true });
    expect(rows[1].disks[0]).toMatchObject({ key: 'scsi0', found: false, path: '.snapshot/vs_gone_disk/images/101/vm-101-disk-0.qcow2' });
    expect(rows[1].disks[0].after_mount).toBeUndefined();
    const text = await c.tool(['vm', 'snapshots', '--vm', '101', '--storage', 'nfs1', '--snapshot', 'vs_gone_disk']);
    expect(text.stdout).toMatch(/^vs_gone_disk\s.*\sscsi0 \(missing\)$/m);
  });

  test('a VM whose disk moved off ONTAP is still found in the snapshots from before', async () => {
    const put = await c.pve.api('PUT', `/nodes/${PVE_SEED.guests.find((g) => g.vmid === 105)!.node}/qemu/105/config`, { scsi0: 'local-zfs:vm-105-disk-0,size=8G' });
    expect(put.status).toBe(200);
    const r = await c.tool(['vm', 'snapshots', '--vm', '105', '-o', 'json']);
    expect(r.code).toBe(0);
    const rows = json(r.stdout);
    expect(rows.map((x) => x.snapshot)).toContain('vs_one');
    expect(rows.find((x) => x.snapshot === 'vs_one').disks).toEqual([expect.objectContaining({ key: 'scsi0', file: 'images/105/vm-105-disk-0.qcow2', found: true })]);
  });

  test('a VM and a storage Proxmox no longer has: found through the manifest alone', async () => {
    const list = await run(['ontap-snapshot', 'vm', 'list', '--vm', '101', '--config', laterCfg], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(/VM 101 not found in the cluster \(ontap-snapshot vm snapshots --vm 101 finds the volume snapshots that hold it\)/);
    const r = await run(['ontap-snapshot', 'vm', 'snapshots', '--vm', '101', '-o', 'json', '--config', laterCfg], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(r.code).toBe(0);
    const row = json(r.stdout).find((x) => x.snapshot === 'vs_one');
    expect(row).toMatchObject({ vmid: 101, name: 'stopped-one', node: 'pve2', status: 'stopped' });
    expect(row.disks[0]).toMatchObject({ found: true, after_mount: 'nfs1-CLONE-vs_one:101/vm-101-disk-0.qcow2' });
    // nfs-sub is gone; the manifest recorded where its files were in the volume
    const sub = await run(['ontap-snapshot', 'vm', 'snapshots', '--vm', '102', '-o', 'json', '--config', laterCfg], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(sub.code).toBe(0);
    const d = json(sub.stdout).find((x) => x.snapshot === 'vs_one').disks[0];
    expect(d).toMatchObject({ key: 'virtio0', storage: 'nfs-sub', path: '.snapshot/vs_one/sub/images/102/vm-102-disk-0.raw', found: true });
    // no storage of Proxmox serves that directory now: nothing to mount it through
    expect(d.after_mount).toBeUndefined();
  });

  test('a guest no manifest lists: an empty list and one line saying so', async () => {
    const r = await c.tool(['vm', 'snapshots', '--vm', '103']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^no manifest of the volume snapshots searched \(.*pve_data.*\) lists guest 103$/m);
  });

  test('bad input: one line, exit 2', async () => {
    const noVm = await c.tool(['vm', 'snapshots']);
    expect(noVm.code).toBe(2);
    expect(noVm.stderr.trim().split('\n')).toHaveLength(1);
    const notNfs = await c.tool(['vm', 'snapshots', '--vm', '100', '--storage', 'local-zfs']);
    expect(notNfs.code).toBe(2);
    expect(notNfs.stderr.trim()).toMatch(/storage 'local-zfs' is of type zfspool, not nfs$/);
  });
});

describe('a manifest someone edited is untrusted input', () => {
  test('a storage directory outside the volume: the manifest is ignored with one warning', async () => {
    await snapshotWith('vs_evil_dir', manifest('vs_evil_dir', [guest(100, { scsi0: 'nfs1:100/vm-100-disk-0.qcow2' })], { dirs: { nfs1: '../../other_volume' } }));
    const r = await c.tool(['vm', 'snapshots', '--vm', '100', '--storage', 'nfs1', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      'warning: snapshot vs_evil_dir of volume pve_data: .autosnap-manifest.json ignored: the directory of storage nfs1, "../../other_volume", is not a path inside the volume',
    ]);
    expect(json(r.stdout).map((x) => x.snapshot)).not.toContain('vs_evil_dir');
  });

  test('entries with a forged vmid or name, and a disk path that leaves the guest\'s files: each skipped with one warning', async () => {
    await snapshotWith('vs_evil_guest', manifest('vs_evil_guest', [
      guest('100', {}),
      guest(100, {}, { name: 'web\nerror: forged line' }),
      guest(1e21, {}),
      guest(100, { scsi0: 'nfs1:100/../../../vol/secret/disk.qcow2', scsi1: 'nfs1:100/vm-100-disk-0.qcow2' }),
    ]));
    await snapshotWith('vs_evil_other', manifest('vs_evil_other', [guest(100, { scsi0: 'nfs1:101/vm-101-disk-0.qcow2' })]));
    const before = (await c.ontap.rest('GET', '/_sim/stats')).body;
    const r = await c.tool(['vm', 'snapshots', '--vm', '100', '--storage', 'nfs1', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(errorLines(r)).toEqual([]);
    const w = warnings(r.stderr);
    expect(w).toEqual([
      expect.stringMatching(/vs_evil_dir .* ignored: the directory of storage nfs1/),
      'warning: snapshot vs_evil_guest of volume pve_data: .autosnap-manifest.json: guest entry 1 skipped: vmid "100" is not a guest id (100..999999999)',
      'warning: snapshot vs_evil_guest of volume pve_data: .autosnap-manifest.json: guest entry 2 skipped: guest 100: name "web\\nerror: forged line" is not a guest name',
      'warning: snapshot vs_evil_guest of volume pve_data: .autosnap-manifest.json: guest entry 3 skipped: vmid 1e+21 is not a guest id (100..999999999)',
      'warning: snapshot vs_evil_guest of volume pve_data: .autosnap-manifest.json: guest 100: scsi0 names "100/../../../vol/secret/disk.qcow2", not a file of storage nfs1; skipped',
      'warning: snapshot vs_evil_other of volume pve_data: .autosnap-manifest.json: guest 100: scsi0 names "101/vm-101-disk-0.qcow2", not an image of guest 100; skipped',
    ]);
    // the forged line stays inside its warning
    expect(r.stderr).not.toMatch(/^error: forged/m);
    // only the genuine snapshots are listed
    expect(json(r.stdout).map((x) => x.snapshot)).toEqual(['vs_one', 'vs_gone_disk']);
    // and nothing but reads went to the cluster
    const after = (await c.ontap.rest('GET', '/_sim/stats')).body;
    const writes = Object.keys(after).filter((k) => !k.startsWith('GET ') && after[k] !== before[k]);
    expect(writes).toEqual([]);
  });

  test('storage show --snapshot drops the forged entries too', async () => {
    const r = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'vs_evil_guest', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toHaveLength(3);
    expect(JSON.parse(r.stdout).guests.map((g: any) => g.vmid)).toEqual([100]);
  });

  test('a manifest that is not JSON: one warning, the snapshot is left out', async () => {
    await snapshotWith('vs_evil_junk', '{"format": "autosnap-ontap-manifest/1", "guests": [');
    const r = await c.tool(['vm', 'snapshots', '--vm', '100', '--storage', 'nfs1', '--snapshot', 'vs_evil_junk']);
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual(['warning: snapshot vs_evil_junk of volume pve_data: .autosnap-manifest.json is unreadable; ignored']);
  });
});

describe('vm snapshots over ZAPI', () => {
  test('says in one line that snapshots carry no manifest', async () => {
    const r = await c.tool(['vm', 'snapshots', '--vm', '100', '--config', zapiCfg]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n').filter((l) => !/storage nfs-missing: not searched/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: ontap-snapshot: over ZAPI, volume snapshots carry no manifest \(ZAPI cannot write or read files\): volumes .*pve_data.* not searched for VM 100$/);
    expect(r.stdout).toBe('');
  });
});
