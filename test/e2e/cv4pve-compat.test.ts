// cv4pve-autosnap's documented command lines (its README, Corsinvest/cv4pve-autosnap
// README.md "Usage"), run through a link named cv4pve-autosnap to the compiled executable,
// against the simulator; the output compared with what cv4pve-autosnap 2.x prints
// (lib/tools/autosnap/cv4pve.ts cites the source of each shape).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const at = (hhmm: string, day = '2025-05-16') => Math.floor(Date.parse(`${day}T${hhmm}:00Z`) / 1000);
const SEED = {
  cluster: 'cv4pve',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'], total: 1000, used: 100 }],
  guests: [
    {
      vmid: 100, type: 'qemu', node: 'pve1', name: 'web-server', status: 'running', agent: true, disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' },
      snapshots: [
        { name: 'manual', snaptime: at('06:00'), description: 'by hand' },
        { name: 'autodaily250516080000', snaptime: at('08:00'), description: 'cv4pve-autosnap\n' },
        { name: 'autodaily250516090000', snaptime: at('09:00'), description: 'cv4pve-autosnap', vmstate: 1 },
      ],
    },
    { vmid: 101, type: 'lxc', node: 'pve2', name: 'ct-prod', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
    { vmid: 102, type: 'qemu', node: 'pve2', name: 'db-prod', status: 'stopped', disks: { scsi0: 'local-zfs:vm-102-disk-0,size=8G' } },
  ],
};

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'cv4pve-compat-'));
let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, clock: '2025-05-16T12:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(TMP, { recursive: true, force: true });
});

