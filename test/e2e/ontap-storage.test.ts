// ontap-snapshot storage ...: the compiled executable against both simulators over HTTPS.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { BIN } from '../helpers/bin.ts';
import { writeConfig } from '../helpers/ontap.ts';
import { AUDIT_SECRET, AUDIT_TOKEN, FAST, configText, errorLines, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

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

const clonesOf = (state: any, parent: string) => state.volumes.filter((v: any) => v.clone?.parentVolume === parent).map((v: any) => v.name);
const storageCfg = async (id: string) => (await c.pve.api('GET', `/storage/${id}`)).body?.data;

describe('mapping a storage to its volume', () => {
  test.each([
    ['nfs1', 'svm1', 'pve_data', undefined],
    // same junction path in svm2: the data LIF of the server address decides
    ['nfs2', 'svm2', 'other_data', undefined],
    // the export is a directory inside the volume
    ['nfs-sub', 'svm1', 'pve_data', 'sub'],
  ])('%s -> %s/%s', async (storage, svm, volume, subdir) => {
    const r = await c.tool(['storage', 'show', '--storage', storage, '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ storage, svm, volume, api: 'rest' });
    expect(doc.subdir).toBe(subdir);
  });

  test.each([
    ['nfs-missing', /no volume of SVM svm1 is mounted at \/vol\/nowhere/],
    ['nfs-foreign', /no NFS data LIF .* has the address 10\.9\.9\.9; NFS data LIFs: 10\.0\.0\.5 \(svm1\), 10\.0\.1\.5 \(svm2\)/],
    ['local-zfs', /storage 'local-zfs' is of type zfspool, not nfs/],
  ])('%s fails with one line', async (storage, msg) => {
    const r = await c.tool(['storage', 'list', '--storage', storage]);
    expect(r.code).not.toBe(0);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
    expect(r.stdout).toBe('');
  });

  test.each(['show', 'list', 'create', 'mount', 'unmount'])('unknown storage: %s names it in one line, exit 2', async (cmd) => {
    const r = await c.tool(['storage', cmd, '--storage', 'nope', ...(cmd === 'mount' ? ['--snapshot', 'x'] : [])]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: ontap-snapshot: storage 'nope' does not exist\n");
    expect(r.stdout).toBe('');
  });

  test('a token with only audit privileges can show and list (GET /storage, not /storage/{id})', async () => {
    const config = writeConfig(configText(c.pve, c.ontap).replace(/^api_token = .*$/m, `api_token = ${AUDIT_TOKEN}=${AUDIT_SECRET}`), 0o600, 'audit.conf');
    // the token really lacks Datastore.Allocate: reading one storage's config is refused
    const asAudit = (path: string) => fetch(`${c.pve.url}/api2/json${path}`, { headers: { Authorization: `PVEAPIToken=${AUDIT_TOKEN}=${AUDIT_SECRET}` }, tls: { rejectUnauthorized: false } } as RequestInit);
    expect((await asAudit('/storage/nfs1')).status).toBe(403);
    expect((await asAudit('/storage')).status).toBe(200);
    for (const cmd of ['show', 'list']) {
      const r = await c.tool(['storage', cmd, '--storage', 'nfs1', '-o', 'json', '--config', config]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const show = JSON.parse((await c.tool(['storage', 'show', '--storage', 'nfs1', '-o', 'json', '--config', config])).stdout);
    expect(show).toMatchObject({ storage: 'nfs1', svm: 'svm1', volume: 'pve_data' });
    // but changing Proxmox storages is still refused by Proxmox
    const mount = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'nightly.0', '--config', config]);
    expect(mount.code).not.toBe(0);
    expect(clonesOf(await c.ontap.state(), 'pve_data')).toEqual([]);
  });
});

describe('snapshots', () => {
  test('create, list, delete', async () => {
    const created = await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'e2e_one', '-o', 'json']);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)[0]).toMatchObject({ name: 'e2e_one', volume: 'pve_data', comment: 'made by ontap-snapshot' });
    const listed = JSON.parse((await c.tool(['storage', 'list', '--storage', 'nfs1', '-o', 'json'])).stdout);
    expect(listed.map((s: any) => s.name)).toEqual(['nightly.0', 'e2e_one']);
    // svm2's volume at the same junction got nothing
    expect(vol(await c.ontap.state(), 'other_data').snapshots).toEqual([]);
    const del = await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'e2e_one']);
    expect(del.code).toBe(0);
    expect(vol(await c.ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).toEqual(['nightly.0']);
  });

  test('default name is proxmox_snapshot_<UTC time>', async () => {
    const r = await c.tool(['storage', 'create', '--storage', 'nfs2', '-o', 'json']);
    expect(r.code).toBe(0);
    const name = JSON.parse(r.stdout)[0].name;
    expect(name).toMatch(/^proxmox_snapshot_\d{8}_\d{6}$/);
    expect(vol(await c.ontap.state(), 'other_data').snapshots.map((s: any) => s.name)).toEqual([name]);
  });

  test('a snapshot not made by the tool needs --yes to be deleted', async () => {
    const r = await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'nightly.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/was not made by ontap-snapshot .* add --yes/);
    expect(vol(await c.ontap.state(), 'pve_data').snapshots.map((s: any) => s.name)).toContain('nightly.0');
  });

  test('delete of a snapshot held by a clone names the clone in one line', async () => {
    const r = await c.tool(['storage', 'delete', '--storage', 'nfs-held', '--snapshot', 'base']);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toEqual(["error: ontap-snapshot: snapshot 'base' of volume held is held by FlexClone volume held_child (mounted at /vol/held_child); unmount it first"]);
    expect(vol(await c.ontap.state(), 'held').snapshots).toHaveLength(1);
  });

  test('a missing snapshot is named', async () => {
    const r = await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'ghost', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/snapshot 'ghost' of volume pve_data does not exist/);
  });
});

