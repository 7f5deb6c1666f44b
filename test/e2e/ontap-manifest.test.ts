// The manifest inside each snapshot: the compiled ontap-snapshot writes
// .autosnap-manifest.json into the volume before `storage create`/`storage snap`, and
// `storage show --snapshot`/`mount` read it back from the snapshot's .snapshot directory.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import { writeConfig } from '../helpers/ontap.ts';
import { errorLines, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

setDefaultTimeout(60_000);

let c: Clusters;
let zapiCfg: string;
beforeAll(async () => {
  c = await startClusters();
  zapiCfg = writeConfig(fs.readFileSync(c.config, 'utf8') + 'api = zapi\n', 0o600, 'manifest-zapi.conf');
});
afterAll(async () => {
  await c?.stop();
});

const MANIFEST = '.autosnap-manifest.json';
// the guests with disks on pve_data: nfs1 (100, 101, 105, 200) and nfs-sub (102), a
// directory of the same volume
const ON_PVE_DATA = [100, 101, 102, 105, 200];

/** The volume's files API, as ONTAP's own clients would call it. */
async function ontapFile(method: string, volume: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; query?: string } = {}) {
  const uuid = vol(await c.ontap.state(), volume).uuid;
  const enc = encodeURIComponent(path).replace(/\./g, '%2E');
  const auth = 'Basic ' + Buffer.from(`${c.ontap.user}:${c.ontap.password}`).toString('base64');
  const r = await fetch(`${c.ontap.url}/api/storage/volumes/${uuid}/files/${enc}${init.query ?? ''}`, {
    method, body: init.body, headers: { Authorization: auth, ...init.headers }, tls: { rejectUnauthorized: false },
  } as RequestInit);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
}

describe('manifest written before the snapshot (REST)', () => {
  test('storage create: the snapshot holds the manifest; show --snapshot lists its guests with their configs', async () => {
    const r = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_one', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const snap = vol(await c.ontap.state(), 'pve_data').snapshots.find((s: any) => s.name === 'mf_one');
    // the file was there when ONTAP took the snapshot, so the snapshot has it
    expect(snap.files[MANIFEST]).toBeDefined();
    const m = JSON.parse(snap.files[MANIFEST].content);
    expect(m).toMatchObject({ format: 'autosnap-ontap-manifest/1', snapshot: 'mf_one', volume: 'pve_data', svm: 'svm1' });
    expect(m.storages.sort()).toEqual(['nfs-sub', 'nfs1']);
    expect(m.guests.map((g: any) => g.vmid)).toEqual(ON_PVE_DATA);

    const show = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'mf_one', '-o', 'json']);
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    const doc = JSON.parse(show.stdout);
    expect(doc).toMatchObject({ name: 'mf_one', volume: 'pve_data' });
    expect(doc.guests.map((g: any) => g.vmid)).toEqual(ON_PVE_DATA);
    expect(doc.guests.find((g: any) => g.vmid === 102)).toMatchObject({ type: 'qemu', name: 'in-a-subdir', storages: ['nfs-sub'] });
    expect(doc.guests.find((g: any) => g.vmid === 100).config.scsi0).toBe('nfs1:100/vm-100-disk-0.qcow2,size=32G');
    // guests elsewhere are not in it
    expect(doc.guests.some((g: any) => g.vmid === 103 || g.vmid === 104)).toBe(false);

    const text = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'mf_one']);
    expect(text.stdout).toMatch(/guests\s+100 \(qemu every-bus\), 101 \(qemu stopped-one\), 102 \(qemu in-a-subdir\), 105 \(qemu on-this-node\), 200 \(lxc ct\)/);
  });

  test('what is read is the snapshot, not the volume: a later change of the file leaves it alone', async () => {
    // overwrite the active file system's manifest by hand
    const del = await ontapFile('DELETE', 'pve_data', MANIFEST);
    expect(del.status).toBe(200);
    const form = new FormData();
    form.set('data', '{"format":"something else"}');
    expect((await ontapFile('POST', 'pve_data', MANIFEST, { body: form })).status).toBe(201);
    const doc = JSON.parse((await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'mf_one', '-o', 'json'])).stdout);
    expect(doc.guests.map((g: any) => g.vmid)).toEqual(ON_PVE_DATA);
    // the next snapshot replaces the stray file with a manifest of its own
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_two'])).code).toBe(0);
    const active = JSON.parse(vol(await c.ontap.state(), 'pve_data').files[MANIFEST].content);
    expect(active).toMatchObject({ format: 'autosnap-ontap-manifest/1', snapshot: 'mf_two' });
  });

  test('a snapshot without a manifest says so', async () => {
    const r = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'nightly.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/manifest\s+none/);
    expect(r.stdout).not.toMatch(/^guests/m);
  });

  test('storage snap writes one too', async () => {
    const r = await c.tool(['storage', 'snap', '--storage', 'nfs-held', '--label', 'mf', '--keep-last', '3', '-o', 'json']);
    expect(r.code).toBe(0);
    const snap = vol(await c.ontap.state(), 'held').snapshots.find((s: any) => /^ontap_mf_\d{14}$/.test(s.name));
    expect(JSON.parse(snap.files[MANIFEST].content)).toMatchObject({ snapshot: snap.name, volume: 'held', storages: ['nfs-held'], guests: [] });
  });

  test('mount names the guests of the snapshot', async () => {
    const r = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'mf_one', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].guests).toBe('100 (qemu every-bus), 101 (qemu stopped-one), 102 (qemu in-a-subdir), 105 (qemu on-this-node), 200 (lxc ct)');
    expect(r.stderr).toMatch(/snapshot mf_one holds guests 100 \(qemu every-bus\)/);
    expect((await c.tool(['storage', 'unmount', '--storage', 'nfs1', '--snapshot', 'mf_one'])).code).toBe(0);
  });

  test('a manifest ONTAP refuses costs a warning, never the snapshot', async () => {
    await c.ontap.setFaults('fail=POST:/files/:500:disk full');
    try {
      const r = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_nowrite']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^warning: .*volume pve_data: manifest not written \(.*disk full\); snapshot mf_nowrite is made without it$/m);
      expect(errorLines(r)).toEqual([]);
    } finally {
      await c.ontap.setFaults('');
    }
    expect(vol(await c.ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).toContain('mf_nowrite');
  });
});

