// Snapshot names a real Proxmox VE never makes (a broken or hostile node, or anyone on the
// path under --insecure, can send them) never steer a request: the compiled executable runs
// delete --match '*', autosnap clean, status and plan over both transports against a
// simulator whose seed holds such names, and the simulator's request log proves that no
// request left the guests' own snapshot paths and that the names are all still there.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, toolLink } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const T0 = 1750000000;
const HOSTILE = ['..', '.', 'a/../../x', '%2e%2e', '.%2E', 'x?y', 'x#y', 'a/b', '../../../../cluster/resources', 'x'.repeat(5000), 'ab\u001b[2J', 'new\nline', ' ', '-'];
const seedSnaps = (vmid: number) => [
  { name: 'autohourly250101000000', snaptime: T0, description: 'autosnap' },
  ...HOSTILE.map((name, i) => ({ name, snaptime: T0 + 60 * (i + 1), description: 'autosnap' })),
  { name: 'autohourly250101010000', snaptime: T0 + 3600, description: 'autosnap' },
  { name: `keep${vmid}`, snaptime: T0 + 7200, description: 'manual' },
];
const SEED = {
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'] }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' }, snapshots: seedSnaps(100) },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' }, snapshots: seedSnaps(101) },
  ],
};

let tmp: string;
let conf: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-paths-'));
  conf = path.join(tmp, 'empty.conf');
  fs.writeFileSync(conf, '');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Via = (s: SimHandle, tool: string, args: string[]) => ReturnType<typeof run>;
const overApi: Via = (s, tool, args) =>
  run([tool, '--host', s.hostPort, '--fingerprint', s.fingerprint, ...args], { env: { AUTOSNAP_API_TOKEN: s.token, AUTOSNAP_CONFIG: conf, TZ: 'UTC' } });
const overPvesh: Via = (s, tool, args) =>
  run([tool, '--transport', 'pvesh', '--pvesh', toolLink('pvesh'), ...args], { env: { ...s.pveshEnv, AUTOSNAP_CONFIG: conf, TZ: 'UTC' } });

// the paths a snapshot tool may touch: the guests' snapshot trees, their config, task
// status and logs, and the cluster-wide reads
const ALLOWED = [
  /^\/nodes\/pve1\/(qemu|lxc)\/10[01]\/snapshot(\/[A-Za-z][A-Za-z0-9_-]+(\/config)?)?$/,
  /^\/nodes\/pve1\/(qemu|lxc)\/10[01]\/config$/,
  // the pvesh stand-in sends the UPID percent-encoded, as an HTTP client of pveproxy would
  /^\/nodes\/pve1\/tasks(\/UPID(:|%3A)[A-Za-z0-9:%@!._=-]+\/(status|log))?$/,
  /^\/(cluster\/resources|cluster\/tasks|version|storage|pools|access\/permissions|access\/ticket|cluster\/status)$/,
];

for (const [via, call] of [['api', overApi], ['pvesh', overPvesh]] as const) {
  describe(`over ${via}`, () => {
    let sim: SimHandle;
    beforeAll(async () => {
      sim = await startSim({ seed: SEED, timeScale: 0.01, clock: '2025-06-20T00:00:00Z' });
    });
    afterAll(async () => sim?.stop());

    test('delete, clean, status and plan touch only what PVE could have named; the hostile names stay', async () => {
      const runs = [
        await call(sim, 'autosnap', ['--vmid', '@all', 'status']),
        await call(sim, 'autosnap', ['--vmid', '@all', 'plan', '--label', 'hourly', '--keep', '1']),
        await call(sim, 'autosnap', ['--vmid', '@all', 'clean', '--label', 'hourly', '--keep', '1']),
        await call(sim, 'pve-snapshot', ['list', '@all']),
        await call(sim, 'pve-snapshot', ['delete', '100', '--match', '*', '--yes']),
        await call(sim, 'pve-snapshot', ['delete', '@all', '--older-than', '0d', '--match', '*', '--yes']),
      ];
      const stats = await sim.control('/stats');
      const log: { method: string; path: string; raw: string }[] = stats.log;
      // the sane snapshots were deleted, so the runs did reach the guests
      expect(log.filter((r) => r.method === 'DELETE').map((r) => r.path).sort()).toEqual([
        '/nodes/pve1/lxc/101/snapshot/autohourly250101000000', '/nodes/pve1/lxc/101/snapshot/autohourly250101010000', '/nodes/pve1/lxc/101/snapshot/keep101',
        '/nodes/pve1/qemu/100/snapshot/autohourly250101000000', '/nodes/pve1/qemu/100/snapshot/autohourly250101010000', '/nodes/pve1/qemu/100/snapshot/keep100',
      ]);
      expect(runs[2].stdout).toContain('removed autohourly250101000000');
      const outside = log.filter((r) => !ALLOWED.some((re) => re.test(r.path)) || r.raw !== `/api2/json${r.path}`);
      expect(outside).toEqual([]);
      expect(log.filter((r) => r.method === 'DELETE' && !/\/snapshot\/[A-Za-z]/.test(r.path))).toEqual([]);
      const st = await sim.control('/state');
      for (const vmid of [100, 101]) {
        const names: string[] = st.guests.find((g: any) => g.vmid === vmid).snapshots.map((s: any) => s.name);
        // the sane ones were deleted by `delete --match '*'`, the hostile ones are untouched
        expect(names.sort()).toEqual([...HOSTILE].sort());
      }
      // each hostile name reported once per run and guest, escaped on one line
      const first = runs[4];
      expect(first.stderr).toContain('100: snapshot named ".." left alone: not a name Proxmox VE could have made');
      expect(first.stderr).toContain('"new\\nline"');
      expect(first.stderr).toContain('(5000 characters)');
      expect(first.stderr.split('\n').filter((l) => l.includes('named ".."')).length).toBe(1);
      for (const r of runs) {
        expect(r.stderr).not.toContain('\u001b');
        expect(r.code).toBeLessThan(2);
      }
    }, 120_000);
  });
}
