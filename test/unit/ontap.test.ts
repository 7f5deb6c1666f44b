// The pure parts of ontap-snapshot and its simulator: tables of cases.
import { describe, expect, test } from 'bun:test';
import { parseConfig } from '../../lib/core/config.ts';
import path from 'node:path';
import { legacyDashes, parseLogLevel } from '../../lib/tools/ontap-snapshot/main.ts';
import { bundleConfigPath } from '../../lib/tools/ontap-snapshot/context.ts';
import { isScheduled, scheduledName } from '../../lib/tools/ontap-snapshot/schedule.ts';
import { baseStorageId, buildTarget, legacyPveConfig, ontapTargetFor } from '../../lib/domain/ontap/config.ts';
import { cloneFileName, imageFile, parseCloneName, vmDisks } from '../../lib/domain/ontap/disks.ts';
import { OntapError } from '../../lib/clients/ontap/errors.ts';
import { firstPart } from '../../lib/clients/ontap/rest.ts';
import { agentEnabled } from '../../lib/tools/ontap-snapshot/freeze.ts';
import { pickVolume } from '../../lib/domain/ontap/mapping.ts';
import { guestProblem, manifestProblem, recordedDisks, safeDir } from '../../lib/tools/ontap-snapshot/manifest.ts';
import { checkSnapshotName, cloneJunction, cloneStorageId, cloneVolumeName, defaultSnapshotName, madeByMount, snapshotOrigin } from '../../lib/domain/ontap/names.ts';
import { RestOntap, assertOntapPath, queryString } from '../../lib/clients/ontap/rest.ts';
import { nextJobDelay, type VolumeInfo } from '../../lib/clients/ontap/types.ts';
import { parseZapiResponse, zapiRequest } from '../../lib/clients/ontap/zapi.ts';
import { SimClock } from '../../lib/sim/ontap/clock.ts';
import { matchRule, parseFaults } from '../../lib/sim/ontap/faults.ts';
import { badParameter, matchesExpr, project, unflatten, withParents } from '../../lib/sim/ontap/query.ts';
import { SimError } from '../../lib/sim/ontap/records.ts';
import { OntapState } from '../../lib/sim/ontap/state.ts';

describe('disks of a VM config', () => {
  const { disks, skipped } = vmDisks({
    scsi0: 'nfs1:100/vm-100-disk-0.qcow2,size=32G',
    virtio10: 'nfs1:100/vm-100-disk-10.raw,size=1G',
    virtio2: 'nfs1:100/vm-100-disk-2.raw,iothread=1',
    sata1: 'nfs1:100/vm-100-disk-3.vmdk',
    ide0: 'nfs1:101/base-101-disk-0.qcow2/100/vm-100-disk-4.qcow2',
    efidisk0: 'nfs1:100/vm-100-disk-5.raw,efitype=4m',
    tpmstate0: 'nfs1:100/vm-100-disk-6.raw,version=v2.0',
    ide2: 'nfs1:iso/x.iso,media=cdrom',
    ide3: 'none,media=cdrom',
    scsi5: 'local-zfs:vm-100-disk-7',
    scsi6: '/dev/disk/by-id/ata-X',
    unused0: 'nfs1:100/vm-100-disk-8.qcow2',
    net0: 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0',
    memory: 2048,
  });
  test('every disk key and format, in bus order', () => {
    expect(disks.map((d) => [d.key, d.file, d.format])).toEqual([
      ['efidisk0', 'images/100/vm-100-disk-5.raw', 'raw'],
      ['ide0', 'images/100/vm-100-disk-4.qcow2', 'qcow2'],
      ['sata1', 'images/100/vm-100-disk-3.vmdk', 'vmdk'],
      ['scsi0', 'images/100/vm-100-disk-0.qcow2', 'qcow2'],
      ['tpmstate0', 'images/100/vm-100-disk-6.raw', 'raw'],
      ['virtio2', 'images/100/vm-100-disk-2.raw', 'raw'],
      ['virtio10', 'images/100/vm-100-disk-10.raw', 'raw'],
    ]);
  });
  test('the rest is skipped with a reason', () => {
    expect(Object.fromEntries(skipped.map((s) => [s.key, s.reason]))).toEqual({
      ide2: 'cd-rom', ide3: 'cd-rom', scsi5: 'not a qcow2, raw or vmdk image file', scsi6: 'not on a storage (device or path)',
    });
  });
  test.each([
    ['100/vm-100-disk-0.qcow2', 'images/100/vm-100-disk-0.qcow2'],
    ['101/base-101-disk-0.qcow2/100/vm-100-disk-1.qcow2', 'images/100/vm-100-disk-1.qcow2'],
    ['vm-100-disk-0', undefined],
    ['iso/x.iso', undefined],
  ])('imageFile(%s) = %s', (volname, file) => expect(imageFile(volname)).toBe(file));
});

