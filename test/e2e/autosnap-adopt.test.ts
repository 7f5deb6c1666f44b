// Switching from the original autosnap script: its snapshots (`autosnap-YYYYMMDDHHMM`, no
// description) are adopted by the intraday job and cleaned by its tiers, plan says so, and
// nothing that merely resembles them is touched. The compiled executable against the simulator.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-adopt-'));
const CONF = path.join(TMP, 'empty.conf');
fs.writeFileSync(CONF, '');
const at = (hhmm: string, day = '2025-05-16') => Math.floor(Date.parse(`${day}T${hhmm}:00Z`) / 1000) + 20;

// what the script left: no description at all, names rounded to the quarter
const SCRIPT = ['autosnap-202505151645', 'autosnap-202505151700', 'autosnap-202505160900', 'autosnap-202505160915', 'autosnap-202505161100', 'autosnap-202505161145'];
const snaptimeOf = (n: string) => at(`${n.slice(17, 19)}:${n.slice(19, 21)}`, `${n.slice(9, 13)}-${n.slice(13, 15)}-${n.slice(15, 17)}`);
const NOT_ADOPTED = [
  // the script's rule ("starts with autosnap-") would have taken these; ours does not
  { name: 'autosnap-before-upgrade', snaptime: at('08:00', '2025-05-15'), description: '' },
  { name: 'autosnap-2025051508', snaptime: at('08:00', '2025-05-15'), description: '' },
  { name: 'autosnap-202505150800x', snaptime: at('08:00', '2025-05-15'), description: '' },
  // the right shape, but someone described it: a person made it
  { name: 'autosnap-202505150815', snaptime: at('08:15', '2025-05-15'), description: 'keep: before the migration' },
];

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({
    seed: {
      cluster: 'adopt',
      nodes: [{ node: 'pve1' }],
      storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images', nodes: ['pve1'], total: 1000, used: 100 }],
      guests: [
        {
          vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' },
          snapshots: [...SCRIPT.map((name) => ({ name, snaptime: snaptimeOf(name) })), ...NOT_ADOPTED],
        },
      ],
    },
    timeScale: 0.01,
    clock: '2025-05-16T12:05:00Z',
  });
});
afterAll(async () => {
  await sim?.stop();
  fs.rmSync(TMP, { recursive: true, force: true });
});

const autosnap = (args: string[]) =>
  run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
    env: { TZ: 'UTC', AUTOSNAP_NOW: '2025-05-16T12:05:00Z', AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: CONF, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock') },
  });
const names = async () => ((await sim.control('/state')).guests[0].snapshots as Array<{ name: string }>).map((s) => s.name).sort();

test('plan: the script\'s snapshots are the intraday job\'s, marked adopted; look-alikes are not ours', async () => {
  const r = await autosnap(['plan', '-o', 'json']);
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as Array<{ snapshot: string; action: string; reason: string }>;
  const by = Object.fromEntries(plan.map((p) => [p.snapshot, p]));
  for (const n of SCRIPT) {
    expect(by[n].action).not.toBe('protected');
    expect(by[n].reason).toContain("adopted (original script's)");
  }
  // yesterday's go; this morning's :00 stays beyond 3 h, the :15 goes
  expect(by['autosnap-202505151645'].action).toBe('remove');
  expect(by['autosnap-202505160900'].action).toBe('keep');
  expect(by['autosnap-202505160915'].action).toBe('remove');
  expect(by['autosnap-202505161145'].action).toBe('keep');
  for (const s of NOT_ADOPTED) expect(by[s.name]).toMatchObject({ action: 'protected', reason: 'not ours' });
  // a cv4pve-style label job does not adopt them
  const label = JSON.parse((await autosnap(['plan', '--label', 'hourly', '--keep', '1', '-o', 'json'])).stdout) as Array<{ snapshot: string; action: string }>;
  expect(label.filter((p) => SCRIPT.includes(p.snapshot)).every((p) => p.action === 'protected')).toBe(true);
  const text = await autosnap(['plan']);
  expect(text.stdout).toMatch(/autosnap-202505151700 .*remove .*adopted \(original script's\)/);
});

test('-clean removes what the tiers drop among them, and nothing that only looks like them', async () => {
  const r = await autosnap(['-clean']);
  expect(r.code).toBe(0);
  expect(await names()).toEqual(
    ['autosnap-202505160900', 'autosnap-202505161100', 'autosnap-202505161145', ...NOT_ADOPTED.map((s) => s.name)].sort(),
  );
});

test('status lists them (as intraday)', async () => {
  const r = await autosnap(['status', '-o', 'json']);
  const rows = JSON.parse(r.stdout) as Array<{ snapshot: string; label: string }>;
  expect(rows.map((x) => x.snapshot)).toEqual(['autosnap-202505160900', 'autosnap-202505161100', 'autosnap-202505161145']);
  expect(rows.every((x) => x.label === 'intraday')).toBe(true);
});
