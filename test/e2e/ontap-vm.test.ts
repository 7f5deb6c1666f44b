// ontap-snapshot vm ...: file clones of every disk, power state handling, qm rescan.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolLink } from '../helpers/bin.ts';
import { errorLines, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

// each test runs the compiled tool a few times; on a shared, loaded machine that can take
// longer than bun's 5 s default (a limit, not a speed assertion)
setDefaultTimeout(60_000);

let c: Clusters;
beforeAll(async () => {
  c = await startClusters();
});
afterAll(async () => {
  await c?.stop();
});

const files = async (volume: string) => Object.keys(vol(await c.ontap.state(), volume).files);
const guest = async (vmid: number) => (await c.pve.control('/_sim/state')).guests.find((g: any) => g.vmid === vmid);
const taskCount = async (type: string): Promise<number> => (await c.pve.control('/_sim/stats')).tasks?.[type] ?? 0;

describe('vm create', () => {
  test('clones every disk key and format, skips cd-rom and non-ONTAP disks, resumes the VM', async () => {
    const before = await files('pve_data');
    const suspends = await taskCount('qmsuspend');
    const r = await c.tool(['vm', 'create', '--vm', '100', '--suspend', '-o', 'json']);
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.map((x: any) => x.disk).sort()).toEqual(['efidisk0', 'ide0', 'sata2', 'scsi0', 'tpmstate0', 'virtio1']);
    for (const row of rows) {
      expect(row.status).toBe('cloned');
      expect(row.clone).toMatch(/^images\/100\/vm-100-disk-\d-snapshot-\d{14}\.(qcow2|raw|vmdk)$/);
      expect(row.clone.split('.').pop()).toBe(row.source.split('.').pop());
    }
    const after = await files('pve_data');
    expect(after.filter((f) => !before.includes(f)).sort()).toEqual(rows.map((x: any) => x.clone).sort());
    // each clone is a clone of its own disk
    const state = vol(await c.ontap.state(), 'pve_data');
    for (const row of rows) expect(state.files[row.clone].origin).toBe(`clone:pve_data/${row.source}`);
    expect(r.stderr).toMatch(/ide2: skipped \(cd-rom\)/);
    expect(r.stderr).toMatch(/scsi3: skipped \(not a qcow2, raw or vmdk image file\)/);
    expect(r.stderr).toMatch(/scsi4: skipped \(nfs-foreign: server 10\.9\.9\.9 is not an NFS data LIF of the ONTAP cluster\)/);
    expect(r.stderr).toMatch(/run on node pve1: qm rescan --vmid 100/);
    expect(await taskCount('qmsuspend')).toBe(suspends + 1);
    const g = await guest(100);
    expect(g.status).toBe('running');
    expect(g.lock ?? null).toBeNull();
  });

  test('--shutdown on a stopped VM leaves it stopped', async () => {
    const r = await c.tool(['vm', 'create', '--vm', '101', '--shutdown', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect((await guest(101)).status).toBe('stopped');
    expect(r.stderr).not.toMatch(/shutting down|starting again/);
  });

  test('--shutdown on a running VM shuts it down and starts it again', async () => {
    const shutdowns = await taskCount('qmshutdown');
    const starts = await taskCount('qmstart');
    const r = await c.tool(['vm', 'create', '--vm', '102', '--shutdown', '-o', 'json']);
    expect(r.code).toBe(0);
    // the export is a directory inside the volume: the paths carry it
    expect(JSON.parse(r.stdout)[0].clone).toMatch(/^sub\/images\/102\/vm-102-disk-0-snapshot-\d{14}\.raw$/);
    expect((await guest(102)).status).toBe('running');
    expect(r.stderr).toMatch(/shutting down/);
    expect(r.stderr).toMatch(/starting again/);
    expect(await taskCount('qmshutdown')).toBe(shutdowns + 1);
    expect(await taskCount('qmstart')).toBe(starts + 1);
  });

  test('never overwrites: an existing clone name stops before anything changes', async () => {
    // occupy the names of the next seconds for VM 103's disk
    const v = vol(await c.ontap.state(), 'other_data');
    const now = Date.now();
    const taken: string[] = [];
    for (let s = 0; s < 20; s++) {
      const stamp = new Date(now + s * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const dst = `images/103/vm-103-disk-0-snapshot-${stamp}.qcow2`;
      taken.push(dst);
      const made = await c.ontap.rest('POST', '/api/storage/file/clone?return_timeout=30', { volume: { uuid: v.uuid }, source_path: 'images/103/vm-103-disk-0.qcow2', destination_path: dst });
      expect(made.status).toBe(201);
    }
    const r = await c.tool(['vm', 'create', '--vm', '103', '--suspend']);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/scsi0: images\/103\/vm-103-disk-0-snapshot-\d{14}\.qcow2 already exists in volume other_data; not overwriting it/);
    // nothing was suspended
    expect((await guest(103)).status).toBe('running');
    expect(r.stderr).not.toMatch(/suspending/);
    expect((await files('other_data')).length).toBe(1 + taken.length);
  });

  test.each([
    [['vm', 'create', '--vm', '104'], 1, /VM 104 has no disk on an ONTAP-backed NFS storage/],
    [['vm', 'create', '--vm', '200'], 2, /200 is a container/],
    [['vm', 'create', '--vm', '999'], 2, /VM 999 not found/],
    [['vm', 'create', '--vm', 'abc'], 2, /--vm: 'abc' is not a VM id/],
    [['vm', 'create', '--vm', '100', '--suspend', '--shutdown'], 2, /--suspend and --shutdown contradict/],
    [['vm', 'create'], 2, /--vm ID is required/],
  ])('%p fails with one line', async (args, code, msg) => {
    const r = await c.tool(args);
    expect(r.code).toBe(code);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });
});

describe('vm list and delete', () => {
  test('list shows the clones made; delete removes one and only ours', async () => {
    const made = await c.tool(['vm', 'create', '--vm', '101', '-o', 'json']);
    expect(made.code).toBe(0);
    const list = JSON.parse((await c.tool(['vm', 'list', '--vm', '101', '-o', 'json'])).stdout);
    expect(list.length).toBeGreaterThanOrEqual(1);
    const clone = JSON.parse(made.stdout)[0].clone.split('/').pop();
    expect(list.map((x: any) => x.clone)).toContain(clone);
    expect(list.every((x: any) => x.source === 'vm-101-disk-0.qcow2' && x.storage === 'nfs1')).toBe(true);

    const notOurs = await c.tool(['vm', 'delete', '--vm', '101', '--clone', 'vm-101-disk-0.qcow2']);
    expect(notOurs.code).toBe(2);
    expect(notOurs.stderr).toMatch(/is not a clone ontap-snapshot made for VM 101/);
    const otherVm = await c.tool(['vm', 'delete', '--vm', '101', '--clone', clone.replace('vm-101-', 'vm-100-')]);
    expect(otherVm.code).toBe(2);

    const del = await c.tool(['vm', 'delete', '--vm', '101', '--clone', clone]);
    expect(del.code).toBe(0);
    expect(await files('pve_data')).not.toContain(`images/101/${clone}`);
    expect(await files('pve_data')).toContain('images/101/vm-101-disk-0.qcow2');
    const gone = await c.tool(['vm', 'delete', '--vm', '101', '--clone', clone]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not found/);
  });
});

describe('over the local pvesh transport', () => {
  const withQm = async (vmid: number) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qm-'));
    const record = path.join(dir, 'qm.calls');
    fs.writeFileSync(path.join(dir, 'qm'), `#!/bin/sh\necho "$@" >> '${record}'\n`, { mode: 0o755 });
    const r = await c.tool(['vm', 'create', '--vm', String(vmid), '--transport', 'pvesh', '--pvesh', toolLink('pvesh'), '-o', 'json'], {
      ...c.pve.pveshEnv,
      PATH: `${dir}:${process.env.PATH}`,
    });
    const calls = fs.existsSync(record) ? fs.readFileSync(record, 'utf8') : '';
    fs.rmSync(dir, { recursive: true, force: true });
    return { r, calls };
  };

  test('runs qm rescan --vmid after cloning a VM of this node', async () => {
    const { r, calls } = await withQm(105);
    expect(errorLines(r)).toEqual([]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].status).toBe('cloned');
    expect(calls).toBe('rescan --vmid 105\n');
    expect(r.stderr).toMatch(/ran qm rescan --vmid 105/);
  });

  test('for a VM of another node it prints the command for that node', async () => {
    const { r, calls } = await withQm(101);
    expect(r.code).toBe(0);
    expect(calls).toBe('');
    expect(r.stderr).toMatch(/run on node pve2: qm rescan --vmid 101/);
  });
});
