// Lines into the journal: the compiled executable run the way systemd runs it, stdout and
// stderr one stream whose "device:inode" is in JOURNAL_STREAM (here a file, so the test
// can read what the journal would get), INVOCATION_ID set as for every start of a unit.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-journal-'));
const CONFIG = path.join(TMP, 'empty.conf');
fs.writeFileSync(CONFIG, '');
const disk = (vmid: number) => ({ scsi0: `local-zfs:vm-${vmid}-disk-0,size=8G` });
const SEED = {
  cluster: 'journal',
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 100 }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: disk(100) },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
    { vmid: 107, type: 'qemu', node: 'pve1', name: 'noagent', status: 'running', agent: false, disks: disk(107) },
  ],
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5, vzsnapshot: 1, vzdelsnapshot: 0.5 },
};

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01, clock: '2025-05-16T10:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
});

/** Run with stdout and stderr into one file that JOURNAL_STREAM names; returns its lines. */
async function asUnit(args: string[], now: string, env: Record<string, string> = {}): Promise<{ code: number; lines: string[] }> {
  const file = path.join(TMP, `out-${Math.random().toString(36).slice(2)}`);
  const fd = fs.openSync(file, 'w');
  const st = fs.fstatSync(fd);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(BIN, ['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        TZ: 'UTC', AUTOSNAP_CONFIG: CONFIG, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_NOW: now, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock'),
        AUTOSNAP_STATE_DIR: path.join(TMP, 'state'), JOURNAL_STREAM: `${st.dev}:${st.ino}`, INVOCATION_ID: Math.random().toString(16).slice(2), ...env,
      },
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
  fs.closeSync(fd);
  return { code, lines: fs.readFileSync(file, 'utf8').trim().split('\n') };
}

/** Run with stderr on a full disk (/dev/full), stdout into a pipe. */
async function stderrFull(args: string[], now: string): Promise<{ code: number; stdout: string }> {
  const full = fs.openSync('/dev/full', 'w');
  try {
    return await new Promise((resolve) => {
      const child = spawn(BIN, ['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
        stdio: ['ignore', 'pipe', full],
        env: { ...process.env, TZ: 'UTC', AUTOSNAP_CONFIG: CONFIG, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_NOW: now, AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock'), AUTOSNAP_STATE_DIR: path.join(TMP, 'state') },
      });
      let stdout = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.on('close', (c) => resolve({ code: c ?? 1, stdout }));
    });
  } finally {
    fs.closeSync(full);
  }
}

describe.skipIf(!fs.existsSync('/dev/full'))('a log that cannot be written', () => {
  // `2>> /var/log/autosnap.log` on a full disk: a log line that fails must not fail a
  // guest or stop the run; its work and its stdout are whole, and the exit says it
  test('stderr on a full disk: every guest snapshotted, stdout whole, exit non-zero', async () => {
    const r = await stderrFull(['--debug', 'snap', '--vmid', '100,101', '--label', 'fulldisk', '--keep', '2'], '2025-05-16T10:00:00Z');
    expect(r.stdout).toMatch(/^100 web1: created autofulldisk\d+/m);
    expect(r.stdout).toMatch(/^101 ct1: created autofulldisk\d+/m);
    expect(r.stdout).toMatch(/2 created, 0 removed, 0 skipped, 0 failed/);
    expect(r.code).toBe(1);
    const status = await stderrFull(['status', '--vmid', '100,101', '--label', 'fulldisk', '-o', 'json'], '2025-05-16T10:01:00Z');
    expect(JSON.parse(status.stdout)).toHaveLength(2);
  });
});

describe('into the journal', () => {
  test('failures carry <3>, warnings <4>; a guest that went well is no line of its own', async () => {
    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    let r;
    try {
      r = await asUnit(['snap', '--label', 'j', '--keep', '2'], '2025-05-16T10:00:00Z');
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(r.code).toBe(1);
    expect(r.lines.filter((l) => l.startsWith('<3>'))).toEqual(['<3>error: 101 ct1: failed: create autoj250516100000: snapshot feature is not available']);
    expect(r.lines.filter((l) => l.startsWith('<4>'))).toEqual([expect.stringContaining('<4>107 noagent: warning: no QEMU guest agent configured')]);
    expect(r.lines.filter((l) => l.includes('created'))).toEqual(['autosnap snap: 2 created, 0 removed, 0 skipped, 1 failed in ' + r.lines.at(-1)!.split(' in ')[1]]);
  });

  test('a healthy run is one summary line; the agent warning already shown is not repeated until it changes', async () => {
    const r = await asUnit(['snap', '--label', 'j', '--keep', '2'], '2025-05-16T10:15:00Z');
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([expect.stringMatching(/^autosnap snap: 3 created, 0 removed, 0 skipped, 0 failed in [\d.]+s$/)]);
    // the secret on the command line: told once, then not again while it stays there
    const secretArgs = ['--api-token', sim.token, 'snap', '--label', 'k', '--keep', '2'];
    const first = await asUnit(secretArgs, '2025-05-16T10:30:00Z', { AUTOSNAP_API_TOKEN: '' });
    const second = await asUnit(secretArgs, '2025-05-16T10:45:00Z', { AUTOSNAP_API_TOKEN: '' });
    expect(first.lines.filter((l) => l.includes('visible in the process list')).length).toBe(1);
    expect(first.lines.join('\n')).toContain('<4>warning: --api-token with the secret');
    expect(second.lines.filter((l) => l.includes('visible in the process list'))).toEqual([]);
    expect(second.lines.join('\n')).not.toContain(sim.secret);
  });

  test('outside a unit (no INVOCATION_ID) and without JOURNAL_STREAM every run shows every line, without priorities', async () => {
    const r = await asUnit(['--vmid', '100,107', 'snap', '--label', 'j', '--keep', '2'], '2025-05-16T11:00:00Z', { INVOCATION_ID: '', JOURNAL_STREAM: '' });
    expect(r.code).toBe(0);
    expect(r.lines.some((l) => l.startsWith('<'))).toBe(false);
    expect(r.lines).toContain('100 web1: created autoj250516110000' + r.lines.find((l) => l.startsWith('100 web1: created'))!.slice('100 web1: created autoj250516110000'.length));
    expect(r.lines.some((l) => l.includes('107 noagent: warning: no QEMU guest agent'))).toBe(true);
  });
});
