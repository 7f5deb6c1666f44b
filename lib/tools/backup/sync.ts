// backup-sync: mirror configured local directories to the backup server with rsync, under
// a lock of its own so no node shuts the server down while it runs.
import fs from 'node:fs';
import path from 'node:path';
import { AppError, UsageError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { COMMON_HELP, runBackupTool } from './cli.ts';
import { need, type BackupConfig } from '../../domain/backup/config.ts';
import { acquire, release, type ReleaseOptions } from '../../domain/backup/coordinator.ts';
import { sshOptions } from '../../domain/backup/ssh.ts';
import { lastLine, runCommand } from '../../domain/backup/storage.ts';

const HELP = `Usage: backup-sync [--dry-run] [--shutdown auto|yes|no]

Mirrors sync_dirs to <sync_target>/<node>/ on the backup server (rsync -a --delete
--relative, over SSH, or into the mounted storage with sync_via = mount); with
sync_layout = role to <sync_target>/<node>-backup/<basename> (with --delete-excluded). Wakes the server
first if needed and holds the lock <node>.sync.lock while rsync runs. Each run writes its
own log under sync_log_dir; only the newest sync_log_keep are kept. The run ends with a
size line: files, total size, bytes transferred.
Afterwards the server is shut down like after a backup job when no lock is left:
auto (default, sync_shutdown) only if this run had to wake it, or a backup job ended
while it ran and left the shutdown to it (shutdown.wanted); yes always; no never.
  --dry-run       rsync --dry-run: show what would change, change nothing
${COMMON_HELP}`;

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');

/**
 * rsync's command line; pure, so the tests can read it. Layout node: every node mirrors
 * into <target>/<node>/ with full paths (--relative). Layout role (the Ansible role's):
 * <target>/<node>-backup/<basename of each dir>.
 */
export function rsyncArgv(cfg: BackupConfig, logFile: string, dryRun: boolean): string[] {
  const target = need(cfg.syncTarget, 'sync_target', cfg);
  const role = cfg.syncLayout === 'role';
  const argv = [cfg.rsyncPath, '-a', '--delete', ...(cfg.syncDeleteExcluded ? ['--delete-excluded'] : []), ...(role ? [] : ['--relative']), '--mkpath', '--stats', '--itemize-changes', `--log-file=${logFile}`];
  if (dryRun) argv.push('--dry-run');
  argv.push(...cfg.syncRsyncOptions);
  if (cfg.syncVia === 'ssh') {
    // rsync splits -e on blanks itself; our option values hold no blanks (checked in config)
    argv.push('-e', [cfg.sshPath, ...sshOptions(cfg)].join(' '));
  }
  // without a trailing slash rsync copies the directory itself: /etc/pve -> <dest>/pve
  argv.push(...cfg.syncDirs.map((d) => d.replace(/\/+$/, '') || '/'));
  const base = cfg.syncVia === 'mount' && !path.isAbsolute(target) ? need(cfg.mountPoint, 'mount_point', cfg) : '';
  const dest = path.posix.join(base, target, role ? `${cfg.node}-backup` : cfg.node) + '/';
  argv.push(cfg.syncVia === 'ssh' ? `${cfg.sshUser}@${need(cfg.server, 'server', cfg)}:${dest}` : dest);
  return argv;
}

/** The size line of a run, from rsync's --stats; undefined when the numbers are not there. */
export function sizeReport(stats: string): string | undefined {
  const num = (label: string) => {
    // LANG=C: thousands separated by commas
    const m = new RegExp(`^${label}: ([\\d,]+)`, 'm').exec(stats);
    return m ? Number(m[1].replace(/,/g, '')) : undefined;
  };
  const files = num('Number of files');
  const total = num('Total file size');
  const sent = num('Total transferred file size');
  if (total === undefined || sent === undefined) return undefined;
  return `${files ?? '?'} files, ${bytes(total)} in total, ${bytes(sent)} transferred`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** What the end of a sync asks of release(); pure, so the tests can read it. */
export function syncShutdown(shutdownOn: boolean, policy: string, woken: boolean): ReleaseOptions {
  if (!shutdownOn) return { shutdown: false, offReason: 'shutdown of the backup server is off (shutdown = no)' };
  if (policy === 'no') return { shutdown: false, offReason: 'sync_shutdown is no' };
  if (policy === 'yes' || woken) return { shutdown: true };
  // auto, and the server was up already: someone else woke it for a reason of their own,
  // unless a backup job ended during the sync and left the shutdown to us
  return { shutdown: 'if-wanted' };
}

/** Keep the newest `keep` per-run logs; older ones are removed (names sort by time). */
export function pruneLogs(dir: string, keep: number): string[] {
  const logs = fs.readdirSync(dir).filter((n) => /^sync-\d{8}-\d{6}Z(-\d+)?\.log$/.test(n)).sort();
  const old = logs.slice(0, Math.max(0, logs.length - keep));
  for (const n of old) fs.rmSync(path.join(dir, n), { force: true });
  return old;
}

export async function syncMain(argv: string[]): Promise<number> {
  return runBackupTool('backup-sync', argv, { string: ['shutdown'], boolean: ['dry-run'] }, HELP, 'stderr', async ({ args, cfg }) => {
    if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
    if (!cfg.syncDirs.length) throw new UsageError(`${cfg.source} [backup]: 'sync_dirs' is not set`);
    need(cfg.syncTarget, 'sync_target', cfg);
    for (const d of cfg.syncDirs) if (!fs.existsSync(d)) throw new UsageError(`sync_dirs: ${d} does not exist`);
    const policy = typeof args.shutdown === 'string' && args.shutdown ? args.shutdown : cfg.syncShutdown;
    if (!['auto', 'yes', 'no'].includes(policy)) throw new UsageError(`--shutdown: '${policy}' is not auto, yes or no`);
    try {
      fs.mkdirSync(cfg.syncLogDir, { recursive: true, mode: 0o750 });
    } catch (e: any) {
      throw new AppError(`cannot create sync log directory ${cfg.syncLogDir}: ${e.code ?? e.message}`);
    }
    const logFile = path.join(cfg.syncLogDir, `sync-${stamp(new Date())}-${process.pid}.log`);
    const got = await acquire(cfg, 'sync', 'sync', process.pid);
    let failure: AppError | undefined;
    try {
      const argvR = rsyncArgv(cfg, logFile, Boolean(args['dry-run']));
      info(`sync: ${cfg.syncDirs.join(' ')} -> ${argvR[argvR.length - 1]} (log ${logFile})`);
      const fd = fs.openSync(logFile, 'a', 0o640);
      let r;
      try {
        r = await runCommand(argvR, 24 * 3_600_000, fd);
      } finally {
        fs.closeSync(fd);
      }
      const tail = lastLine(fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => !/^\d{4}\/\d\d\/\d\d /.test(l)).join('\n'));
      // 24: files vanished while copying, normal for live directories
      if (r.code === 24) warn(`sync: some files vanished during the copy (rsync 24); see ${logFile}`);
      else if (r.code !== 0) failure = new AppError(`rsync exited ${r.code}${tail ? ': ' + tail : ''} (see ${logFile})`);
      else info(`sync: done`);
      const size = sizeReport(fs.readFileSync(logFile, 'utf8'));
      if (size) info(`sync: ${size}`);
    } finally {
      await release(cfg, 'sync', 'sync', syncShutdown(cfg.shutdown, policy, got.up.woken), process.pid);
      const pruned = pruneLogs(cfg.syncLogDir, cfg.syncLogKeep);
      if (pruned.length) info(`sync: removed ${pruned.length} old sync log${pruned.length === 1 ? '' : 's'} (sync_log_keep ${cfg.syncLogKeep})`);
    }
    if (failure) throw failure;
    return 0;
  });
}
