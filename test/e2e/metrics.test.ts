// The metrics file end to end: the compiled executable writes it after a run against the
// simulator; `promtool check metrics` (Prometheus' own linter) accepts it, and a real
// prometheus-node-exporter, started on loopback with the textfile collector pointed at the
// directory, serves the samples on /metrics.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/bin.ts';
import { freePort } from './backup-fixture.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-metrics-'));
const DIR = path.join(TMP, 'textfile');
fs.mkdirSync(DIR);
const CONFIG = path.join(TMP, 'empty.conf');
fs.writeFileSync(CONFIG, '');
const at = (iso: string) => Math.floor(Date.parse(iso) / 1000);
const SEED = {
  cluster: 'metrics',
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 100 }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' },
      snapshots: [
        { name: 'autohourly250516080000', snaptime: at('2025-05-16T08:00:00Z'), description: 'cv4pve-autosnap' },
        { name: 'autohourly250516090000', snaptime: at('2025-05-16T09:00:00Z'), description: 'cv4pve-autosnap' },
      ] },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
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

const autosnap = (args: string[]) =>
  run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
    env: { TZ: 'UTC', AUTOSNAP_CONFIG: CONFIG, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_NOW: '2025-05-16T10:00:00Z', AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock'), AUTOSNAP_STATE_DIR: path.join(TMP, 'state') },
  });

describe('--metrics-file', () => {
  const file = path.join(DIR, 'autosnap.prom');
  let exporter: ChildProcess | undefined;
  afterAll(() => {
    exporter?.kill();
  });

  test('a run writes per guest and per run samples; promtool accepts the file', async () => {
    const r = await autosnap(['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '2', '--metrics-file', file]);
    expect(r.code).toBe(0);
    const text = fs.readFileSync(file, 'utf8');
    const now = at('2025-05-16T10:00:00Z');
    expect(text).toContain(`autosnap_snapshot_newest_timestamp_seconds{vmid="100",node="pve1",label="hourly",job="cli"} ${now}\n`);
    // 08:00 pruned (keep 2), 09:00 and the new 10:00 left
    expect(text).toContain('autosnap_snapshots{vmid="100",node="pve1",label="hourly",job="cli"} 2\n');
    expect(text).toContain('autosnap_snapshots{vmid="101",node="pve1",label="hourly",job="cli"} 1\n');
    expect(text).toContain('autosnap_last_run_created{command="snap",job="cli"} 2\n');
    expect(text).toContain('autosnap_last_run_removed{command="snap",job="cli"} 1\n');
    expect(text).toContain('autosnap_last_run_failed{command="snap",job="cli"} 0\n');
    expect(text).toContain('autosnap_last_run_exit_code{command="snap"} 0\n');
    expect(text).toMatch(/^autosnap_last_run_end_timestamp_seconds\{command="snap"\} \d{10}$/m);
    expect(text).toMatch(/^autosnap_last_run_duration_seconds\{command="snap"\} [\d.]+$/m);
    // nothing but the file is left in the directory (the temporary file was renamed)
    expect(fs.readdirSync(DIR)).toEqual(['autosnap.prom']);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect([lint.status, lint.stdout + lint.stderr]).toEqual([0, '']);
  });

  test('a failed run still writes its exit code', async () => {
    const failFile = path.join(DIR, 'failed.prom');
    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    let r;
    try {
      r = await autosnap(['--vmid', '101', 'snap', '--label', 'other', '--keep', '2', '--metrics-file', failFile]);
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(r.code).toBe(1);
    const text = fs.readFileSync(failFile, 'utf8');
    expect(text).toContain('autosnap_last_run_exit_code{command="snap"} 1\n');
    expect(text).toContain('autosnap_last_run_failed{command="snap",job="cli"} 1\n');
    fs.rmSync(failFile);
  });

  test('a cleaning-only run from the config writes beside it, run samples only: no guest series the snap runs own', async () => {
    const side = path.join(DIR, 'side');
    fs.mkdirSync(side, { recursive: true });
    const cfg = path.join(TMP, 'metrics-clean.conf');
    fs.writeFileSync(cfg, `[autosnap]\nmetrics_file = ${path.join(side, 'autosnap.prom')}\n`, { mode: 0o600 });
    const env = { TZ: 'UTC', AUTOSNAP_CONFIG: cfg, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_NOW: '2025-05-16T10:00:00Z', AUTOSNAP_LOCK_FILE: path.join(TMP, 'lock'), AUTOSNAP_STATE_DIR: path.join(TMP, 'state') };
    const conn = ['--host', sim.hostPort, '--fingerprint', sim.fingerprint];
    expect((await run([...conn, '--vmid', '100', 'snap', '--label', 'side', '--keep', '3'], { env })).code).toBe(0);
    expect((await run([...conn, '--vmid', '100', 'clean', '--label', 'side', '--keep', '3'], { env })).code).toBe(0);
    const main = fs.readFileSync(path.join(side, 'autosnap.prom'), 'utf8');
    const clean = fs.readFileSync(path.join(side, 'autosnap-clean.prom'), 'utf8');
    expect(main).toMatch(/^autosnap_snapshots\{/m);
    expect(clean).not.toMatch(/^autosnap_snapshots\{/m);
    expect(clean).not.toMatch(/^autosnap_snapshot_newest_timestamp_seconds\{/m);
    expect(clean).toMatch(/^autosnap_last_run_exit_code\{command="clean"\} 0$/m);
  });

  test('a bad path is one usage line before anything runs', async () => {
    for (const [p, want] of [
      ['rel.prom', "--metrics-file: 'rel.prom' is not an absolute path"],
      [path.join(TMP, 'autosnap.txt'), 'does not end in .prom'],
      [path.join(TMP, 'nodir', 'a.prom'), 'does not exist'],
      // a directory by that name: the rename at the end of the run would fail after the work
      [path.join(TMP, 'isdir.prom'), `--metrics-file: ${path.join(TMP, 'isdir.prom')} is a directory`],
    ]) {
      if (p.endsWith('isdir.prom')) fs.mkdirSync(p, { recursive: true });
      const r = await autosnap(['--vmid', '100', 'snap', '--label', 'bad', '--keep', '1', '--metrics-file', p]);
      expect([r.code, r.stderr.trim().split('\n').length]).toEqual([2, 1]);
      expect(r.stderr).toContain(want);
    }
  });

  test('a real node exporter serves the samples', async () => {
    const port = await freePort();
    exporter = spawn('prometheus-node-exporter', ['--web.listen-address', `127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.textfile', '--collector.textfile.directory', DIR], { stdio: 'ignore' });
    let body = '';
    for (let i = 0; i < 50 && !body; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        if (res.ok) body = await res.text();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(body).toContain('autosnap_snapshots{job="cli",label="hourly",node="pve1",vmid="100"} 2');
    expect(body).toContain('autosnap_last_run_exit_code{command="snap"} 0');
    // the collector reports a file it could not parse with node_textfile_scrape_error 1
    expect(body).toMatch(/^node_textfile_scrape_error 0$/m);
  });
});