describe('clone names', () => {
  const when = new Date('2024-02-03T04:05:06.789Z');
  test.each([
    ['images/100/vm-100-disk-0.qcow2', 'images/100/vm-100-disk-0-snapshot-20240203040506.qcow2'],
    ['sub/images/100/vm-100-disk-1.raw', 'sub/images/100/vm-100-disk-1-snapshot-20240203040506.raw'],
    ['images/100/vm-100-disk-2.vmdk', 'images/100/vm-100-disk-2-snapshot-20240203040506.vmdk'],
  ])('%s -> %s', (file, clone) => expect(cloneFileName(file, when)).toBe(clone));
  test.each([
    ['vm-100-disk-0-snapshot-20240203040506.qcow2', 100, 'vm-100-disk-0.qcow2'],
    ['vm-100-disk-0-snapshot-20240203040506.qcow2', 101, undefined],
    ['vm-100-disk-0.qcow2', 100, undefined],
    ['vm-100-disk-0-snapshot-2024.qcow2', 100, undefined],
    ['other-snapshot-20240203040506.raw', 100, undefined],
    // the original pve-ontap-snapshot.py's clones
    ['vm-100-disk-0-snapshot-2024-02-03_04:05:06+0000.qcow2', 100, 'vm-100-disk-0.qcow2'],
    ['vm-100-disk-1-snapshot-2024-02-03_04:05:06+0000.raw', 101, undefined],
    ['vm-100-disk-1-snapshot-2024-02-31_04:05:06+0000.raw', 100, undefined],
    ['vm-100-disk-1-snapshot-2024-02-03_04:05:06+0100.raw', 100, undefined],
  ])('parseCloneName(%s, %d) source %s', (name, vmid, source) => expect(parseCloneName(name, vmid)?.source).toBe(source));
  test('the creation time comes back from the name', () => {
    expect(parseCloneName('vm-7000-disk-0-snapshot-20240203040506.raw', 7000)?.created.toISOString()).toBe('2024-02-03T04:05:06.000Z');
    expect(parseCloneName('vm-7000-disk-0-snapshot-2024-02-03_04:05:06+0000.raw', 7000)).toMatchObject({ legacy: true, created: new Date('2024-02-03T04:05:06Z') });
  });
  test.each([
    [{ name: 'x', comment: 'made by ontap-snapshot' }, 'ontap-snapshot'],
    [{ name: 'proxmox_snapshot_20240101_000000', comment: 'made by ontap-snapshot' }, 'ontap-snapshot'],
    [{ name: 'proxmox_snapshot_2024-01-01_00:00:00+0000' }, 'pve-ontap-snapshot.py'],
    [{ name: 'hourly.2024-01-01_0105', comment: 'schedule' }, undefined],
  ])('snapshotOrigin(%p) = %p', (snap, origin) => expect(snapshotOrigin(snap)).toBe(origin as any));
  test('snapshot, clone volume, storage id and junction names', () => {
    expect(defaultSnapshotName(when)).toBe('proxmox_snapshot_20240203_040506');
    expect(cloneVolumeName('pve_data', 'daily_1')).toBe('pve_data_clone_daily_1');
    expect(cloneVolumeName('pve_data', 'hourly.2024-01-01_0105')).toMatch(/^pve_data_clone_hourly_2024_01_01_0105_[0-9a-f]{6}$/);
    // names that differ only in characters ONTAP does not allow stay different
    expect(cloneVolumeName('v', 'a.b')).not.toBe(cloneVolumeName('v', 'a_b'));
    expect(cloneStorageId('nfs1', 'hourly.2024-01-01_0105')).toBe('nfs1-CLONE-hourly.2024-01-01_0105');
    expect(cloneStorageId('nfs1', 'a:b')).toMatch(/^nfs1-CLONE-a-b-[0-9a-f]{6}$/);
    expect(cloneStorageId('nfs1', 'x-')).toMatch(/[A-Za-z0-9]$/);
    expect(cloneJunction('/vol/pve_nfs', 'c')).toBe('/vol/c');
    expect(cloneJunction('/pve', 'c')).toBe('/c');
    expect(cloneJunction(undefined, 'c')).toBe('/c');
  });
  test.each([
    ['proxmox_snapshot_20240203_040506', true],
    ['hourly.2024-01-01_0105', true],
    ['.hidden', false],
    ['has space', false],
    ['', false],
  ])('snapshot name %p valid: %p', (name, ok) => expect(checkSnapshotName(name) === undefined).toBe(ok));
  const clone = (name: string, parentVolume: string | undefined, parentSnapshot: string | undefined, isClone = true) => ({ name, isClone, parentVolume, parentSnapshot });
  test.each([
    // what mount makes, also for snapshot names that get sanitised or hashed
    ['nfs1-CLONE-m_one', clone('pve_data_clone_m_one', 'pve_data', 'm_one'), true],
    ['nfs1-CLONE-m.two', clone(cloneVolumeName('pve_data', 'm.two'), 'pve_data', 'm.two'), true],
    [cloneStorageId('a-CLONE-b', 'x:y'), clone(cloneVolumeName('v', 'x:y'), 'v', 'x:y'), true],
    // a clone made by hand: its own storage or volume name
    ['prodclone', clone('manual_clone', 'pve_data', 'm_one'), false],
    ['prodclone', clone('pve_data_clone_m_one', 'pve_data', 'm_one'), false],
    ['nfs1-CLONE-m_one', clone('manual_clone', 'pve_data', 'm_one'), false],
    // names that fit another parent or snapshot than ONTAP records
    ['nfs1-CLONE-m_one', clone('pve_data_clone_m_one', 'pve_data', 'other'), false],
    ['nfs1-CLONE-m_one', clone('pve_data_clone_m_one', 'pve_other', 'm_one'), false],
    ['-CLONE-m_one', clone('pve_data_clone_m_one', 'pve_data', 'm_one'), false],
    ['nfs1-CLONE-m_one', clone('pve_data_clone_m_one', undefined, undefined), false],
    ['nfs1-CLONE-m_one', clone('pve_data_clone_m_one', 'pve_data', 'm_one', false), false],
  ])('storage %s on %o made by mount: %p', (id, vol, ours) => expect(madeByMount(id as string, vol as ReturnType<typeof clone>)).toBe(ours as boolean));
});

describe('storage to volume', () => {
  const v = (name: string, path?: string): VolumeInfo => ({ uuid: name, name, svm: 's', path, isClone: false });
  const vols = [v('root', '/'), v('vols', '/vol'), v('data', '/vol/pve_nfs'), v('data2', '/vol/pve_nfs2'), v('unmounted')];
  test.each([
    ['/vol/pve_nfs', 'data', ''],
    ['/vol/pve_nfs/', 'data', ''],
    ['//vol//pve_nfs', 'data', ''],
    ['/vol/pve_nfs/sub/dir', 'data', 'sub/dir'],
    ['/vol/pve_nfs2', 'data2', ''],
    ['/vol/other', 'vols', 'other'],
    ['/elsewhere', 'root', 'elsewhere'],
  ])('export %s -> %s + %p', (exp, name, subdir) => {
    expect(pickVolume(vols, exp)).toEqual({ volume: vols.find((x) => x.name === name)!, subdir });
  });
  test('no junction above the export', () => expect(pickVolume([v('data', '/vol/pve_nfs')], '/other')).toBeUndefined());
});

