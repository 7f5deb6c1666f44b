// A small cluster with a history for the HTML report: two nodes, a calendar job with a
// year of snapshots behind it, an hourly job, hand-made snapshots, a guest whose lock
// makes the run skip it and one whose half-deleted snapshot makes it fail, and a guest
// with a hostile name and description. Used by the report tests and by
// scripts/screenshots.ts (the README's pictures), so both show the same pages.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from './bin.ts';
import { startSim, type SimHandle } from './sim.ts';

/** The instant the pages describe. */
export const NOW = '2025-05-16T12:00:00Z';
const NOW_S = Date.parse(NOW) / 1000;
const H = 3600;
const D = 86400;

const pad = (n: number) => String(n).padStart(2, '0');
/** cv4pve's name: auto{label}{yyMMddHHmmss} (UTC here) */
function ours(label: string, t: number) {
  const d = new Date(t * 1000);
  const stamp = `${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return { name: `auto${label}${stamp}`, snaptime: t, description: 'autosnap' };
}

/** What an earlier policy left: daily for 10 days, then Sundays for 2 months, then month starts back a year. */
function dailyHistory(hour: number): Array<{ name: string; snaptime: number; description: string }> {
  const out = [];
  const today1am = Math.floor(NOW_S / D) * D + hour * H;
  for (let i = 0; i < 10; i++) out.push(ours('daily', today1am - i * D));
  for (let i = 10; i < 70; i++) {
    const t = today1am - i * D;
    if (new Date(t * 1000).getUTCDay() === 0) out.push(ours('daily', t));
  }
  for (let m = 3; m <= 14; m++) {
    const d = new Date(Date.UTC(2025, 4 - m, 1, hour));
    out.push(ours('daily', d.getTime() / 1000));
  }
  return out;
}

function hourlyHistory(hours: number): Array<{ name: string; snaptime: number; description: string }> {
  const out = [];
  const top = Math.floor(NOW_S / H) * H;
  for (let i = 1; i <= hours; i++) out.push(ours('hourly', top - i * H));
  return out;
}

const zfs = (vmid: number) => ({ scsi0: `local-zfs:vm-${vmid}-disk-0,size=32G` });
const manual = (name: string, daysAgo: number, description = 'by hand') => ({ name, snaptime: NOW_S - daysAgo * D, description });

export const HOSTILE_NAME = 'x"><img src=x onerror=alert(1)>';
export const HOSTILE_DESC = '</title><script>alert(2)</script><a href="http://evil.example/">';

export const SEED = {
  cluster: 'demo',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'], total: 1000, used: 300 }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: zfs(100), snapshots: [...dailyHistory(1), ...hourlyHistory(20), manual('pre-upgrade', 40, 'before the 8.4 upgrade')] },
    { vmid: 101, type: 'qemu', node: 'pve1', name: 'db1', status: 'running', agent: true, disks: zfs(101), snapshots: dailyHistory(2) },
    { vmid: 102, type: 'lxc', node: 'pve2', name: 'proxy', status: 'running', disks: { rootfs: 'local-zfs:subvol-102-disk-0,size=8G' }, snapshots: [...dailyHistory(3).slice(0, 14), manual('vzdump-test', 3, 'made by another tool')] },
    // a backup holds the lock through the run: skipped
    { vmid: 103, type: 'qemu', node: 'pve2', name: 'mail', status: 'running', agent: true, lock: 'backup', disks: zfs(103), snapshots: dailyHistory(1).slice(0, 12) },
    // a half-deleted snapshot: failed
    { vmid: 104, type: 'qemu', node: 'pve2', name: 'files', status: 'running', agent: true, lock: 'snapshot-delete', disks: zfs(104),
      snapshots: [...dailyHistory(4).slice(0, 9), { ...ours('daily', NOW_S - 20 * D), snapstate: 'delete' }] },
    { vmid: 105, type: 'qemu', node: 'pve1', name: HOSTILE_NAME, status: 'running', agent: true, disks: zfs(105), snapshots: [...dailyHistory(5).slice(0, 5), manual('evil', 2, HOSTILE_DESC)] },
  ],
  taskDurations: { qmsnapshot: 0.2, qmdelsnapshot: 0.1, vzsnapshot: 0.2, vzdelsnapshot: 0.1 },
};

export const POLICY_DAILY = 'keep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 6\nkeep_yearly = 1';

export interface ReportFixture {
  dir: string;
  sim: SimHandle;
  config: string;
  reportFile: string;
  /** run the compiled autosnap against the simulator, at NOW unless told */
  autosnap(args: string[], env?: Record<string, string>): Promise<RunResult>;
  stop(): Promise<void>;
}

export async function startReportFixture(): Promise<ReportFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-report-'));
  const sim = await startSim({ seed: SEED, timeScale: 0.01, clock: NOW });
  const reportFile = path.join(dir, 'www', 'autosnap.html');
  fs.mkdirSync(path.dirname(reportFile));
  const config = path.join(dir, 'autosnap.conf');
  fs.writeFileSync(
    config,
    `[autosnap]\nreport_file = ${reportFile}\nlock_wait = 1\n\n[job daily]\nvmid = 100,101,102,103,104,105\nlabel = daily\n${POLICY_DAILY}\n\n[job hourly]\nvmid = 100\nlabel = hourly\nkeep_hourly = 12\n`,
  );
  const autosnap = (args: string[], env: Record<string, string> = {}) =>
    run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
      env: { TZ: 'UTC', AUTOSNAP_CONFIG: config, AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_LOCK_FILE: path.join(dir, 'run.lock'), AUTOSNAP_NOW: NOW, ...env },
    });
  return {
    dir,
    sim,
    config,
    reportFile,
    autosnap,
    stop: async () => {
      await sim.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