describe('the simulator models the files API as NetApp documents it', () => {
  test('a read needs Accept: multipart/form-data and length; the answer is one form-data part', async () => {
    const noAccept = await ontapFile('GET', 'pve_data', `.snapshot/mf_one/${MANIFEST}`, { query: '?byte_offset=0&length=100' });
    expect(noAccept.status).toBe(400);
    const r = await ontapFile('GET', 'pve_data', `.snapshot/mf_one/${MANIFEST}`, { query: '?byte_offset=3&length=8', headers: { Accept: 'multipart/form-data' } });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Response(r.text, { headers: { 'content-type': r.type } }).formData();
    expect(parsed.get('data')).toBe('"format"');
  });

  test('a snapshot is read-only, an existing file is not overwritten', async () => {
    const form = new FormData();
    form.set('data', 'x');
    expect((await ontapFile('POST', 'pve_data', `.snapshot/mf_one/${MANIFEST}`, { body: form })).status).toBe(400);
    expect((await ontapFile('POST', 'pve_data', 'sim-test.txt', { body: form })).status).toBe(201);
    const again = await ontapFile('POST', 'pve_data', 'sim-test.txt', { body: form });
    expect(again.status).toBe(409);
    expect(JSON.parse(again.text).error.code).toBe('13130');
    expect((await ontapFile('DELETE', 'pve_data', 'sim-test.txt')).status).toBe(200);
  });
});

describe('ZAPI', () => {
  test('has no file write: the snapshot is made, without a manifest, and says so', async () => {
    // a REST snapshot first, so that the volume has a manifest (of mf_three) lying in it
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_three'])).code).toBe(0);
    const r = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_zapi', '--config', zapiCfg, '--loglevel', 'debug']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^debug: .*ZAPI cannot write files, so snapshot mf_zapi carries no manifest$/m);
    // said only when asked for: every ZAPI snapshot would repeat it
    const quiet = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'mf_zapi_quiet', '--config', zapiCfg]);
    expect(quiet.stderr).toBe('');
    const snap = vol(await c.ontap.state(), 'pve_data').snapshots.find((s: any) => s.name === 'mf_zapi');
    // the manifest of the earlier REST snapshot is in the volume still, but it names mf_three
    expect(JSON.parse(snap.files[MANIFEST].content).snapshot).toBe('mf_three');
    const show = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'mf_zapi', '--config', zapiCfg]);
    expect(show.stdout).toMatch(/manifest\s+none \(ZAPI cannot read files\)/);
    // over REST the stale file in that snapshot is recognised as another snapshot's
    const rest = await c.tool(['storage', 'show', '--storage', 'nfs1', '--snapshot', 'mf_zapi']);
    expect(rest.stdout).toMatch(/manifest\s+none/);
    expect(rest.stdout).not.toMatch(/^guests/m);
  });
});