describe('config', () => {
  const cfg = parseConfig(`
[ontap]
host = cluster1.example
user = admin
password = secret-default
api = rest

[ontap nfs1]
host = 10.0.0.4:8443
fingerprint = ${'ab'.repeat(32)}

[nfs2]
host = filer2
user = vsadmin
pass = secret-legacy
verify = False

[proxmox]
proxmox_host = pve1
proxmox_user = root
proxmox_pass = pve-pw
proxmox_verify = /etc/ssl/pve.pem
`, 'test.conf');
  test('a storage section overrides the [ontap] defaults', () => {
    const t = ontapTargetFor('nfs1', [cfg])!;
    expect(t).toMatchObject({ host: { host: '10.0.0.4', port: 8443 }, user: 'admin', password: 'secret-default', api: 'rest', specific: true });
    expect(t.fingerprints).toEqual([Array(32).fill('AB').join(':')]);
  });
  test('the original layout, and a -CLONE suffix stripped', () => {
    for (const id of ['nfs2', 'nfs2-CLONE', 'nfs2-CLONE-snap.1']) {
      expect(ontapTargetFor(id, [cfg])).toMatchObject({ host: { host: 'filer2', port: 443 }, user: 'vsadmin', password: 'secret-legacy', insecure: true, specific: true });
    }
  });
  test('[DEFAULT] of the original layout is inherited; a password hides a password_file below it', () => {
    const legacy = parseConfig('[DEFAULT]\nuser = vsadmin\npass = p-default\n\n[nfs3]\nhost = filer3\n');
    expect(ontapTargetFor('nfs3', [legacy])).toMatchObject({ host: { host: 'filer3' }, user: 'vsadmin', password: 'p-default' });
    const mixed = parseConfig('[ontap]\nhost = h\nuser = u\npassword_file = /nonexistent/secret\n\n[ontap nfs4]\npassword = own-pass\n');
    expect(ontapTargetFor('nfs4', [mixed])?.password).toBe('own-pass');
  });
  test('other storages get the defaults', () => {
    expect(ontapTargetFor('nfs9', [cfg])).toMatchObject({ host: { host: 'cluster1.example' }, specific: false });
    expect(ontapTargetFor('nfs9', [parseConfig('[pve]\nhost=x\n')])).toBeUndefined();
  });
  test('the first config wins', () => {
    const first = parseConfig('[ontap nfs1]\nhost = a\nuser = u\npassword = p1234\n');
    expect(ontapTargetFor('nfs1', [first, cfg])?.host.host).toBe('a');
  });
  test('[proxmox] becomes the connection section', () => {
    const pve = legacyPveConfig(cfg)!;
    expect(pve.get('pve', 'host')).toBe('pve1');
    expect(pve.get('pve', 'username')).toBe('root@pam');
    expect(pve.get('pve', 'password')).toBe('pve-pw');
    expect(pve.get('pve', 'ca_file')).toBe('/etc/ssl/pve.pem');
    expect(legacyPveConfig(parseConfig('[DEFAULT]\nproxmox_host = h\nproxmox_user = a@pve\nproxmox_verify = false\n'))?.get('pve', 'insecure')).toBe('yes');
    expect(legacyPveConfig(parseConfig('[ontap]\nhost=x\n'))).toBeUndefined();
  });
  test.each([
    [{ user: 'a', password: 'pppp' }, /no host/],
    [{ host: 'h', password: 'pppp' }, /no user/],
    [{ host: 'h', user: 'a' }, /no password/],
    [{ host: 'h', user: 'a', password: 'pppp', api: 'soap' }, /api 'soap' is not rest, zapi or auto/],
    [{ host: 'h', user: 'a', password: 'pppp', verify: 'maybe' }, /verify 'maybe' is not yes, no or a CA file path/],
    [{ host: 'h', user: 'a', password: 'pppp', verify: 'no', fingerprint: 'ab'.repeat(32) }, /contradict/],
    [{ host: 'h', user: 'a', password: 'pppp', fingerprint: 'abc' }, /fingerprint 'abc' is not a SHA-256 fingerprint/],
    [{ host: 'h', user: 'a', password: 'pppp', job_timeout: 'soon' }, /job_timeout 'soon'/],
    // a password inside a host URL is hidden in the refusal
    [{ host: 'https://admin:HOSTPW1@10.0.0.1', user: 'a', password: 'pppp' }, /^x\.conf \[ontap\]: host 'https:\/\/\*\*\*@10\.0\.0\.1' is not a host name or address$/],
  ])('bad section %p', (values, msg) => {
    expect(() => buildTarget(values as Record<string, string>, 'x.conf [ontap]')).toThrow(msg);
  });
  test.each([
    ['nfs1-CLONE', 'nfs1'],
    ['nfs1-CLONE-snap', 'nfs1'],
    ['nfs1-clone-x', 'nfs1'],
    ['nfs1', 'nfs1'],
    ['CLONE', 'CLONE'],
  ])('baseStorageId(%s) = %s', (id, base) => expect(baseStorageId(id)).toBe(base));
  test('single-dash options of the original tool', () => {
    expect(legacyDashes(['vm', 'create', '-vm', '100', '-suspend', '-storage=x', '-o', 'json', '-v'])).toEqual(['vm', 'create', '--vm', '100', '--suspend', '--storage=x', '-o', 'json', '-v']);
    expect(legacyDashes(['-config', 'x.ini', '-loglevel', 'DEBUG', '-c', 'y'])).toEqual(['--config', 'x.ini', '--loglevel', 'DEBUG', '-c', 'y']);
  });
  test.each([['DEBUG', 'debug'], ['info', 'info'], ['WARNING', 'warn'], ['ERROR', 'error'], ['CRITICAL', 'error']])('-loglevel %s is %s', (v, level) => expect(parseLogLevel(v)).toBe(level as any));
  test('an unknown -loglevel is one line', () => expect(() => parseLogLevel('LOUD')).toThrow("--loglevel: 'LOUD' is not debug, info, warning or error"));
  test.each([
    [{ config: '/x.conf' }, {}, [], '/x.conf'],
    [{}, { AUTOSNAP_CONFIG: '/e.conf' }, ['config.ini'], '/e.conf'],
    [{}, {}, ['/etc/autosnap/autosnap.conf', 'config.ini'], undefined],
    [{}, {}, ['config.ini'], path.resolve('config.ini')],
    [{}, {}, [], undefined],
  ])('bundle config for %p %p with %p present: %p', (args, env, present, want) =>
    expect(bundleConfigPath(args as any, env, (p) => (present as string[]).includes(p))).toBe(want as any));
});

