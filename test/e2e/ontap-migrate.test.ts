// ontap-snapshot for users of the original pve-ontap-snapshot.py, FlexClones that leave
// nothing behind, restore safety and the simulator's strictness: the compiled executable
// against both simulators, over REST and (where ZAPI has the feature) ZAPI.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { writeConfig } from '../helpers/ontap.ts';
import { FAST, errorLines, startClusters, vol, type Clusters } from './ontap-fixtures.ts';

// each test runs the compiled tool a few times; on a shared, loaded machine that can take
// longer than bun's 5 s default (a limit, not a speed assertion)
setDefaultTimeout(90_000);

let c: Clusters;
const cfg: Record<'rest' | 'zapi', string> = { rest: '', zapi: '' };
beforeAll(async () => {
  c = await startClusters();
  cfg.rest = c.config;
  cfg.zapi = writeConfig(fs.readFileSync(c.config, 'utf8') + 'api = zapi\n', 0o600, 'zapi.conf');
});
afterAll(async () => {
  await c?.stop();
});

const APIS = ['rest', 'zapi'] as const;
const tool = (api: 'rest' | 'zapi', args: string[]) => c.tool([...args, '--config', cfg[api]]);
const uuidOf = async (name: string) => vol(await c.ontap.state(), name).uuid as string;
const snapNames = async (volume: string) => vol(await c.ontap.state(), volume).snapshots.map((s: any) => s.name);
const fileClone = (volUuid: string, src: string, dst: string) =>
  c.ontap.rest('POST', '/api/storage/file/clone?return_timeout=30', { volume: { uuid: volUuid }, source_path: src, destination_path: dst });

describe("the original tool's command line and config", () => {
  const pveSection = (name: string) =>
    `[${name}]\nproxmox_host = ${c.pve.hostPort}\nproxmox_user = ontap@pve\nproxmox_pass = pve-secret-pw\nproxmox_verify = false\n`;
  const storageSection = (api: string) => `[nfs1]\nhost = ${c.ontap.hostPort}\nuser = ${c.ontap.user}\npass = ${c.ontap.password}\nverify = false\napi = ${api}\n`;
  const quiet = (stderr: string) => stderr.split('\n').filter((l) => l && !/not verified/.test(l));

  for (const api of APIS) {
    for (const layout of ['proxmox', 'DEFAULT']) {
      test(`${api}: -config FILE with the [${layout}] layout and -loglevel`, async () => {
        const ini = writeConfig(`${pveSection(layout)}\n${storageSection(api)}`, 0o600, `orig-${layout}-${api}.ini`);
        const r = await run(['ontap-snapshot', 'storage', 'list', '-storage', 'nfs1', '-config', ini, '-o', 'json'], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
        expect(quiet(r.stderr)).toEqual([]);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).map((s: any) => s.name)).toContain('nightly.0');
        const debug = await run(['ontap-snapshot', 'storage', 'show', '-storage', 'nfs1', '-config', ini, '-loglevel', 'DEBUG'], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
        expect(debug.code).toBe(0);
        expect(debug.stderr).toMatch(api === 'rest' ? /debug: .*ONTAP GET \/api\/storage\/volumes/ : /debug: .*ONTAP POST \/servlets/);
      });
    }
  }

  test('./config.ini is read when no bundle config exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ontap-cwd-'));
    fs.writeFileSync(path.join(dir, 'config.ini'), `${pveSection('proxmox')}\n${storageSection('rest')}`, { mode: 0o600 });
    const r = await run(['ontap-snapshot', 'storage', 'show', '-storage', 'nfs1', '-o', 'json'], { cwd: dir, env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(quiet(r.stderr)).toEqual([]);
    expect(JSON.parse(r.stdout)).toMatchObject({ volume: 'pve_data', svm: 'svm1' });
  });

  test.each([['-config'], ['--config'], ['--ontap-config']])('a missing file after %s is named in one line, exit 2', async (opt) => {
    const r = await run(['ontap-snapshot', 'storage', 'list', '-storage', 'nfs1', opt, '/nonexistent/config.ini'], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual(['error: ontap-snapshot: cannot read config /nonexistent/config.ini: ENOENT']);
  });

  for (const api of APIS) {
    test(`${api}: the original's clones are listed and deleted; its snapshots are listed as its and deleted without --yes`, async () => {
      const name = `vm-101-disk-0-snapshot-2023-0${api === 'rest' ? 1 : 2}-02_03:04:05+0000.qcow2`;
      expect((await fileClone(await uuidOf('pve_data'), 'images/101/vm-101-disk-0.qcow2', `images/101/${name}`)).status).toBe(201);
      const list = JSON.parse((await tool(api, ['vm', 'list', '-vm', '101', '-o', 'json'])).stdout);
      expect(list.find((r: any) => r.clone === name)).toMatchObject({ source: 'vm-101-disk-0.qcow2', made_by: 'pve-ontap-snapshot.py', created: `2023-0${api === 'rest' ? 1 : 2}-02T03:04:05.000Z` });
      const del = await tool(api, ['vm', 'delete', '-vm', '101', '-clone', name]);
      expect(errorLines(del)).toEqual([]);
      expect(Object.keys(vol(await c.ontap.state(), 'pve_data').files)).not.toContain(`images/101/${name}`);

      const snap = `proxmox_snapshot_2023-0${api === 'rest' ? 1 : 2}-02_03:04:05+0000`;
      const made = await c.ontap.rest('POST', `/api/storage/volumes/${await uuidOf('pve_data')}/snapshots?return_timeout=30`, { name: snap });
      expect(made.status).toBe(201);
      const snaps = JSON.parse((await tool(api, ['storage', 'list', '-storage', 'nfs1', '-o', 'json'])).stdout);
      expect(snaps.find((s: any) => s.name === snap)).toMatchObject({ made_by: 'pve-ontap-snapshot.py' });
      expect(snaps.find((s: any) => s.name === 'nightly.0').made_by).toBeUndefined();
      expect((await tool(api, ['storage', 'delete', '-storage', 'nfs1', '-snapshot', snap])).code).toBe(0);
      expect(await snapNames('pve_data')).not.toContain(snap);
    });
  }
});