describe('restore', () => {
  test('without a terminal it needs --yes, then rolls the volume back', async () => {
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'before'])).code).toBe(0);
    const v = vol(await c.ontap.state(), 'pve_data');
    // a file written after the snapshot
    const made = await c.ontap.rest('POST', '/api/storage/file/clone?return_timeout=30', { volume: { uuid: v.uuid }, source_path: 'images/101/vm-101-disk-0.qcow2', destination_path: 'images/101/after.qcow2' });
    expect(made.status).toBe(201);
    const refused = await c.tool(['storage', 'restore', '--storage', 'nfs1', '--snapshot', 'before', '--force-running']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/loses everything written to it since .* add --yes to restore without a terminal/);
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).toContain('images/101/after.qcow2');
    const ok = await c.tool(['storage', 'restore', '--storage', 'nfs1', '--snapshot', 'before', '--yes', '--force-running']);
    expect(ok.code).toBe(0);
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).not.toContain('images/101/after.qcow2');
    expect((await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'before'])).code).toBe(0);
  });
});

describe('restore on a terminal', () => {
  // `script` gives the tool a pseudo-terminal and passes our answer to it
  const onTerminal = (answer: string) => {
    const cmd = `'${BIN}' ontap-snapshot storage restore --storage nfs1 --snapshot asked --force-running --config '${c.config}'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: answer, encoding: 'utf8', env: { ...process.env, ...FAST, AUTOSNAP_CONFIG: '' }, timeout: 30_000 });
    return { code: r.status, out: r.stdout.replace(/\r/g, '') };
  };
  test('says what is lost and goes on only after yes', async () => {
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'asked'])).code).toBe(0);
    const v = vol(await c.ontap.state(), 'pve_data');
    await c.ontap.rest('POST', '/api/storage/file/clone?return_timeout=30', { volume: { uuid: v.uuid }, source_path: 'images/101/vm-101-disk-0.qcow2', destination_path: 'images/101/later.qcow2' });
    const no = onTerminal('no\n');
    expect(no.out).toMatch(/restoring volume pve_data \(storage nfs1\) to snapshot asked loses everything written to it since/);
    expect(no.out).toMatch(/Type 'yes' to restore:/);
    expect(no.out).toMatch(/not confirmed; nothing was changed/);
    expect(no.code).toBe(1);
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).toContain('images/101/later.qcow2');
    // a bare y is not the word, and Ctrl-D (end of input) is no rather than a hang
    for (const answer of ['y\n', '\x04']) {
      const r = onTerminal(answer);
      expect(r.out).toMatch(/not confirmed; nothing was changed/);
      expect(r.code).toBe(1);
    }
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).toContain('images/101/later.qcow2');
    const yes = onTerminal('yes\n');
    expect(yes.code).toBe(0);
    expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).not.toContain('images/101/later.qcow2');
    expect((await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'asked'])).code).toBe(0);
  });
});

describe('mount and unmount', () => {
  test('two snapshots mounted at once, each a FlexClone plus a storage like its parent', async () => {
    for (const s of ['m_one', 'm.two']) expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', s])).code).toBe(0);
    const one = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'm_one', '-o', 'json']);
    const two = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'm.two', '-o', 'json']);
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    const ids = [JSON.parse(one.stdout)[0].clone_storage, JSON.parse(two.stdout)[0].clone_storage];
    expect(ids[0]).toBe('nfs1-CLONE-m_one');
    expect(ids[1]).toBe('nfs1-CLONE-m.two');
    const parent = await storageCfg('nfs1');
    for (const id of ids) {
      const st = await storageCfg(id);
      expect(st).toMatchObject({ type: 'nfs', server: parent.server, content: parent.content, options: parent.options });
      expect(st.nodes).toEqual(parent.nodes);
    }
    const state = await c.ontap.state();
    const clone = vol(state, 'pve_data_clone_m_one');
    expect(clone).toMatchObject({ path: '/vol/pve_data_clone_m_one', exportPolicy: 'pve_hosts', svm: 'svm1', clone: { parentVolume: 'pve_data', parentSnapshot: 'm_one' } });
    expect((await storageCfg(ids[0])).export).toBe(clone.path);
    // the mounted clone is a storage of its own: show finds it through its own export
    const show = JSON.parse((await c.tool(['storage', 'show', '--storage', ids[0], '-o', 'json'])).stdout);
    expect(show).toMatchObject({ volume: 'pve_data_clone_m_one', flexclone: 'pve_data@m_one' });

    // mounting the same snapshot again is refused and changes nothing
    const again = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'm_one']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already mounted as storage 'nfs1-CLONE-m_one'/);

    // the parent snapshot is busy while mounted
    const busy = await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'm_one']);
    expect(busy.code).toBe(1);
    expect(errorLines(busy)).toHaveLength(1);
    expect(busy.stderr).toMatch(/held by FlexClone volume pve_data_clone_m_one/);

    for (const [i, id] of ids.entries()) {
      const r = i === 0 ? await c.tool(['storage', 'unmount', '--storage', id]) : await c.tool(['storage', 'unmount', '--storage', 'nfs1', '--snapshot', 'm.two']);
      expect(r.code).toBe(0);
      expect((await c.pve.api('GET', `/storage/${id}`)).status).not.toBe(200);
    }
    expect(clonesOf(await c.ontap.state(), 'pve_data')).toEqual([]);
    for (const s of ['m_one', 'm.two']) expect((await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', s])).code).toBe(0);
  });

  test('a FlexClone made by hand is not deleted without --yes; the tool\'s own clone is', async () => {
    expect((await c.tool(['storage', 'create', '--storage', 'nfs1', '--snapshot', 'hand'])).code).toBe(0);
    const made = await c.ontap.rest('POST', '/api/storage/volumes?return_timeout=30', {
      name: 'manual_clone', svm: { name: 'svm1' }, nas: { path: '/vol/manual_clone', export_policy: { name: 'pve_hosts' } },
      clone: { parent_volume: { name: 'pve_data' }, parent_snapshot: { name: 'hand' }, is_flexclone: true },
    });
    expect(made.status).toBeLessThan(300);
    const added = await c.pve.api('POST', '/storage', { storage: 'prodclone', type: 'nfs', server: '10.0.0.5', export: '/vol/manual_clone', content: 'images' });
    expect(added.status).toBe(200);
    const present = async () => ({ storage: (await c.pve.api('GET', '/storage/prodclone')).status === 200, volume: Boolean(vol(await c.ontap.state(), 'manual_clone')) });
    expect(await present()).toEqual({ storage: true, volume: true });

    // no terminal (stdin is not one under the test runner) and no --yes: refused, nothing changed
    const refused = await c.tool(['storage', 'unmount', '--storage', 'prodclone']);
    expect(refused.code).toBe(2);
    expect(errorLines(refused)).toHaveLength(1);
    expect(refused.stderr).toMatch(/storage 'prodclone' and FlexClone manual_clone \(pve_data@hand\) were not made by ontap-snapshot mount; .* add --yes to unmount it anyway without a terminal/);
    expect(await present()).toEqual({ storage: true, volume: true });
    // PARENT --snapshot S names the storage mount would have made; there is none, so nothing is touched
    expect((await c.tool(['storage', 'unmount', '--storage', 'prodclone', '--snapshot', 'hand'])).code).not.toBe(0);
    expect(await present()).toEqual({ storage: true, volume: true });

    // the tool's own mount of the same snapshot still unmounts without --yes
    expect((await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'hand'])).code).toBe(0);
    const own = await c.tool(['storage', 'unmount', '--storage', 'nfs1-CLONE-hand']);
    expect(own.stderr).not.toMatch(/not made by/);
    expect(own.code).toBe(0);
    expect(vol(await c.ontap.state(), 'pve_data_clone_hand')).toBeUndefined();
    expect(await present()).toEqual({ storage: true, volume: true });

    const yes = await c.tool(['storage', 'unmount', '--storage', 'prodclone', '--yes']);
    expect(yes.code).toBe(0);
    expect(await present()).toEqual({ storage: false, volume: false });
    expect((await c.tool(['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'hand'])).code).toBe(0);
  });

  test('unmount refuses a volume that is not a clone', async () => {
    const r = await c.tool(['storage', 'unmount', '--storage', 'nfs1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/volume pve_data, which is not a FlexClone/);
    expect(await storageCfg('nfs1')).toBeTruthy();
    expect(vol(await c.ontap.state(), 'pve_data')).toBeTruthy();
  });

  test('a mount whose Proxmox storage fails leaves no clone and no storage behind', async () => {
    await c.pve.control('/_sim/faults', { spec: 'fail=POST:^/storage$:500:create storage failed: mount error: injected' });
    try {
      const r = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'nightly.0']);
      expect(r.code).toBe(1);
      expect(errorLines(r)).toHaveLength(1);
      expect(r.stderr).toMatch(/add storage 'nfs1-CLONE-nightly.0': .*injected.*; the FlexClone was removed again/);
    } finally {
      await c.pve.control('/_sim/faults', { spec: '' });
    }
    expect((await c.pve.api('GET', '/storage/nfs1-CLONE-nightly.0')).status).not.toBe(200);
    expect(clonesOf(await c.ontap.state(), 'pve_data')).toEqual([]);
  });

  test('a FlexClone job that fails after making the volume leaves no half clone', async () => {
    const deletes = async () => (await c.ontap.rest('GET', '/_sim/stats')).body['DELETE /api/storage/volumes/{uuid}'] ?? 0;
    const before = await deletes();
    await c.ontap.setFaults('jobfail=POST:^/api/storage/volumes$:917888:junction creation failed (injected)');
    try {
      const r = await c.tool(['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'nightly.0']);
      expect(r.code).toBe(1);
      expect(errorLines(r)).toHaveLength(1);
      // the snapshot name has a dot: the volume name gets a hash so it stays unique
      expect(r.stderr).toMatch(/error: ontap-snapshot: create FlexClone pve_data_clone_nightly_0_[0-9a-f]{6} of pve_data@nightly.0: ONTAP error 917888: junction creation failed \(injected\)/);
    } finally {
      await c.ontap.setFaults('');
    }
    // the job left an unmounted clone behind, and the tool deleted it
    expect(await deletes()).toBe(before + 1);
    expect(clonesOf(await c.ontap.state(), 'pve_data')).toEqual([]);
    expect((await c.pve.api('GET', '/storage/nfs1-CLONE-nightly.0')).status).not.toBe(200);
  });
});

describe('credentials and config', () => {
  test('wrong ONTAP password: exit 3, one line, no secret', async () => {
    const cfg = writeConfig(configText(c.pve, c.ontap).replace(`password = ${c.ontap.password}`, 'password = wrong-password-42'));
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', cfg]);
    expect(r.code).toBe(3);
    expect(errorLines(r)).toEqual([`error: ontap-snapshot: ONTAP ${c.ontap.hostPort}: authentication failed for user admin (HTTP 401)`]);
    expect(r.stderr + r.stdout).not.toContain('wrong-password-42');
  });

  test('a config with a password that others can read is refused', async () => {
    const cfg = writeConfig(configText(c.pve, c.ontap), 0o644);
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mode 0644 is readable by others/);
    expect(r.stderr).not.toContain(c.ontap.password);
  });

  test('a wrong fingerprint pin refuses to connect', async () => {
    const cfg = writeConfig(configText(c.pve, c.ontap).replace(`fingerprint = ${c.ontap.fingerprint}`, `fingerprint = ${'AB:'.repeat(31)}AB`));
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', cfg]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/does not match the pinned/);
  });

  test('the certificate as CA file works; no pin and no CA is refused', async () => {
    const pem = writeConfig(await c.ontap.certPem(), 0o644, 'ontap.pem');
    const withCa = writeConfig(configText(c.pve, c.ontap).replace(`fingerprint = ${c.ontap.fingerprint}`, `ca_file = ${pem}`));
    expect((await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', withCa])).code).toBe(0);
    const bare = writeConfig(configText(c.pve, c.ontap).replace(`fingerprint = ${c.ontap.fingerprint}`, ''));
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', bare]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/TLS certificate not trusted.*pin it with fingerprint = [0-9A-F:]{95}/);
  });

  test('no ONTAP section for the storage says what to add', async () => {
    const cfg = writeConfig(configText(c.pve, c.ontap).replace('[ontap]', '[ontap elsewhere]'));
    const r = await c.tool(['storage', 'list', '--storage', 'nfs1', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no ONTAP cluster configured for storage 'nfs1': add a section \[ontap nfs1\]/);
  });

  test.each([
    [['storage', 'mount', '--storage', 'nfs1'], /storage mount: --snapshot is required/],
    [['storage', 'frobnicate', '--storage', 'nfs1'], /unknown storage command 'frobnicate'/],
    [['storage', 'list'], /--storage is required/],
    [['volume', 'list'], /unknown command 'volume'/],
    [['storage', 'create', '--storage', 'nfs1', '--snapshot', '.bad name'], /snapshot name '.bad name' is not valid/],
    [['storage', 'list', '--storage', 'nfs1', '--snaphsot', 'x'], /unknown option '--snaphsot'/],
  ])('usage error %p', async (args, msg) => {
    const r = await c.tool(args);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).toMatch(msg);
  });
});