describe('REST client', () => {
  test('query strings keep filter syntax readable', () => {
    expect(queryString({ 'nas.path': '/vol/a b', fields: 'a,b', name: 'x|y*', 'svm.name': undefined, n: 3 })).toBe('?nas.path=/vol/a%20b&fields=a,b&name=x|y*&n=3');
  });
  test('job polling: 1 s x1.4 up to 2 s, scaled', () => {
    const seq: number[] = [];
    let d: number | undefined;
    for (let i = 0; i < 5; i++) seq.push((d = nextJobDelay(d)));
    expect(seq.map((x) => Math.round(x))).toEqual([1000, 1400, 1960, 2000, 2000]);
    expect(nextJobDelay(undefined, 0.01)).toBe(10);
  });

  /** A scripted HTTP peer: answers in order, records what was asked. */
  function fake(answers: { status: number; body: unknown }[]) {
    const asked: string[] = [];
    const http = {
      host: 'filer:443',
      user: 'u',
      requests: 0,
      send: async (method: string, path: string) => {
        asked.push(`${method} ${path}`);
        const a = answers.shift();
        if (!a) throw new Error(`unexpected ${method} ${path}`);
        return { status: a.status, text: JSON.stringify(a.body) };
      },
    };
    const slept: number[] = [];
    const client = new RestOntap(http as any, { jobTimeoutMs: 5000, sleep: async (ms) => void slept.push(ms) });
    return { client, asked, slept };
  }
  const vol: VolumeInfo = { uuid: 'u1', name: 'v', svm: 's', isClone: false };
  const accepted = { status: 202, body: { job: { uuid: 'j1' } } };

  test('a 202 is polled until success', async () => {
    const f = fake([accepted, { status: 200, body: { state: 'running' } }, { status: 200, body: { state: 'running' } }, { status: 200, body: { state: 'success' } }]);
    await f.client.createSnapshot(vol, 's1');
    expect(f.asked).toEqual(['POST /api/storage/volumes/u1/snapshots', ...Array(3).fill('GET /api/cluster/jobs/j1?fields=state,message,code,error')]);
    expect(f.slept.map(Math.round)).toEqual([1000, 1400, 1960]);
  });
  test('a failed job is one line with its code', async () => {
    const f = fake([accepted, { status: 200, body: { state: 'failure', code: 1638555, message: 'Snapshot copy "s" is busy:\n held by "c"', error: { code: '1638555', message: 'Snapshot copy "s" is busy:\n held by "c"' } } }]);
    const err = await f.client.deleteSnapshot(vol, { name: 's', uuid: 's-uuid' }).catch((e) => e);
    expect(err).toBeInstanceOf(OntapError);
    expect(err.message).toBe('delete snapshot s of volume v: ONTAP error 1638555: Snapshot copy "s" is busy: held by "c"');
    expect(err.code).toBe('1638555');
  });
  test('an error answer keeps ONTAP code and message', async () => {
    const f = fake([{ status: 404, body: { error: { code: '4', message: "entry doesn't exist", target: 'uuid' } } }]);
    await expect(f.client.restoreSnapshot(vol, 'x')).rejects.toThrow("restore volume v to snapshot x: ONTAP error 4: entry doesn't exist");
  });
  test('a uuid or name from an answer that would change the path is refused before sending', async () => {
    // a snapshot uuid `../../u2` would make the server delete volume u2; `..` as a name without uuid the volume itself
    for (const snap of [{ name: 's', uuid: '../../u2' }, { name: '..' }, { name: 's', uuid: '%2e%2E' }, { name: 's', uuid: '' }]) {
      const f = fake([accepted, { status: 200, body: { state: 'success' } }]);
      await expect(f.client.deleteSnapshot(vol, snap)).rejects.toThrow(/refusing the request path/);
      expect(f.asked).toEqual([]);
    }
    const f = fake([accepted, { status: 200, body: { state: 'success' } }]);
    await expect(f.client.deleteVolume({ ...vol, uuid: 'u1/..' })).rejects.toThrow(/refusing the request path/);
    // the cluster version (whether volume delete takes force=true) may be read first; nothing on the volume is sent
    expect(f.asked.filter((a) => a !== 'GET /api/cluster?fields=version')).toEqual([]);
  });
  test.each([
    ['DELETE', '/api/storage/volumes/u1/snapshots/s-uuid', true],
    ['GET', '/api/storage/volumes/u1/files/100%2Fvm-100-disk-0.qcow2?fields=name', true],
    ['GET', '/api/storage/volumes/u1/files/', true],
    ['DELETE', '/api/storage/volumes/u1/snapshots/', false],
    ['GET', '/api/storage/volumes/u1/files/100%2F..%2F..%2Fx', false],
    ['DELETE', '/api/storage/volumes/u1/snapshots/..', false],
    ['GET', '/api/storage/volumes//snapshots', false],
  ])('%s %s allowed: %p', (m, p, ok) => {
    if (ok) expect(() => assertOntapPath('x', m, p)).not.toThrow();
    else expect(() => assertOntapPath('x', m, p)).toThrow(/refusing the request path/);
  });
  test('a job that vanished is reported, not guessed', async () => {
    const f = fake([accepted, { status: 404, body: { error: { code: '4', message: "entry doesn't exist" } } }]);
    await expect(f.client.deleteSnapshot(vol, { name: 's1', uuid: 'su' })).rejects.toThrow(/job j1 vanished before its outcome was read/);
  });
  test.each([
    [{ generation: 9, major: 14, minor: 1 }, 'DELETE /api/storage/volumes/u1?force=true'],
    [{ generation: 9, major: 12, minor: 0 }, 'DELETE /api/storage/volumes/u1?force=true'],
    [{ generation: 10, major: 0, minor: 0 }, 'DELETE /api/storage/volumes/u1?force=true'],
    // before 9.12 there is no recovery queue, and no force parameter to send
    [{ generation: 9, major: 11, minor: 1 }, 'DELETE /api/storage/volumes/u1'],
  ])('a volume delete on %p is %s', async (version, request) => {
    const f = fake([{ status: 200, body: { version } }, { status: 200, body: {} }]);
    await f.client.deleteVolume(vol);
    expect(f.asked).toEqual(['GET /api/cluster?fields=version', request]);
  });
  test('a job that does not end times out', async () => {
    const running = Array.from({ length: 50 }, () => ({ status: 200, body: { state: 'running' } }));
    const f = fake([accepted, ...running]);
    const started = Date.now();
    const realNow = Date.now;
    let fakeNow = started;
    Date.now = () => (fakeNow += 1000);
    try {
      await expect(f.client.unmountVolume(vol)).rejects.toThrow(/job j1 still running after 5 s/);
    } finally {
      Date.now = realNow;
    }
  });
  test('collections follow _links.next', async () => {
    const f = fake([
      { status: 200, body: { records: [{ name: 'a', svm: { name: 's' } }], _links: { next: { href: '/api/storage/volumes?svm.name=s&start.uuid=2' } } } },
      { status: 200, body: { records: [{ name: 'b', svm: { name: 's' }, nas: { path: '/b' }, clone: { is_flexclone: true, parent_snapshot: { name: 'x' } } }], _links: {} } },
    ]);
    const vols = await f.client.volumes('s');
    expect(vols.map((x) => [x.name, x.path, x.isClone, x.parentSnapshot])).toEqual([['a', undefined, false, undefined], ['b', '/b', true, 'x']]);
    expect(f.asked[1]).toBe('GET /api/storage/volumes?svm.name=s&start.uuid=2');
  });
});

