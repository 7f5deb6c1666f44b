// A certificate mismatch stops the run: the pinned host goes away and the next host shows
// another certificate. The compiled executable against two simulators (each makes its own
// certificate at start): one line naming the host and both fingerprints, exit 3, no line
// per guest, and a bounded number of handshakes with the host that does not match.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TOKEN = 'autosnap@pve!pin=5e0c1d6e-6f43-4c1f-9a3e-2f1d2c3b4a59';
const VMIDS = Array.from({ length: 12 }, (_, i) => 100 + i);
const SEED = {
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'] }],
  guests: VMIDS.map((vmid) => ({ vmid, type: 'qemu', node: 'pve1', name: `g${vmid}`, status: 'running', agent: true, disks: { scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` } })),
};

let other: SimHandle;
let tmp: string;
let conf: string;
beforeAll(async () => {
  other = await startSim({ seed: SEED, timeScale: 0.3, tokens: [TOKEN] });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pin-mismatch-'));
  conf = path.join(tmp, 'empty.conf');
  fs.writeFileSync(conf, '');
});
afterAll(async () => {
  await other?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const autosnap = (pinned: SimHandle, args: string[]) =>
  run(['autosnap', '--host', `${pinned.hostPort},${other.hostPort}`, '--fingerprint', pinned.fingerprint, '--max-parallel', '1', ...args], {
    env: { AUTOSNAP_API_TOKEN: TOKEN, AUTOSNAP_CONFIG: conf, TZ: 'UTC', AUTOSNAP_LOCK_FILE: path.join(tmp, `lock-${Math.random()}`) },
  });
const mismatchLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('does not match the pinned'));
const handshakes = async () => (await other.control('/stats')).handshakes as number;

test('the pinned host is gone mid-run, the next shows another certificate: one line, exit 3', async () => {
  const pinned = await startSim({ seed: SEED, timeScale: 0.3, tokens: [TOKEN] });
  const before = await handshakes();
  const running = autosnap(pinned, ['--vmid', '@all', 'snap', '--label', 'pin', '--keep', '2']);
  // let a few guests be done, then take the pinned host away
  for (let i = 0; i < 200; i++) {
    const st = await pinned.control('/state');
    if (st.guests.filter((g: any) => g.snapshots.length).length >= 2) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await pinned.stop();
  const r = await running;
  expect(r.code).toBe(3);
  const lines = mismatchLines(r.stderr);
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain(`${other.hostPort}: certificate fingerprint ${other.fingerprint} does not match the pinned ${pinned.fingerprint}`);
  // the guest whose request was under way when the host went may fail; no line per guest after it
  expect(r.stderr.split('\n').filter((l) => l.includes(': failed')).length).toBeLessThanOrEqual(1);
  expect(await handshakes() - before).toBeLessThanOrEqual(2);
  // nothing was sent to the host that did not match
  expect((await other.control('/stats')).log).toEqual([]);
}, 120_000);

test('the pinned host is down from the start: one line, exit 3, nothing sent', async () => {
  const pinned = await startSim({ seed: SEED, timeScale: 0.3, tokens: [TOKEN] });
  await pinned.stop();
  const before = await handshakes();
  const r = await autosnap(pinned, ['--vmid', '@all', 'snap', '--label', 'pin', '--keep', '2']);
  expect(r.code).toBe(3);
  expect(mismatchLines(r.stderr).length).toBe(1);
  expect(r.stdout).toBe('');
  expect(await handshakes() - before).toBeLessThanOrEqual(2);
  expect((await other.control('/stats')).log).toEqual([]);

  // pve-snapshot stops the same way
  const p = await run(['pve-snapshot', '--host', `${pinned.hostPort},${other.hostPort}`, '--fingerprint', pinned.fingerprint, 'create', '@all', 'pin1'], {
    env: { AUTOSNAP_API_TOKEN: TOKEN, AUTOSNAP_CONFIG: conf, TZ: 'UTC' },
  });
  expect(p.code).toBe(3);
  expect(mismatchLines(p.stderr).length).toBe(1);
  expect(p.stderr.split('\n').filter(Boolean).length).toBe(1);
  expect((await other.control('/stats')).log).toEqual([]);
}, 120_000);

test('the mismatch shows up only while re-reading the locks of waiting guests: still the one line and exit 3', async () => {
  const pinned = await startSim({ seed: SEED, timeScale: 0.3, tokens: [TOKEN], faults: VMIDS.slice(0, 2).map((v) => `lock=${v}:backup`).join(';') });
  const before = await handshakes();
  const running = autosnap(pinned, ['--vmid', '100,101', 'snap', '--label', 'pin', '--keep', '2', '--lock-wait', '3']);
  // the inventory is read from the pinned host; the lock re-reads then meet the other one
  for (let i = 0; i < 400; i++) {
    const st = await pinned.control('/stats');
    if (st.log.some((l: any) => l.path === '/cluster/resources')) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await pinned.stop();
  const r = await running;
  expect(mismatchLines(r.stderr).length).toBe(1);
  expect(r.code).toBe(3);
  expect(await handshakes() - before).toBeLessThanOrEqual(2);
  expect((await other.control('/stats')).log).toEqual([]);
}, 120_000);