describe('FlexClone lifecycle', () => {
  test('rest: unmount deletes the clone for good, so its snapshot can be deleted at once', async () => {
    expect((await tool('rest', ['storage', 'create', '--storage', 'nfs1', '--snapshot', 'lc_rest'])).code).toBe(0);
    expect((await tool('rest', ['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'lc_rest'])).code).toBe(0);
    expect((await tool('rest', ['storage', 'unmount', '--storage', 'nfs1-CLONE-lc_rest'])).code).toBe(0);
    const st = await c.ontap.state();
    expect(st.recoveryQueue).toEqual([]);
    const del = await tool('rest', ['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'lc_rest']);
    expect(errorLines(del)).toEqual([]);
    expect(await snapNames('pve_data')).not.toContain('lc_rest');
  });

  test('the simulator keeps a clone deleted without force in the recovery queue, holding its snapshot (1638543)', async () => {
    expect((await tool('rest', ['storage', 'create', '--storage', 'nfs1', '--snapshot', 'lc_queue'])).code).toBe(0);
    expect((await tool('rest', ['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'lc_queue'])).code).toBe(0);
    const clone = await uuidOf('pve_data_clone_lc_queue');
    expect((await c.ontap.rest('PATCH', `/api/storage/volumes/${clone}?return_timeout=30`, { nas: { path: '' } })).status).toBe(200);
    expect((await c.ontap.rest('DELETE', `/api/storage/volumes/${clone}?return_timeout=30`)).status).toBe(200);
    expect((await c.ontap.state()).recoveryQueue.map((q: any) => q.clone.parentSnapshot)).toEqual(['lc_queue']);
    const del = await tool('rest', ['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'lc_queue']);
    expect(del.code).toBe(1);
    expect(errorLines(del)).toEqual([expect.stringMatching(/snapshot 'lc_queue' of volume pve_data is busy: .*ONTAP error 1638543: .*has an owner/)]);
    // 12 hours later the queue lets it go
    await c.ontap.advance(12 * 3600);
    expect((await tool('rest', ['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'lc_queue'])).code).toBe(0);
    await c.pve.api('DELETE', '/storage/nfs1-CLONE-lc_queue');
  });

  test('zapi: mount, unmount, delete the snapshot at once', async () => {
    expect((await tool('zapi', ['storage', 'create', '--storage', 'nfs1', '--snapshot', 'lc_zapi'])).code).toBe(0);
    expect((await tool('zapi', ['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'lc_zapi'])).code).toBe(0);
    expect((await tool('zapi', ['storage', 'unmount', '--storage', 'nfs1-CLONE-lc_zapi'])).code).toBe(0);
    expect((await tool('zapi', ['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'lc_zapi'])).code).toBe(0);
  });

  for (const api of APIS) {
    test(`${api}: an unmount that removed the storage but not the clone is finished by running it again; mount's hint works`, async () => {
      const snap = `half_${api}`;
      const id = `nfs1-CLONE-${snap}`;
      expect((await tool(api, ['storage', 'create', '--storage', 'nfs1', '--snapshot', snap])).code).toBe(0);
      expect((await tool(api, ['storage', 'mount', '--storage', 'nfs1', '--snapshot', snap])).code).toBe(0);
      await c.ontap.setFaults(api === 'rest' ? 'fail=DELETE:^/api/storage/volumes/[^/]+$:500:volume delete failed (injected)' : 'fail=ZAPI:^volume-destroy$:13001:volume delete failed (injected)');
      let half;
      try {
        half = await tool(api, ['storage', 'unmount', '--storage', id]);
      } finally {
        await c.ontap.setFaults('');
      }
      expect(half.code).toBe(1);
      expect(errorLines(half)).toEqual([expect.stringMatching(new RegExp(`storage '${id}' was removed, but deleting FlexClone pve_data_clone_${snap} failed: .*injected.*; run the same unmount again to finish`))]);
      expect((await c.pve.api('GET', `/storage/${id}`)).status).not.toBe(200);
      expect(vol(await c.ontap.state(), `pve_data_clone_${snap}`)).toBeTruthy();

      // mounting again names the leftover and prints the command that removes it
      const again = await tool(api, ['storage', 'mount', '--storage', 'nfs1', '--snapshot', snap]);
      expect(again.code).toBe(1);
      const hint = /remove it with: (ontap-snapshot .*)$/m.exec(again.stderr);
      expect(hint).toBeTruthy();
      const finish = await run([...hint![1].split(' '), '--config', cfg[api]], { env: { ...FAST, AUTOSNAP_CONFIG: undefined } });
      expect(errorLines(finish)).toEqual([]);
      expect(finish.stderr).toMatch(new RegExp(`storage '${id}' was gone already; deleted its FlexClone pve_data_clone_${snap}`));
      expect(vol(await c.ontap.state(), `pve_data_clone_${snap}`)).toBeUndefined();
      expect((await tool(api, ['storage', 'delete', '--storage', 'nfs1', '--snapshot', snap])).code).toBe(0);
    });
  }

  test('a storage of the clone\'s name that is something else is named, and nothing is made', async () => {
    expect((await c.pve.api('POST', '/storage', { storage: 'nfs1-CLONE-nightly.0', type: 'dir', path: '/srv/other', content: 'images' })).status).toBe(200);
    try {
      const r = await tool('rest', ['storage', 'mount', '--storage', 'nfs1', '--snapshot', 'nightly.0']);
      expect(r.code).toBe(1);
      expect(errorLines(r)).toEqual([
        "error: ontap-snapshot: storage 'nfs1-CLONE-nightly.0' already exists and is dir at /srv/other, not snapshot nightly.0 of pve_data (10.0.0.5:/vol/pve_data_clone_nightly_0_" +
          expect.any(String),
      ].map((x) => (typeof x === 'string' ? expect.stringMatching(/already exists and is dir at \/srv\/other, not snapshot nightly\.0 of pve_data \(10\.0\.0\.5:\/vol\/pve_data_clone_nightly_0_[0-9a-f]{6}\); remove or rename it first/) : x)));
      expect((await c.ontap.state()).volumes.filter((v: any) => v.clone?.parentVolume === 'pve_data')).toEqual([]);
    } finally {
      await c.pve.api('DELETE', '/storage/nfs1-CLONE-nightly.0');
    }
  });
});

describe('restore safety', () => {
  test('running guests on the volume are listed and refuse the restore; --dry-run needs no --yes', async () => {
    expect((await tool('rest', ['storage', 'create', '--storage', 'nfs-sub', '--snapshot', 'rs_one'])).code).toBe(0);
    const r = await tool('rest', ['storage', 'restore', '--storage', 'nfs-sub', '--snapshot', 'rs_one', '--yes']);
    expect(r.code).toBe(1);
    // nfs1 and nfs-sub are one volume: guests of both are named
    expect(r.stderr).toMatch(/guests with disks on volume pve_data: VM 100 \(every-bus\) on pve1, running; VM 101 \(stopped-one\) on pve2, stopped; VM 102 \(in-a-subdir\) on pve1, running/);
    expect(errorLines(r)).toEqual(['error: ontap-snapshot: restore of volume pve_data: 3 guests are running on it (100, 102, 200); stop them first, or add --force-running']);
    expect(await snapNames('pve_data')).toContain('rs_one');
    const dry = await tool('rest', ['storage', 'restore', '--storage', 'nfs-sub', '--snapshot', 'rs_one', '--force-running', '--dry-run']);
    expect(errorLines(dry)).toEqual([]);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/would restore volume pve_data to snapshot rs_one/);
    expect((await tool('rest', ['storage', 'delete', '--storage', 'nfs1', '--snapshot', 'rs_one'])).code).toBe(0);
  });

  for (const api of APIS) {
    test(`${api}: SnapMirror relationships of the volume are named, and updated with --update-snapmirror`, async () => {
      const before = (await c.ontap.state()).snapmirrors[0].transfers;
      const warned = await tool(api, ['storage', 'restore', '--storage', 'nfs-held', '--snapshot', 'base', '--dry-run']);
      expect(warned.code).toBe(0);
      expect(warned.stderr).toMatch(/warning: volume held is the SnapMirror source of svm2:held_dr .*--update-snapmirror updates it afterwards/);
      expect(warned.stderr).toMatch(/no guest has a disk on volume held/);
      const r = await tool(api, ['storage', 'restore', '--storage', 'nfs-held', '--snapshot', 'base', '--yes', '--update-snapmirror']);
      expect(errorLines(r)).toEqual([]);
      expect(r.stderr).toMatch(/updated SnapMirror svm1:held -> svm2:held_dr/);
      expect((await c.ontap.state()).snapmirrors[0].transfers).toBe(before + 1);
    });
  }

  test('an ONTAP 503 is exit 3', async () => {
    await c.ontap.setFaults('fail=GET:^/api/storage/volumes$:503:service unavailable');
    try {
      const r = await tool('rest', ['storage', 'list', '--storage', 'nfs1']);
      expect(r.code).toBe(3);
      expect(errorLines(r)).toEqual([expect.stringMatching(/ONTAP error 503: service unavailable/)]);
    } finally {
      await c.ontap.setFaults('');
    }
  });
});

describe('vm create on a running or paused VM', () => {
  test('a running VM without --suspend/--shutdown is cloned with a warning', async () => {
    const r = await tool('rest', ['vm', 'create', '--vm', '102', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: VM 102 is running: its clones are crash-consistent only; --suspend or --shutdown makes consistent ones/);
  });

  for (const mode of ['--suspend', '--shutdown']) {
    test(`a paused VM stays paused after ${mode}`, async () => {
      // clone names carry the second: two runs in one second would collide
      await Bun.sleep(1100);
      expect((await c.pve.api('POST', '/nodes/pve1/qemu/100/status/suspend', {})).status).toBe(200);
      await Bun.sleep(200);
      expect((await c.pve.api('GET', '/nodes/pve1/qemu/100/status/current')).body.data.qmpstatus).toBe('paused');
      const r = await tool('rest', ['vm', 'create', '--vm', '100', mode, '-o', 'json']);
      expect(errorLines(r)).toEqual([]);
      expect(r.stderr).toMatch(/VM 100 is paused: cloned as it is/);
      expect(JSON.parse(r.stdout).map((x: any) => x.status)).toEqual(Array(6).fill('cloned'));
      expect((await c.pve.api('GET', '/nodes/pve1/qemu/100/status/current')).body.data.qmpstatus).toBe('paused');
      expect((await c.pve.api('POST', '/nodes/pve1/qemu/100/status/resume', {})).status).toBe(200);
      await Bun.sleep(200);
    });
  }

  test('vm list follows the directory listing page after page (6 disks, pages of 2)', async () => {
    const list = JSON.parse((await tool('rest', ['vm', 'list', '--vm', '100', '-o', 'json'])).stdout);
    // two runs above made 6 clones each
    expect(list).toHaveLength(12);
  });
});

describe('snapshots with a SnapMirror label and an expiry time', () => {
  for (const api of APIS) {
    test(`${api}: --snapmirror-label and --expiry reach ONTAP, which refuses an early delete`, async () => {
      const snap = `kept_${api}`;
      const r = await tool(api, ['storage', 'create', '--storage', 'nfs2', '--snapshot', snap, '--snapmirror-label', 'daily', '--expiry', '2d', '-o', 'json']);
      expect(errorLines(r)).toEqual([]);
      expect(JSON.parse(r.stdout)[0]).toMatchObject({ name: snap, snapmirror_label: 'daily', made_by: 'ontap-snapshot' });
      const s = vol(await c.ontap.state(), 'other_data').snapshots.find((x: any) => x.name === snap);
      expect(s.snapmirrorLabel).toBe('daily');
      // an absolute time from this host's clock (the simulated cluster's clock was moved on)
      expect(Math.abs(Date.parse(s.expiryTime) - (Date.now() + 2 * 86400_000))).toBeLessThan(300_000);
      const del = await tool(api, ['storage', 'delete', '--storage', 'nfs2', '--snapshot', snap]);
      expect(del.code).toBe(1);
      expect(errorLines(del)).toEqual([expect.stringMatching(/is busy: .*ONTAP error (1638555|13024): .*has not expired or is locked/)]);
    });
  }

  test.each([
    [['--snapmirror-label', 'bad label'], /--snapmirror-label: 'bad label' is not a label/],
    [['--expiry', 'soon'], /--expiry/],
    [['--expiry', '10s'], /--expiry: '10s' is less than a minute/],
  ])('bad %p is one line, exit 2', async (extra, msg) => {
    const r = await tool('rest', ['storage', 'create', '--storage', 'nfs2', '--snapshot', 'never', ...extra]);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([expect.stringMatching(msg)]);
  });
});

describe('simulator fidelity', () => {
  const raw = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(c.ontap.url + p, {
      method, headers: { Authorization: 'Basic ' + Buffer.from(`${c.ontap.user}:${c.ontap.password}`).toString('base64'), 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body), tls: { rejectUnauthorized: false },
    } as RequestInit);
    return { status: r.status, headers: r.headers, body: await r.json() };
  };

  test.each([
    ['/api/storage/volumes?nmae=pve_data', 'nmae'],
    ['/api/storage/volumes?fields=name,nas.pth', 'nas.pth'],
    ['/api/storage/volumes/UUID/snapshots?fields=name,expiry', 'expiry'],
    ['/api/cluster?fields=version&extra=1', 'extra'],
  ])('%s is refused, naming %s', async (p, bad) => {
    const r = await raw('GET', p.replace('UUID', await uuidOf('pve_data')));
    expect(r.status).toBe(400);
    expect(['262179', '262197']).toContain(r.body.error.code);
    expect(r.body.error.message).toContain(`"${bad}"`);
  });

  test('a directory listing comes in pages linked by _links.next', async () => {
    const first = await raw('GET', `/api/storage/volumes/${await uuidOf('pve_data')}/files/images%2F100?fields=name,type`);
    expect(first.status).toBe(200);
    expect(first.body.num_records).toBe(2);
    expect(first.body._links.next.href).toMatch(/start\.path=/);
    const second = await raw('GET', first.body._links.next.href);
    expect(second.body.records[0].name).not.toBe(first.body.records[0].name);
  });

  test('a create answers with Location; a snapshot has snapmirror_label, expiry_time, size and state', async () => {
    const v = await uuidOf('other_data');
    const r = await raw('POST', `/api/storage/volumes/${v}/snapshots?return_timeout=30`, { name: 'loc_1', snapmirror_label: 'weekly', expiry_time: '2099-01-01T00:00:00Z' });
    expect(r.status).toBe(201);
    const loc = r.headers.get('location')!;
    expect(loc).toMatch(new RegExp(`^/api/storage/volumes/${v}/snapshots/[0-9a-f-]{36}$`));
    const rec = await raw('GET', `${loc}?fields=name,snapmirror_label,expiry_time,size,state`);
    expect(rec.body).toMatchObject({ name: 'loc_1', snapmirror_label: 'weekly', expiry_time: '2099-01-01T00:00:00+00:00', state: 'valid' });
    expect(typeof rec.body.size).toBe('number');
  });

  test('DELETE with force=true is unknown before 9.12, as on such a cluster', async () => {
    const { startOntapSim } = await import('../helpers/ontap.ts');
    const { ONTAP_SEED } = await import('./ontap-fixtures.ts');
    const old = await startOntapSim({ seed: { ...ONTAP_SEED, version: '9.11.1' } });
    try {
      const st = await old.state();
      const r = await old.rest('DELETE', `/api/storage/volumes/${vol(st, 'held_child').uuid}?force=true`);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: '262179', message: 'Unexpected argument "force".' });
    } finally {
      await old.stop();
    }
  });
});

describe('storage snap: the scheduled mode on the retention engine', () => {
  for (const [api, storage, volume] of [['rest', 'nfs-held', 'held'], ['zapi', 'nfs2', 'other_data']] as const) {
    test(`${api}: a snapshot per run, this label's beyond --keep-daily removed with a reason, nothing else touched`, async () => {
      // one made by hand with our name pattern but without our comment: not ours, never removed
      expect((await c.ontap.rest('POST', `/api/storage/volumes/${await uuidOf(volume)}/snapshots?return_timeout=30`, { name: 'ontap_daily_20000101000000' })).status).toBe(201);
      const others = (await snapNames(volume)).filter((n: string) => !/^ontap_daily_\d{14}$/.test(n) || n === 'ontap_daily_20000101000000');
      const dry = await tool(api, ['storage', 'snap', '--storage', storage, '--label', 'daily', '--keep-daily', '2', '--dry-run', '-o', 'json']);
      expect(errorLines(dry)).toEqual([]);
      expect(JSON.parse(dry.stdout).filter((r: any) => r.action === 'create')).toHaveLength(1);
      expect(await snapNames(volume)).toEqual(expect.arrayContaining(others));
      expect((await snapNames(volume)).length).toBe(others.length);
      let last: any[] = [];
      for (let day = 0; day < 4; day++) {
        if (day) {
          await c.ontap.advance(86400);
          await Bun.sleep(1100); // names carry the second
        }
        const r = await tool(api, ['storage', 'snap', '--storage', storage, '--label', 'daily', '--keep-daily', '2', '-o', 'json']);
        expect(errorLines(r)).toEqual([]);
        last = JSON.parse(r.stdout);
      }
      const ours = (await snapNames(volume)).filter((n: string) => /^ontap_daily_\d{14}$/.test(n) && n !== 'ontap_daily_20000101000000');
      expect(ours).toHaveLength(2);
      // the last run removed the day-before-yesterday's, and says by which rule it kept the rest
      expect(last.filter((r: any) => r.action === 'removed')).toHaveLength(1);
      expect(last.filter((r: any) => r.action === 'keep').map((r: any) => r.reason)).toEqual([expect.stringMatching(/keep-daily 1\/2/), expect.stringMatching(/keep-daily 2\/2/)]);
      expect(last.filter((r: any) => r.action === 'protected').map((r: any) => r.snapshot)).toEqual(expect.arrayContaining(others));
      expect(await snapNames(volume)).toEqual(expect.arrayContaining(others));
    });
  }

  test.each([
    [['--keep-daily', '2'], /--label is required/],
    [['--label', 'daily'], /no retention policy/],
    [['--label', 'bad_label', '--keep', '3'], /--label: 'bad_label' is not a label/],
  ])('bad %p is one line, exit 2', async (extra, msg) => {
    const r = await tool('rest', ['storage', 'snap', '--storage', 'nfs1', ...extra]);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual([expect.stringMatching(msg)]);
  });
});

describe('one snapshot across several storages', () => {
  const cgPosts = async () => (await c.ontap.rest('GET', '/_sim/stats')).body['POST /api/application/consistency-groups/{uuid}/snapshots'] ?? 0;
  const snapOf = async (volume: string, name: string) => vol(await c.ontap.state(), volume).snapshots.find((s: any) => s.name === name);

  test('rest: a consistency group holding both volumes takes it at one instant', async () => {
    const before = await cgPosts();
    const r = await tool('rest', ['storage', 'create', '--storage', 'nfs1', '--storage', 'nfs-held', '--snapshot', 'cg_one', '-o', 'json']);
    expect(errorLines(r)).toEqual([]);
    expect(r.stderr).toMatch(/snapshot cg_one made at one instant through consistency group pve_cg/);
    expect(JSON.parse(r.stdout).map((x: any) => [x.storage, x.volume, x.name])).toEqual([['nfs1', 'pve_data', 'cg_one'], ['nfs-held', 'held', 'cg_one']]);
    expect(await cgPosts()).toBe(before + 1);
    const [a, b] = [await snapOf('pve_data', 'cg_one'), await snapOf('held', 'cg_one')];
    expect(a.createTime).toBe(b.createTime);
    expect(a.comment).toBe('made by ontap-snapshot');
    for (const s of ['nfs1', 'nfs-held']) expect((await tool('rest', ['storage', 'delete', '--storage', s, '--snapshot', 'cg_one'])).code).toBe(0);
  });

  for (const [api, storages, why] of [
    ['rest', ['nfs1', 'nfs2'], 'no consistency group holds volumes pve_data, other_data'],
    ['zapi', ['nfs1', 'nfs-held'], 'no consistency group holds volumes pve_data, held'],
  ] as const) {
    test(`${api}: without a group (${storages.join(', ')}) one after another, with a warning`, async () => {
      const before = await cgPosts();
      const r = await tool(api, ['storage', 'create', ...storages.flatMap((s) => ['--storage', s]), '--snapshot', `seq_${api}`]);
      expect(errorLines(r)).toEqual([]);
      expect(r.stderr).toMatch(new RegExp(`warning: ${why}: snapshots are made one after another, not at one instant`));
      expect(await cgPosts()).toBe(before);
      for (const s of storages) expect((await tool(api, ['storage', 'delete', '--storage', s, '--snapshot', `seq_${api}`])).code).toBe(0);
    });
  }

  test('other commands take one storage', async () => {
    const r = await tool('rest', ['storage', 'list', '--storage', 'nfs1', '--storage', 'nfs2']);
    expect(r.code).toBe(2);
    expect(errorLines(r)).toEqual(['error: ontap-snapshot: storage list: --storage takes one storage (several only for create)']);
  });
});