describe('ZAPI documents', () => {
  test('request with vfiler and nested, escaped arguments', () => {
    expect(zapiRequest('volume-get-iter', { query: { 'volume-attributes': { 'volume-id-attributes': { name: 'a&b', 'junction-path': undefined } } } }, 'svm1')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<netapp xmlns="http://www.netapp.com/filer/admin" version="1.21" vfiler="svm1"><volume-get-iter><query><volume-attributes><volume-id-attributes><name>a&amp;b</name></volume-id-attributes></volume-attributes></query></volume-get-iter></netapp>',
    );
  });
  test('a single list child is still a list; text stays text', () => {
    const r = parseZapiResponse('<netapp><results status="passed"><attributes-list><snapshot-info><name>0010</name></snapshot-info></attributes-list><num-records>1</num-records></results></netapp>', 'x');
    expect(r['attributes-list']['snapshot-info']).toEqual([{ name: '0010' }]);
  });
  test('a failure is OntapError with errno and reason', () => {
    expect(() => parseZapiResponse('<netapp><results status="failed" errno="13040" reason="No volume named x"/></netapp>', 'list')).toThrow('list: ONTAP error 13040: No volume named x');
  });
});

describe('simulator query grammar', () => {
  test.each([
    ['vol1', 'vol1', true],
    ['VOL1', 'vol1', true],
    ['vol1', 'vol2', false],
    ['vol1', 'vol*', true],
    ['vol1', '*1', true],
    ['vol1', 'x|vol1', true],
    ['vol1', '!vol1', false],
    ['vol1', '!x*', true],
    [5, '>3', true],
    [5, '<=4', false],
    [true, 'true', true],
    [['data_core', 'data_nfs'], 'data_nfs', true],
    [['data_core'], 'data_nfs', false],
    [undefined, 'x', false],
    [undefined, '!x', true],
  ] as const)('%p matches %p: %p', (value, expr, ok) => {
    expect(matchesExpr(value as any, expr)).toBe(ok);
  });
  test('nested, flattened and mixed bodies are one shape', () => {
    const want = { name: 'c', svm: { name: 's' }, clone: { parent_volume: { name: 'p' }, is_flexclone: true } };
    expect(unflatten({ name: 'c', svm: { name: 's' }, clone: { parent_volume: { name: 'p' }, is_flexclone: true } })).toEqual(want);
    expect(unflatten({ name: 'c', 'svm.name': 's', 'clone.parent_volume.name': 'p', 'clone.is_flexclone': true })).toEqual(want);
    expect(unflatten({ name: 'c', svm: { name: 's' }, 'clone.parent_volume': { name: 'p' }, clone: { is_flexclone: true } })).toEqual(want);
  });
  test('fields projection keeps keys and asked paths only', () => {
    const rec = { uuid: 'u', name: 'n', nas: { path: '/p', export_policy: { name: 'e' } }, svm: { name: 's' } };
    expect(project(rec, ['nas.path'])).toEqual({ uuid: 'u', name: 'n', nas: { path: '/p' } });
    expect(project(rec, undefined)).toEqual({ uuid: 'u', name: 'n' });
    expect(project(rec, ['*'])).toEqual(rec);
    expect(project(rec, ['nas.missing'])).toEqual({ uuid: 'u', name: 'n' });
  });
  test('faults', () => {
    const f = parseFaults('latency=5; fail=POST:^/api/x$:500:boom; failn=1:GET:/y:503; jobfail=DELETE:/snapshots/:1638555:busy');
    expect(f.latencyMs).toBe(5);
    expect(matchRule(f.fail, 'POST', '/api/x')?.message).toBe('boom');
    expect(matchRule(f.fail, 'GET', '/y')?.status).toBe(503);
    expect(matchRule(f.fail, 'GET', '/y')).toBeUndefined();
    expect(matchRule(f.jobfail, 'DELETE', '/api/storage/volumes/u/snapshots/s')?.status).toBe(1638555);
    expect(() => parseFaults('fail=nonsense')).toThrow(/is not METHOD:PATH_REGEX:CODE/);
  });
});

