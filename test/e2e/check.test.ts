// `autosnap check`, the monitoring plugin, end to end: the compiled executable against the
// simulator, with AUTOSNAP_NOW pinning "now"; the first line and the exit code are what
// Nagios, Icinga and Checkmk read.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-check-'));
const CONFIG = path.join(TMP, 'empty.conf');
fs.writeFileSync(CONFIG, '');
const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const disk = (vmid: number) => ({ scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` });
const SEED = {
  cluster: 'check',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'], total: 1000, used: 100 }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'fresh', status: 'running', disks: disk(100),
      snapshots: [
        { name: 'autohourly250516080000', snaptime: at('2025-05-16T08:00:00Z'), description: 'cv4pve-autosnap' },
        { name: 'autohourly250516090000', snaptime: at('2025-05-16T09:00:00Z'), description: 'cv4pve-autosnap' },
      ] },
    { vmid: 101, type: 'qemu', node: 'pve2', name: 'stale', status: 'running', disks: disk(101),
      snapshots: [{ name: 'autohourly250516050000', snaptime: at('2025-05-16T05:00:00Z'), description: 'cv4pve-autosnap' }] },
    // a snapshot with the label's name that autosnap did not make does not count
    { vmid: 102, type: 'qemu', node: 'pve1', name: 'none', status: 'running', disks: disk(102),
      snapshots: [{ name: 'autohourly250516093000', snaptime: at('2025-05-16T09:30:00Z'), description: 'by hand' }] },
  ],
};

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01 });
});
afterAll(async () => {
  await sim?.stop();
});

const check = (args: string[], env: Record<string, string> = {}, host?: string) =>
  run(['--host', host ?? sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
    env: { TZ: 'UTC', AUTOSNAP_CONFIG: CONFIG, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_NOW: '2025-05-16T10:00:00Z', ...env },
  });
const first = (s: string) => s.split('\n')[0];

describe('autosnap check', () => {
  test('OK: every selected guest has a fresh enough snapshot of the label', async () => {
    const r = await check(['--vmid', '100', 'check', '--label', 'hourly', '--warn', '2h', '--crit', '1d']);
    expect(r.code).toBe(0);
    expect(first(r.stdout)).toBe("AUTOSNAP OK - 1 guest, newest 'hourly' snapshot at most 1h old | guests=1;;;0; ok=1;;;0;1 warning=0;;;0;1 critical=0;;;0;1 unknown=0;;;0;1 oldest_age=3600s;7200;86400;0; snapshots=2;;;0;");
  });

  test('WARNING names the guest whose newest snapshot is older than --warn', async () => {
    const r = await check(['--vmid', '100,101', 'check', '--label', 'hourly', '--warn', '2h', '--crit', '1d']);
    expect(r.code).toBe(1);
    expect(first(r.stdout)).toStartWith("AUTOSNAP WARNING - 1 of 2 guests: 101 stale: newest 'hourly' snapshot 5h old | ");
    expect(r.stdout).toContain("WARNING: 101 stale (pve2): newest 'hourly' snapshot 5h old");
  });

  test('CRITICAL names a guest without any snapshot of the label, and one older than --crit', async () => {
    const r = await check(['check', '--label', 'hourly', '--warn', '1h', '--crit', '4h']);
    expect(r.code).toBe(2);
    expect(first(r.stdout)).toStartWith("AUTOSNAP CRITICAL - 2 of 3 guests: 102 none: no 'hourly' snapshot; 101 stale: newest 'hourly' snapshot 5h old | ");
  });

  test('AUTOSNAP_NOW moves "now": the same guest is OK an hour after its snapshot', async () => {
    const r = await check(['--vmid', '101', 'check', '--label', 'hourly', '--warn', '2h', '--crit', '1d'], { AUTOSNAP_NOW: '2025-05-16T06:00:00Z' });
    expect([r.code, first(r.stdout).slice(0, 11)]).toEqual([0, 'AUTOSNAP OK']);
  });

  test('an unreachable cluster, a bad option, a selector matching nothing: UNKNOWN, exit 3, one line', async () => {
    const cases: Array<[string[], string | undefined, string]> = [
      [['check', '--label', 'hourly', '--warn', '2h', '--crit', '1d'], '127.0.0.1:1', 'AUTOSNAP UNKNOWN - '],
      [['check', '--label', 'hourly', '--warn', 'soon', '--crit', '1d'], undefined, "AUTOSNAP UNKNOWN - --warn: 'soon' is not an age"],
      [['check', '--label', 'hourly', '--warn', '1d', '--crit', '2h'], undefined, 'AUTOSNAP UNKNOWN - check: --crit 2h is shorter than --warn 1d'],
      [['check', '--warn', '1h', '--crit', '2h'], undefined, 'AUTOSNAP UNKNOWN - check: --label L is required'],
      [['--vmid', '999', 'check', '--label', 'hourly', '--warn', '1h', '--crit', '2h'], undefined, 'AUTOSNAP UNKNOWN - '],
      // refused while the options are read (an empty Nagios macro, a repeat, a typo): still UNKNOWN
      [['--vmid', '', 'check', '--label', 'hourly', '--warn', '1h', '--crit', '2h'], undefined, 'AUTOSNAP UNKNOWN - --vmid: empty value'],
      [['check', '--label', 'hourly', '--warn', '1h', '--warn', '2h', '--crit', '1d'], undefined, 'AUTOSNAP UNKNOWN - --warn is given 2 times'],
      [['check', '--label', 'hourly', '--warn', '1h', '--critical', '1d'], undefined, "AUTOSNAP UNKNOWN - unknown option"],
    ];
    for (const [args, host, want] of cases) {
      const r = await check(args, {}, host);
      expect([r.code, r.stdout.trim().split('\n').length]).toEqual([3, 1]);
      expect(r.stdout).toStartWith(want);
    }
  });

  test('the long output says which way run notifications go', async () => {
    const r = await check(['--vmid', '100', 'check', '--label', 'hourly', '--warn', '2h', '--crit', '1d'], { PERL5LIB: '/nonexistent' });
    expect(r.stdout).toContain('notifications: nowhere: PVE::Notify is not available (not a Proxmox VE node) and [notify] mailto is not set');
  });
});
