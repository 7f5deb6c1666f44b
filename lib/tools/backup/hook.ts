// backup-hook: vzdump's `script:`. job-init wakes the server; job-start wakes it if need
// be and takes this job's lock; job-end and job-abort release it and shut the server down
// when last; guest phases are logged.
//
// vzdump's control flow (pve-manager, PVE/VZDump.pm and PVE/API2/VZDump.pm, read at
// commit 14a22df35955d97dfc1af21e117dc894a29df0c9):
//  - job-init runs in PVE::VZDump->new() (VZDump.pm l. 677-683), before the storage is
//    activated (l. 687-690) and before API2/VZDump.pm takes the node's vzdump lock
//    (getlock, l. 140, which may time out): when any of these fails vzdump dies without
//    job-abort. So job-init only wakes; a lock taken there could be left for good.
//  - job-start, the guests and job-end run in one eval in exec_backup (l. 1437-1449); any
//    of them dying runs job-abort (l. 1458). job-start is the first phase whose end or
//    abort is guaranteed: the lock is taken there.
//  - a failing job-end fails the job ("Backup job failed", l. 1460) and runs job-abort: a
//    night whose guests all succeeded would be reported as failed. job-end and job-abort
//    therefore never exit non-zero (a problem is reported, see report.ts).
//  - guest phases run in exec_backup_task's eval (l. 1116-1195): a failure there fails
//    that guest; backup-abort and log-end only warn (l. 1351, 1385). They are logged to
//    the task log (stdout) only, without reading the config: a config edited while a job
//    runs must not fail the next guest, and vzdump calls them about 7 times per guest.
import { UsageError } from '../../core/errors.ts';
import { info } from '../../core/log.ts';
import { escapeLine } from '../../core/escape.ts';
import { writeOut } from '../../core/stdio.ts';
import { COMMON_HELP, runBackupTool } from './cli.ts';
import { checkName } from '../../domain/backup/config.ts';
import { acquire, ensureServerUp, release } from '../../domain/backup/coordinator.ts';
import { ensureStorage } from '../../domain/backup/storage.ts';
import { backupPhaseDone } from '../../domain/notify/backup.ts';

const HELP = `Usage: backup-hook PHASE [MODE VMID]

Set it as vzdump's hook script in /etc/vzdump.conf (or --script on one job), at the path
the install made; vzdump refuses to start a backup when that file does not exist:
  script: /usr/local/sbin/backup-hook     installed with install.sh
  script: /usr/sbin/backup-hook           installed from the .deb package

vzdump calls it for every phase:
  job-init               wake the backup server if it does not answer, check the backup
                         storage is mounted and writable (no lock: vzdump may still give
                         up before job-start without calling job-end or job-abort)
  job-start              the same, then take this job's lock <node>.<job>.<vzdump pid>.lock
  job-end, job-abort     release this job's lock; when no lock is left, wait shutdown_delay,
                         look again, and shut the backup server down over SSH; when only
                         backup-sync runs keep it up, leave the shutdown to the last of
                         them (shutdown.wanted in lock_dir). Always exit 0: a problem here
                         is a warning, never a failed backup job
  backup-start, backup-end, backup-abort, pre-stop, pre-restart, post-restart, log-end
                         one line to the task log; the config is not read
Options:
  --job NAME      lock name part for this job (default vzdump); the lock belongs to the
                  hook's parent process, so a wrapper script must 'exec' backup-hook
${COMMON_HELP}`;

const JOB_PHASES = new Set(['job-init', 'job-start', 'job-end', 'job-abort']);
const GUEST_PHASES = new Set(['backup-start', 'backup-end', 'backup-abort', 'pre-stop', 'pre-restart', 'post-restart', 'log-end']);
const END_PHASES = new Set(['job-end', 'job-abort']);

function phaseOf(args: { _: unknown[] }): string {
  const phase = args._.length ? String(args._[0]) : '';
  if (!phase) throw new UsageError('missing phase (vzdump calls: backup-hook PHASE [MODE VMID])');
  return phase;
}

export async function hookMain(argv: string[]): Promise<number> {
  return runBackupTool(
    'backup-hook',
    argv,
    { string: ['job'] },
    HELP,
    'stdout',
    async ({ args, cfg }) => {
      const phase = phaseOf(args);
      const job = jobOf(args.job);
      const env = process.env;
      info(`${phase}: node ${cfg.node}${env.STOREID ? ' storage ' + env.STOREID : ''}${env.DUMPDIR ? ' dumpdir ' + env.DUMPDIR : ''}`);
      if (phase === 'job-init') {
        // no lock here: see the head of this file
        const up = await ensureServerUp(cfg, phase);
        await ensureStorage(cfg, phase);
        await backupPhaseDone(args.config as string | undefined, { job, phase, woken: up.woken });
        return 0;
      }
      if (phase === 'job-start') {
        // vzdump is our parent and calls every phase of one job: its pid names the job's
        // lock, so two jobs running at once on this node hold two locks
        const got = await acquire(cfg, job, phase, process.ppid);
        if (!got.adopted) await backupPhaseDone(args.config as string | undefined, { job, phase, woken: got.up.woken });
        return 0;
      }
      const outcome = await release(cfg, job, phase, { shutdown: cfg.shutdown }, process.ppid);
      await backupPhaseDone(args.config as string | undefined, { job, phase, outcome });
      // a server left running is reported as a warning; the backups themselves are good
      return 0;
    },
    {
      beforeConfig: (args) => {
        const phase = phaseOf(args);
        jobOf(args.job);
        if (GUEST_PHASES.has(phase)) {
          const env = process.env;
          const [, mode, vmid] = args._.map(String);
          const guest = [env.VMTYPE, vmid, env.HOSTNAME ? `(${env.HOSTNAME})` : ''].filter(Boolean).join(' ');
          // straight to stdout, vzdump's task log: no log file, no logger process
          // escaped: the phase, the guest's name and the target are outside text, one line each
          writeOut(`${escapeLine(`${phase}: guest ${guest || '?'} mode ${mode ?? '?'}${env.TARGET ? ' target ' + env.TARGET : ''}`)}\n`);
          return 0;
        }
        if (!JOB_PHASES.has(phase)) {
          // a phase from a newer vzdump must not fail a backup
          writeOut(`warning: unknown phase '${escapeLine(phase)}' ignored\n`);
          return 0;
        }
        return undefined;
      },
      mustNotFail: (args) => (END_PHASES.has(String(args._[0])) ? String(args._[0]) : undefined),
    },
  );
}

function jobOf(value: unknown): string {
  const job = checkName(typeof value === 'string' && value ? value : 'vzdump', '--job');
  // a lock named 'sync' counts as backup-sync's, which a backup job's end hands over to
  if (job === 'sync') throw new UsageError("--job: 'sync' is the name backup-sync's lock uses; choose another");
  return job;
}