describe('scheduled snapshots', () => {
  test('name', () => expect(scheduledName('daily', new Date('2024-02-03T04:05:06.789Z'))).toBe('ontap_daily_20240203040506'));
  test.each([
    [{ name: 'ontap_daily_20240203040506', comment: 'made by ontap-snapshot' }, 'daily', true],
    [{ name: 'ontap_daily_20240203040506', comment: 'made by hand' }, 'daily', false],
    [{ name: 'ontap_daily_20240203040506' }, 'daily', false],
    [{ name: 'ontap_weekly_20240203040506', comment: 'made by ontap-snapshot' }, 'daily', false],
    [{ name: 'ontap_daily_20240203040506x', comment: 'made by ontap-snapshot' }, 'daily', false],
    [{ name: 'proxmox_snapshot_20240203_040506', comment: 'made by ontap-snapshot' }, 'daily', false],
  ])('isScheduled(%p, %s) = %p', (snap, label, yes) => expect(isScheduled(snap, label)).toBe(yes));
});

test('fields= reaches into arrays of records', () => {
  expect(project({ uuid: 'u', name: 'g', volumes: [{ name: 'a', uuid: '1' }, { name: 'b', uuid: '2' }] }, ['volumes.name'])).toEqual({ uuid: 'u', name: 'g', volumes: [{ name: 'a' }, { name: 'b' }] });
});

describe('simulator: unknown parameters are refused', () => {
  const known = withParents(['name', 'svm.name', 'nas.path']);
  test.each([
    ['name=v&fields=svm.name,nas', undefined],
    ['fields=*&max_records=2&return_timeout=5', undefined],
    ['nmae=v', { param: 'nmae' }],
    ['fields=name,nas.pth', { param: 'fields', field: 'nas.pth' }],
    ['force=true', { param: 'force' }],
  ])('%s -> %p', (q, bad) => expect(badParameter(new URLSearchParams(q), known)).toEqual(bad as any));
  test('a call that takes no filters refuses a field name as parameter; an extra parameter is allowed', () => {
    expect(badParameter(new URLSearchParams('name=v'), known, [], false)).toEqual({ param: 'name' });
    expect(badParameter(new URLSearchParams('force=true&return_timeout=3'), known, ['force'], false)).toBeUndefined();
  });
});

describe('simulator state rules', () => {
  const seed = { svms: [{ name: 's', lifs: [{ ip: '10.0.0.1' }], volumes: [{ name: 'v', path: '/v', files: ['a/f.raw'], snapshots: [{ name: 'old', createTime: '2024-01-01T00:00:00Z' }] }] }] };
  const code = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return e instanceof SimError ? [e.code, e.errno] : ['?'];
    }
    return ['ok'];
  };
  test('a clone holds its snapshot; restore drops newer snapshots and newer files', () => {
    const st = new OntapState(seed, { start: Date.parse('2024-06-01T00:00:00Z') });
    const v = st.volume('s', 'v');
    st.createSnapshot(v, 'new');
    st.createClone({ svm: 's', name: 'c', parentVolume: 'v', parentSnapshot: 'new', path: '/c' });
    expect(code(() => st.deleteSnapshot(v, 'new'))).toEqual(['1638543', 13024]);
    expect(code(() => st.restore(v, 'old'))).toEqual(['1638543', 13024]);
    // deleted without force (9.12+): in the recovery queue, still the snapshot's owner
    st.deleteVolume(st.volume('s', 'c'));
    expect(st.volumes.map((x) => x.name)).not.toContain('c');
    expect(st.recoveryQueue.map((q) => q.volume.name)).toEqual(['c_1000']);
    expect(code(() => st.deleteSnapshot(v, 'new'))).toEqual(['1638543', 13024]);
    // 12 hours later the queue has let it go
    st.clock.advance(12 * 3600);
    expect(st.recoveryQueue).toEqual([]);
    st.fileClone(v, 'a/f.raw', 'a/g.raw');
    expect(code(() => st.fileClone(v, 'a/f.raw', 'a/g.raw'))).toEqual(['13130', 13130]);
    st.restore(v, 'old');
    expect([...v.files.keys()]).toEqual(['a/f.raw']);
    expect(v.snapshots.map((s) => s.name)).toEqual(['old']);
  });
  test.each([
    ['9.14.1', 'queued'],
    ['9.12.0', 'queued'],
    ['9.11.1', 'gone'],
  ])('a clone deleted without force on %s is %s', (version, where) => {
    const st = new OntapState({ ...seed, version }, { start: Date.parse('2024-06-01T00:00:00Z') });
    const v = st.volume('s', 'v');
    st.createClone({ svm: 's', name: 'c', parentVolume: 'v', parentSnapshot: 'old' });
    st.deleteVolume(st.volume('s', 'c'));
    expect(st.recoveryQueue.length ? 'queued' : 'gone').toBe(where);
    expect(code(() => st.deleteSnapshot(v, 'old'))).toEqual(where === 'queued' ? ['1638543', 13024] : ['ok']);
  });
  test('a snapshot with an expiry time is refused until then (1638555)', () => {
    const st = new OntapState(seed, { start: Date.parse('2024-06-01T00:00:00Z') });
    const v = st.volume('s', 'v');
    st.createSnapshot(v, 'kept', undefined, { expiryTime: Date.parse('2024-06-02T00:00:00Z') });
    expect(code(() => st.deleteSnapshot(v, 'kept'))).toEqual(['1638555', 13024]);
    st.clock.advance(86400);
    expect(code(() => st.deleteSnapshot(v, 'kept'))).toEqual(['ok']);
  });
  test.each([
    [(st: OntapState) => st.volume('s', 'nope'), ['4', 13040]],
    [(st: OntapState) => st.snapshot(st.volume('s', 'v'), 'nope'), ['4', 15661]],
    [(st: OntapState) => st.createSnapshot(st.volume('s', 'v'), 'old'), ['13130', 13130]],
    [(st: OntapState) => st.createVolume({ svm: 's', name: 'w', path: '/v' }), ['13130', 13130]],
    [(st: OntapState) => st.fileClone(st.volume('s', 'v'), 'a/missing', 'a/x'), ['4', 2]],
  ])('error codes %#', (fn, want) => {
    expect(code(() => fn(new OntapState(seed)))).toEqual(want);
  });
});