/** cv4pve's README line with the host and token of the simulator, plus the pin docs/autosnap.md says to add */
const cv4pve = (args: string[], pin = true): Promise<RunResult> =>
  run([`--host=${sim.hostPort}`, `--api-token=${sim.token}`, ...(pin ? [`--fingerprint=${sim.fingerprint}`] : []), ...args], {
    as: 'cv4pve-autosnap',
    env: { AUTOSNAP_NOW: '2025-05-16T12:00:00Z', TZ: 'Europe/Rome', AUTOSNAP_CONFIG: '/dev/null', AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock') },
  });

describe('through a link named cv4pve-autosnap', () => {
  test('status: the text table cv4pve prints (columns, UTC yy/MM/dd time, X for RAM)', async () => {
    const r = await cv4pve(['--vmid=100', 'status']);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '+------+-----+-------------------+-----------------------+-----------------------+-----------------+-----------+',
        '| NODE | VM  | TIME              | PARENT                | NAME                  | DESCRIPTION     | VM STATUS |',
        '+------+-----+-------------------+-----------------------+-----------------------+-----------------+-----------+',
        '| pve1 | 100 | 25/05/16 08:00:00 | manual                | autodaily250516080000 | cv4pve-autosnap |           |',
        '| pve1 | 100 | 25/05/16 09:00:00 | autodaily250516080000 | autodaily250516090000 | cv4pve-autosnap | X         |',
        '+------+-----+-------------------+-----------------------+-----------------------+-----------------+-----------+',
        '',
      ].join('\n'),
    );
  });

  test('status -o json / jsonpretty: the column titles as keys, nothing else', async () => {
    const j = await cv4pve(['--vmid=100', 'status', '--label=daily', '-o', 'json']);
    expect(j.code).toBe(0);
    expect(j.stdout).toBe(
      '[{"NODE":"pve1","VM":100,"TIME":"25/05/16 08:00:00","PARENT":"manual","NAME":"autodaily250516080000","DESCRIPTION":"cv4pve-autosnap","VM STATUS":""},' +
        '{"NODE":"pve1","VM":100,"TIME":"25/05/16 09:00:00","PARENT":"autodaily250516080000","NAME":"autodaily250516090000","DESCRIPTION":"cv4pve-autosnap","VM STATUS":"X"}]',
    );
    const p = await cv4pve(['--vmid=100', 'status', '--output=jsonpretty']);
    expect(JSON.parse(p.stdout)).toEqual(JSON.parse(j.stdout));
    expect(p.stdout.split('\n')[2]).toBe('    "NODE": "pve1",');
  });

  test('check and notify are not cv4pve commands: one line naming autosnap, not a plugin state squashed into 1', async () => {
    for (const cmd of [['check', '--label', 'daily', '--warn', '1h', '--crit', '2h'], ['notify', '--test']]) {
      const r = await cv4pve(['--vmid=100', ...cmd]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${cmd[0]}: not a cv4pve-autosnap command; call it as autosnap ${cmd[0]}`);
    }
  });

  test('status -o markdown, html, unicode, unicodeAlt', async () => {
    const md = (await cv4pve(['--vmid=100', 'status', '-o', 'markdown'])).stdout.split('\n');
    expect(md[0]).toStartWith('| NODE | VM  | TIME              |');
    expect(md[1]).toStartWith('|------|-----|-------------------|');
    const html = (await cv4pve(['--vmid=100', 'status', '-o', 'html'])).stdout;
    expect(html).toStartWith("<table style='width: 100%;border-collapse: collapse;border: 1px solid black;'><thead><tr><th style='border: 1px solid black;'>NODE</th>");
    const uni = (await cv4pve(['--vmid=100', 'status', '-o', 'unicode'])).stdout.split('\n');
    expect(uni[0]).toStartWith('┌──────┬─────┬');
    expect(uni[1]).toStartWith('│ NODE │ VM  │ TIME');
    const alt = (await cv4pve(['--vmid=100', 'status', '-o', 'unicodeAlt'])).stdout.split('\n');
    expect(alt[0]).toStartWith('╔══════╦═════╦');
  });

  test('status of guests without snapshots of the tool: the header only; no guest: nothing', async () => {
    const r = await cv4pve(['--vmid=101', 'status']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toHaveLength(5);
    expect(r.stdout.split('\n')[1]).toBe('| NODE | VM | TIME | PARENT | NAME | DESCRIPTION | VM STATUS |');
    const none = await cv4pve(['--vmid=@node-pve1,-100', 'status']);
    expect(none.stdout).toBe('');
  });

  test('snap, status, --dry-run, clean: the README lines, snapshots cv4pve recognises', async () => {
    const dry = await cv4pve(['--vmid=@node-pve2', '--dry-run', 'snap', '--label=daily', '--keep=7']);
    expect(dry.code).toBe(0);
    const snap = await cv4pve(['--vmid=%-prod', 'snap', '--label=daily', '--keep=7']);
    expect(snap.code).toBe(0);
    const st = JSON.parse((await cv4pve(['--vmid=@all', 'status', '--label=daily', '-o', 'json'])).stdout);
    expect(st.map((x: { VM: number }) => x.VM)).toEqual([100, 100, 101, 102]);
    // made through the link, they carry cv4pve's description: cv4pve itself manages them
    expect(st.map((x: { DESCRIPTION: string }) => x.DESCRIPTION)).toEqual(Array(4).fill('cv4pve-autosnap'));
    const clean = await cv4pve(['--vmid=101,102', 'clean', '--label=daily', '--keep=0']);
    expect(clean.code).toBe(0);
    const after = JSON.parse((await cv4pve(['--vmid=@all', 'status', '-o', 'json'])).stdout);
    expect(after.map((x: { VM: number }) => x.VM)).toEqual([100, 100]);
  });

  test('the unchanged README line against a node with its own certificate: exit 1, the option to add', async () => {
    const r = await cv4pve(['--vmid=100', 'status'], false);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`then add --fingerprint ${sim.fingerprint}`);
    // with that option added, the same line works
    expect((await cv4pve(['--vmid=100', 'status'])).code).toBe(0);
  });

  test('--marker / marker: our snapshots carry cv4pve\'s description, or ours', async () => {
    const conf = path.join(TMP, 'marker.conf');
    const base = [`--host=${sim.hostPort}`, `--api-token=${sim.token}`, `--fingerprint=${sim.fingerprint}`, '--vmid=101'];
    const env = (c = '/dev/null') => ({ TZ: 'UTC', AUTOSNAP_NOW: '2025-05-16T13:00:00Z', AUTOSNAP_CONFIG: c, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock') });
    const desc = async (name: string) => (await sim.api('GET', '/nodes/pve2/lxc/101/snapshot')).body.data.find((x: { name: string }) => x.name === name)?.description;
    expect((await run([...base, 'snap', '--label=mk', '--keep=5', '--marker', 'cv4pve-autosnap'], { env: env() })).code).toBe(0);
    expect(await desc('automk250516130000')).toBe('cv4pve-autosnap');
    fs.writeFileSync(conf, '[autosnap]\nmarker = cv4pve-autosnap\n', { mode: 0o600 });
    expect((await run([...base, 'snap', '--label=mc', '--keep=5'], { env: env(conf) })).code).toBe(0);
    expect(await desc('automc250516130000')).toBe('cv4pve-autosnap');
    // through the link the config's choice wins over the link's default
    fs.writeFileSync(conf, '[autosnap]\nmarker = autosnap\n', { mode: 0o600 });
    expect((await run([...base, 'snap', '--label=ml', '--keep=5'], { as: 'cv4pve-autosnap', env: env(conf) })).code).toBe(0);
    expect(await desc('automl250516130000')).toBe('autosnap');
    expect((await run([...base, 'snap', '--label=mo', '--keep=5'], { env: env() })).code).toBe(0);
    expect(await desc('automo250516130000')).toBe('autosnap');
    const bad = await run([...base, 'snap', '--label=mo', '--keep=5', '--marker=cv4pve'], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--marker: 'cv4pve' is not a marker (expected autosnap or cv4pve-autosnap)");
  });

  test('every error exits 1, as cv4pve does (usage, selector, connection)', async () => {
    expect((await cv4pve(['--vmid=100', 'snap', '--label=daily'])).code).toBe(1);
    expect((await cv4pve(['--vmid=1x', 'status'])).code).toBe(1);
    expect((await cv4pve(['--vmid=999', 'status'])).code).toBe(1);
    const bad = await run(['--host=127.0.0.1:1', '--api-token=a@pam!b=c', '--vmid=100', 'status'], { as: 'cv4pve-autosnap', env: { AUTOSNAP_CONFIG: '/dev/null' } });
    expect(bad.code).toBe(1);
    // the same mistake called as autosnap keeps the documented codes
    expect((await run([`--host=${sim.hostPort}`, `--api-token=${sim.token}`, '--vmid=1x', 'status'], { env: { AUTOSNAP_CONFIG: '/dev/null' } })).code).toBe(2);
  });
});
