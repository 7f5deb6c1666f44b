// autosnap's run lock (--lock-file) where it cannot be written, through the compiled
// executable against the simulator: one line, exit 2, nothing done, and no lock left
// behind that would refuse every later run. The full directory is a real tmpfs (root only).
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const ROOT = process.getuid?.() === 0;
const SEED = {
  cluster: 'test',
  nodes: [{ node: 'pve1', status: 'online' }],
  storages: [{ storage: 'local-lvm', type: 'lvmthin', content: 'images,rootdir', shared: false, nodes: ['pve1'], total: 1e12, used: 1e11 }],
  guests: [{ vmid: 100, type: 'qemu', node: 'pve1', name: 'a', status: 'running', template: false, tags: [], lock: null, agent: true,
    disks: { scsi0: 'local-lvm:vm-100-disk-0,size=8G' }, config: { memory: 2048 }, snapshots: [] }],
  taskDurations: { qmsnapshot: 0.1 },
};

let sim: SimHandle;
let tmp: string;
let mounts: string[] = [];
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'run-lock-'));
  fs.writeFileSync(path.join(tmp, 'empty.conf'), '');
});
afterEach(() => {
  for (const m of mounts.reverse()) spawnSync('/usr/bin/umount', ['-l', m]);
  mounts = [];
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const snap = (lockFile: string) => run(['autosnap', 'snap', '--vmid', '100', '--label', 'hourly', '--keep', '2',
  '--host', sim.hostPort, '--fingerprint', sim.fingerprint, '--lock-file', lockFile, '--lock-wait', '1'],
  { env: { AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_CONFIG: path.join(tmp, 'empty.conf'), TZ: 'UTC' } });
const snapshots = async () => (await sim.control('/state')).guests[0].snapshots.length;

test('a directory named as the lock file: refused in one line naming it, exit 2, nothing made', async () => {
  const dir = path.join(tmp, 'lockdir');
  fs.mkdirSync(dir);
  const before = await snapshots();
  const r = await snap(dir);
  expect(r.stderr.trim()).toBe(`error: autosnap: lock file ${dir} is not a regular file; use --lock-file`);
  expect(r.code).toBe(2);
  expect(await snapshots()).toBe(before);
  expect(fs.statSync(dir).isDirectory()).toBe(true);
});

describe.skipIf(!ROOT)('lock directory full (tmpfs)', () => {
  test('the lock cannot be written: exit 2, no empty lock left, the next run takes it once there is room', async () => {
    const dir = path.join(tmp, 'full');
    fs.mkdirSync(dir);
    const m = spawnSync('/usr/bin/mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0755', 'autosnap-test', dir], { encoding: 'utf8' });
    expect(m.stderr).toBe('');
    mounts.push(dir);
    const filler = path.join(dir, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(4096, 1));
    const lock = path.join(dir, 'autosnap.lock');
    const before = await snapshots();
    const r = await snap(lock);
    expect(r.stderr.trim()).toBe(`error: autosnap: lock file ${lock}: ENOSPC; use --lock-file`);
    expect(r.code).toBe(2);
    expect(await snapshots()).toBe(before);
    expect(fs.readdirSync(dir)).toEqual(['filler']);
    fs.rmSync(filler);
    const again = await snap(lock);
    expect(again.code).toBe(0);
    expect(await snapshots()).toBe(before + 1);
  });
});