describe('simulator clock', () => {
  // time scale 1e6: real time moves the simulated one by microseconds, so only advance() counts
  const run = (timers: [string, number][], steps: number[]) => {
    const clock = new SimClock(1e6, Date.parse('2024-06-01T00:00:00Z'));
    const fired: string[][] = [];
    for (const [name, s] of timers) clock.after(s, () => fired[fired.length - 1].push(name));
    for (const step of steps) {
      fired.push([]);
      clock.advance(step);
    }
    clock.close();
    return fired;
  };
  test.each([
    [[['a', 1], ['b', 300]], [0.5, 0.5, 298, 2], [[], ['a'], [], ['b']]],
    [[['late', 5], ['early', 2], ['same', 2]], [10], [['early', 'same', 'late']]],
    [[['zero', 0]], [0], [['zero']]],
  ] as [[string, number][], number[], string[][]][])('timers %p, advances %p', (timers, steps, want) => {
    expect(run(timers, steps)).toEqual(want);
  });

  test('a timer set by a firing timer counts from its due time; now() moves with advance', () => {
    const start = Date.parse('2024-06-01T00:00:00Z');
    const clock = new SimClock(1e6, start);
    const seen: number[] = [];
    clock.after(1, () => {
      seen.push(Math.round((clock.now() - start) / 1000));
      clock.after(300, () => seen.push(Math.round((clock.now() - start) / 1000)));
    });
    clock.advance(1000);
    clock.close();
    expect(seen).toEqual([1, 301]);
    expect(Math.round((clock.now() - start) / 1000)).toBe(1000);
  });
});

describe('firstPart: the body of a multipart answer (file data reads)', () => {
  test.each([
    ['--b1\r\nContent-Disposition: form-data; name="data"\r\n\r\n{"a":1}\r\n--b1--\r\n', '{"a":1}'],
    ['--b1\r\nContent-Disposition: form-data; name="data"\r\n\r\nline1\r\nline2\r\n--b1--\r\n', 'line1\r\nline2'],
    ['--b1\r\nContent-Disposition: form-data; name="data"\r\n\r\n\r\n--b1--\r\n', ''],
    ['plain text, not multipart', 'plain text, not multipart'],
  ])('%j -> %j', (text, body) => expect(firstPart(text)).toBe(body));
});

describe('agentEnabled: the QEMU agent option of a VM config', () => {
  test.each([
    [undefined, false], ['', false], ['0', false], ['1', true], [1, true], ['enabled=1,fstrim_cloned_disks=1', true],
    ['enabled=0', false], ['fstrim_cloned_disks=1', false], ['1,type=virtio', true], ['0,type=isa', false],
    ['on', true], ['enabled=ON', true], ['off', false], ['enabled=no', false], ['maybe', false],
  ])('%j -> %p', (value, on) => expect(agentEnabled(value)).toBe(on));
});

