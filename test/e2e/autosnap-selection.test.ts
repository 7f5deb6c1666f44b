// What a selection says about the guests it leaves out: explicitly named templates, and an
// API token that sees no guest (a privilege-separated token without its own ACL). Plus
// plan and clean agreeing on `--keep 0`. The compiled executable against the simulator.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-sel-'));
const EMPTY_CONFIG = path.join(TMP, 'empty.conf');
fs.writeFileSync(EMPTY_CONFIG, '# no jobs\n');

const at = (hhmm: string) => Math.floor(Date.parse(`2025-05-16T${hhmm}:00Z`) / 1000);
const NOW = '2025-05-16T10:00:00Z';
const disk = (vmid: number) => ({ scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` });
const ours = (hhmm: string) => ({ name: `autohourly250516${hhmm.replace(':', '')}00`, snaptime: at(hhmm), description: 'autosnap' });

const BLIND = { id: 'snap@pve!blind', secret: '0b6f1c52-8a55-4c39-9d0e-7d2f0c4b1a01' };
const OWN = { id: 'snap@pve!own', secret: '0b6f1c52-8a55-4c39-9d0e-7d2f0c4b1a02' };
const SHARED = { id: 'snap@pve!shared', secret: '0b6f1c52-8a55-4c39-9d0e-7d2f0c4b1a03' };

const SEED = {
  cluster: 'sel',
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 100 }],
  pools: [{ poolid: 'prod' }],
  guests: [
    { vmid: 200, type: 'qemu', node: 'pve1', name: 'app1', status: 'running', agent: true, disks: disk(200), snapshots: [ours('08:00'), ours('09:00')] },
    { vmid: 201, type: 'qemu', node: 'pve1', name: 'app2', status: 'running', agent: true, pool: 'prod', disks: disk(201) },
    { vmid: 9000, type: 'qemu', node: 'pve1', name: 'tmpl', status: 'stopped', template: true, disks: disk(9000) },
    { vmid: 9001, type: 'lxc', node: 'pve1', name: 'ct-tmpl', status: 'stopped', template: true, disks: { rootfs: 'local-zfs:subvol-9001-disk-0,size=8G' } },
  ],
  users: [
    {
      userid: 'snap@pve',
      password: 'snap-pw',
      privileges: { '/vms': ['VM.Audit', 'VM.Snapshot'], '/storage': ['Datastore.Audit'] },
      tokens: [
        // privilege-separated and no ACL of its own: sees nothing, whatever the user may
        { id: 'blind', secret: BLIND.secret, privsep: true },
        // privilege-separated with its own ACL on one guest
        { id: 'own', secret: OWN.secret, privsep: true, privileges: { '/vms/200': ['VM.Audit'] } },
        // not separated: the user's privileges
        { id: 'shared', secret: SHARED.secret, privsep: false },
      ],
    },
  ],
  taskDurations: { qmsnapshot: 0.5, qmdelsnapshot: 0.5 },
};

const HINT = "a privilege-separated token needs its own VM.Audit (pveum acl modify / --tokens 'snap@pve!blind' --roles ROLE)";

describe('selection lines', () => {
  let sim: SimHandle;
  beforeAll(async () => {
    sim = await startSim({ seed: SEED, timeScale: 0.01, clock: NOW });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  const call = (args: string[], token = sim.token, as?: 'pve-snapshot'): Promise<RunResult> =>
    run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
      as,
      env: { TZ: 'UTC', AUTOSNAP_CONFIG: EMPTY_CONFIG, AUTOSNAP_LOCK_FILE: path.join(TMP, 'run.lock'), AUTOSNAP_NOW: NOW, AUTOSNAP_API_TOKEN: token },
    });
  const names = async (vmid: number) => ((await sim.control('/state')).guests.find((g: { vmid: number }) => g.vmid === vmid).snapshots as Array<{ name: string }>).map((s) => s.name).sort();

  test('credentials that cannot resolve the selector end the run with exit 3 before any guest', async () => {
    const before = await names(201);
    const r = await call(['--vmid', '@pool-prod', 'snap', '--label', 'hourly', '--keep', '2'], `${SHARED.id}=${SHARED.secret}`);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('missing privilege Pool.Audit on /pool/prod')]);
    expect(await names(201)).toEqual(before);
  });

  test('plan --keep 0 shows what clean --keep 0 does: every snapshot of the label goes', async () => {
    const plan = await call(['--vmid', '200', 'plan', '--label', 'hourly', '--keep', '0', '-o', 'json']);
    const dry = await call(['--vmid', '200', 'clean', '--label', 'hourly', '--keep', '0', '--dry-run', '-o', 'json']);
    expect(plan.code).toBe(0);
    expect(dry.code).toBe(0);
    const rows = (r: RunResult) => (JSON.parse(r.stdout) as Array<{ snapshot: string; action: string; reason: string }>).map((p) => [p.snapshot, p.action, p.reason]);
    expect(rows(plan)).toEqual([
      ['autohourly250516090000', 'remove', 'beyond count 0'],
      ['autohourly250516080000', 'remove', 'beyond count 0'],
    ]);
    expect(rows(plan)).toEqual(rows(dry));
    // a count above 0 still keeps the newest in both
    const plan1 = await call(['--vmid', '200', 'plan', '--label', 'hourly', '--keep', '1', '-o', 'json']);
    expect((JSON.parse(plan1.stdout) as Array<{ action: string }>).map((p) => p.action)).toEqual(['keep', 'remove']);
    expect(await names(200)).toEqual(['autohourly250516080000', 'autohourly250516090000']);
  });

  test('an explicitly named template gets one line and counts as skipped; the others go on', async () => {
    const r = await call(['--vmid', '200,201,9000', 'snap', '--label', 'tp', '--keep', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.includes('9000'))).toEqual(['9000 tmpl: skipped: template (templates are never snapshotted)']);
    expect(r.stdout).toContain('200 app1: created autotp250516100000');
    expect(r.stdout).toContain('201 app2: created autotp250516100000');
    expect(r.stdout).toMatch(/2 created, 0 removed, 1 skipped, 0 failed/);
    expect(await names(9000)).toEqual([]);
  });

  test('a template by name and in a plan: the same line; through @all no line', async () => {
    const named = await call(['--vmid', '201,ct-tmpl', 'plan', '--label', 'tp', '--keep', '1']);
    expect(named.code).toBe(0);
    expect(named.stderr).toContain('9001 ct-tmpl: skipped: template (templates are never snapshotted)');
    expect(named.stdout).not.toContain('9001');
    const all = await call(['--vmid', '@all', 'plan', '--label', 'tp', '--keep', '1']);
    expect(all.code).toBe(0);
    expect(all.stderr).not.toContain('template');
  });

  test.each([
    [['9000'], "selector '9000' matched no guest; 9000 is a template (templates are never snapshotted)"],
    [['9000,9001'], "selector '9000,9001' matched no guest; 9000, 9001 are templates (templates are never snapshotted)"],
  ])('a selector naming only templates %p: exit 2, one line', async (sel, line) => {
    const r = await call(['--vmid', ...sel, 'snap', '--label', 'tp', '--keep', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: autosnap: ${line}`);
  });

  test('a privilege-separated token without its own ACL: the error says why (autosnap)', async () => {
    const r = await call(['--vmid', '@all', 'snap', '--label', 'tk', '--keep', '1'], `${BLIND.id}=${BLIND.secret}`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: autosnap: selector '@all' matched no guest; the token sees no guests: ${HINT}`);
    const plan = await call(['--vmid', '200', 'plan', '--label', 'tk', '--keep', '1'], `${BLIND.id}=${BLIND.secret}`);
    expect(plan.code).toBe(2);
    expect(plan.stderr.trim()).toBe(`error: autosnap: selector '200' matched no guest; the token sees no guests: ${HINT}`);
  });

  test('a privilege-separated token without its own ACL: the error says why (pve-snapshot)', async () => {
    const r = await call(['list', '200'], `${BLIND.id}=${BLIND.secret}`, 'pve-snapshot');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: pve-snapshot: guest '200' not found; the token sees no guests: ${HINT}`);
  });

  test('a token that sees some guests, not the named one: what is known, and the way out if it exists', async () => {
    const r = await call(['--vmid', '201', 'snap', '--label', 'tk', '--keep', '1'], `${OWN.id}=${OWN.secret}`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      "error: autosnap: selector '201' matched no guest; the token sees no guest 201; if it exists, a privilege-separated token needs its own VM.Audit on it (pveum acl modify /vms/201 --tokens 'snap@pve!own' --roles ROLE)",
    );
    const ps = await call(['list', '12345'], sim.token, 'pve-snapshot');
    expect(ps.code).toBe(2);
    expect(ps.stderr.trim()).toBe(
      "error: pve-snapshot: guest '12345' not found; the token sees no guest 12345; if it exists, a privilege-separated token needs its own VM.Audit on it (pveum acl modify /vms/12345 --tokens 'root@pam!test' --roles ROLE)",
    );
  });

  test('no hint where the token is not the reason', async () => {
    // a token that sees guests, asked for a node or a name that is not there: the plain line
    const missing = await call(['--vmid', '@all-pve9', 'snap', '--label', 'tk', '--keep', '1'], `${SHARED.id}=${SHARED.secret}`);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe("error: autosnap: selector '@all-pve9' matched no guest");
    const ps = await call(['list', 'nosuchguest'], sim.token, 'pve-snapshot');
    expect(ps.code).toBe(2);
    expect(ps.stderr.trim()).toBe("error: pve-snapshot: guest 'nosuchguest' not found: no VM or container in the cluster has that vmid or name");
    // the shared token sees the user's guests: the run works
    const ok = await call(['--vmid', '201', 'plan', '--label', 'tk', '--keep', '1'], `${SHARED.id}=${SHARED.secret}`);
    expect(ok.code).toBe(0);
  });
});