describe('a manifest is untrusted input', () => {
  const ok = { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', storages: ['nfs1'], config: { scsi0: 'nfs1:100/vm-100-disk-0.qcow2' } };
  test.each([
    ['a valid entry', ok, undefined],
    ['no object', 'x', 'not an object'],
    ['vmid as text', { ...ok, vmid: '100' }, 'vmid "100" is not a guest id (100..999999999)'],
    ['vmid below 100', { ...ok, vmid: 99 }, 'vmid 99 is not a guest id (100..999999999)'],
    ['vmid too large', { ...ok, vmid: 1e10 }, 'vmid 10000000000 is not a guest id (100..999999999)'],
    ['vmid not whole', { ...ok, vmid: 100.5 }, 'vmid 100.5 is not a guest id (100..999999999)'],
    ['another type', { ...ok, type: 'openvz' }, 'guest 100: type "openvz" is neither qemu nor lxc'],
    ['a node with a slash', { ...ok, node: '../pve1' }, 'guest 100: node "../pve1" is not a node name'],
    ['a name with a newline', { ...ok, name: 'a\nb' }, 'guest 100: name "a\\nb" is not a guest name'],
    ['storages not ids', { ...ok, storages: ['nfs1', '../x'] }, 'guest 100: its storages are not storage ids'],
    ['config a list', { ...ok, config: [] }, 'guest 100: its config is not an object'],
    ['a config key with a dot path', { ...ok, config: { '../x': 'y' } }, 'guest 100: config key "../x" is not a Proxmox config key'],
    ['a config value as an object', { ...ok, config: { scsi0: { a: 1 } } }, 'guest 100: config scsi0 is not a string or number of at most 65536 characters'],
    ['a huge config value', { ...ok, config: { description: 'x'.repeat(70000) } }, 'guest 100: config description is not a string or number of at most 65536 characters'],
    ["a container's raw lxc lines", { ...ok, type: 'lxc', config: { lxc: [['lxc.apparmor.profile', 'unconfined']] } }, undefined],
  ])('guest entry: %s', (_, g, want) => {
    expect(guestProblem(g)).toBe(want as string | undefined);
  });

  test.each([
    ['', true],
    ['sub', true],
    ['a/b_c/d.e', true],
    ['..', false],
    ['a/../b', false],
    ['.snapshot/x', false],
    ['/abs', false],
    ['a//b', false],
    ['a/', false],
    ['a\\b', false],
    [7, false],
  ])('directory in a volume %p: %p', (d, want) => {
    expect(safeDir(d)).toBe(want);
  });

  test.each([
    ['valid', { storages: ['nfs1', 'nfs-sub'], dirs: { nfs1: '', 'nfs-sub': 'sub' } }, undefined],
    ['no dirs (the first manifests)', { storages: ['nfs1'] }, undefined],
    ['storages not a list', { storages: 'nfs1' }, 'its storages are not a list'],
    ['a storage id with a slash', { storages: ['a/b'] }, '"a/b" is not a storage id'],
    ['a directory leaving the volume', { storages: ['nfs1'], dirs: { nfs1: '../other' } }, 'the directory of storage nfs1, "../other", is not a path inside the volume'],
    ['a directory into a snapshot', { storages: ['nfs1'], dirs: { nfs1: '.snapshot/s' } }, 'the directory of storage nfs1, ".snapshot/s", is not a path inside the volume'],
  ])('manifest: %s', (_, m, want) => {
    expect(manifestProblem(m)).toBe(want as string | undefined);
  });

  const g = (config: Record<string, unknown>, type = 'qemu') => ({ vmid: 100, type, config });
  test.each([
    ['a disk at the storage root', g({ scsi0: 'nfs1:100/vm-100-disk-0.qcow2,size=8G' }), { dirs: { nfs1: '' } }, [{ key: 'scsi0', storage: 'nfs1', dir: '', file: 'images/100/vm-100-disk-0.qcow2' }], undefined],
    ['a disk below the junction', g({ virtio0: 'nfs-sub:100/vm-100-disk-0.raw' }), { dirs: { 'nfs-sub': 'sub' } }, [{ key: 'virtio0', storage: 'nfs-sub', dir: 'sub', file: 'images/100/vm-100-disk-0.raw' }], undefined],
    ['a linked clone: its own file', g({ scsi0: 'nfs1:101/base-101-disk-0.qcow2/100/vm-100-disk-0.qcow2' }), { dirs: { nfs1: '' } }, [{ key: 'scsi0', storage: 'nfs1', dir: '', file: 'images/100/vm-100-disk-0.qcow2' }], undefined],
    ['no recorded directory: the current one', g({ scsi0: 'nfs1:100/vm-100-disk-0.qcow2' }), { fallback: { nfs1: 'x' } }, [{ key: 'scsi0', storage: 'nfs1', dir: 'x', file: 'images/100/vm-100-disk-0.qcow2' }], undefined],
    ['no directory known', g({ scsi0: 'nfs1:100/vm-100-disk-0.qcow2' }), {}, [{ key: 'scsi0', storage: 'nfs1', dir: undefined, file: 'images/100/vm-100-disk-0.qcow2' }], undefined],
    ['cd-rom, other storage, none: not files of the volume', g({ ide2: 'nfs1:iso/x.iso,media=cdrom', scsi1: 'local-zfs:vm-100-disk-1', ide0: 'none' }), { dirs: { nfs1: '' } }, [], undefined],
    ['a container root disk', g({ rootfs: 'nfs1:100/vm-100-disk-0.raw,size=8G' }, 'lxc'), { dirs: { nfs1: '' } }, [{ key: 'rootfs', storage: 'nfs1', dir: '', file: 'images/100/vm-100-disk-0.raw' }], undefined],
    ['a path up and out', g({ scsi0: 'nfs1:100/../../etc/x.qcow2' }), { dirs: { nfs1: '' } }, [], 'guest 100: scsi0 names "100/../../etc/x.qcow2", not a file of storage nfs1'],
    ['an absolute path', g({ scsi0: 'nfs1:/etc/x.qcow2' }), { dirs: { nfs1: '' } }, [], 'guest 100: scsi0 names "/etc/x.qcow2", not a file of storage nfs1'],
    ['into a snapshot directory', g({ scsi0: 'nfs1:.snapshot/s/100/vm-100-disk-0.qcow2' }), { dirs: { nfs1: '' } }, [], 'guest 100: scsi0 names ".snapshot/s/100/vm-100-disk-0.qcow2", not a file of storage nfs1'],
    ["another guest's disk", g({ scsi0: 'nfs1:101/vm-101-disk-0.qcow2' }), { dirs: { nfs1: '' } }, [], 'guest 100: scsi0 names "101/vm-101-disk-0.qcow2", not an image of guest 100'],
    ['more disks than any guest has', g(Object.fromEntries(Array.from({ length: 301 }, (_, i) => [`mp${i}`, `nfs1:100/vm-100-disk-${i}.raw`])), 'lxc'), { dirs: { nfs1: '' } }, [], 'guest 100: more than 300 disks'],
    ['a hidden file name', g({ scsi0: 'nfs1:100/.x.qcow2' }), { dirs: { nfs1: '' } }, [], 'guest 100: scsi0 names "100/.x.qcow2", not an image of guest 100'],
  ])('recorded disks: %s', (_, guest, o: { dirs?: Record<string, string>; fallback?: Record<string, string> }, disks, problem) => {
    const r = recordedDisks(guest, ['nfs1', 'nfs-sub'], o.dirs, o.fallback);
    expect(r.problem).toBe(problem as string | undefined);
    if (!problem) expect(r.disks).toEqual(disks as never);
  });
});
