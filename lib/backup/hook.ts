// backup-hook: vzdump's `script:`. Job phases wake the server and take this job's lock
// (job-init, job-start) or release it and shut the server down when last (job-end,
// job-abort); guest phases are logged.
import { UsageError } from '../cli/errors.ts';
import { info, warn } from '../cli/log.ts';
import { COMMON_HELP, runBackupTool } from './cli.ts';
import { checkName } from './config.ts';
import { acquire, release } from './coordinator.ts';
import { backupPhaseDone } from '../notify/backup.ts';

const HELP = `Usage: backup-hook PHASE [MODE VMID]

Set it as vzdump's hook script in /etc/vzdump.conf (or --script on one job), at the path
the install made; vzdump refuses to start a backup when that file does not exist:
  script: /usr/local/sbin/backup-hook     installed with install.sh
  script: /usr/sbin/backup-hook           installed from the .deb package

vzdump calls it for every phase:
  job-init, job-start    wake the backup server if it does not answer, check the backup
                         storage is mounted and writable, take this job's lock
                         <node>.<job>.<vzdump pid>.lock (the second of the two finds the
                         lock and neither wakes nor locks again)
  job-end, job-abort     release this job's lock; when no lock is left, wait shutdown_delay,
                         look again, and shut the backup server down over SSH; when only
                         backup-sync runs keep it up, leave the shutdown to the last of
                         them (shutdown.wanted in lock_dir)
  backup-start, backup-end, backup-abort, pre-stop, pre-restart, post-restart, log-end
                         logged only
Options:
  --job NAME      lock name part for this job (default vzdump); the lock belongs to the
                  hook's parent process, so a wrapper script must 'exec' backup-hook
${COMMON_HELP}`;

const JOB_PHASES = new Set(['job-init', 'job-start', 'job-end', 'job-abort']);
const GUEST_PHASES = new Set(['backup-start', 'backup-end', 'backup-abort', 'pre-stop', 'pre-restart', 'post-restart', 'log-end']);

export async function hookMain(argv: string[]): Promise<number> {
  return runBackupTool('backup-hook', argv, { string: ['job'] }, HELP, 'stdout', async ({ args, cfg }) => {
    const [phase, mode, vmid] = args._.map(String);
    if (!phase) throw new UsageError('missing phase (vzdump calls: backup-hook PHASE [MODE VMID])');
    const job = checkName(typeof args.job === 'string' && args.job ? args.job : 'vzdump', '--job');
    // a lock named 'sync' counts as backup-sync's, which a backup job's end hands over to
    if (job === 'sync') throw new UsageError("--job: 'sync' is the name backup-sync's lock uses; choose another");
    const env = process.env;
    if (GUEST_PHASES.has(phase)) {
      const guest = [env.VMTYPE, vmid, env.HOSTNAME ? `(${env.HOSTNAME})` : ''].filter(Boolean).join(' ');
      info(`${phase}: guest ${guest || '?'} mode ${mode ?? '?'}${env.TARGET ? ' target ' + env.TARGET : ''}`);
      return 0;
    }
    if (!JOB_PHASES.has(phase)) {
      // a phase from a newer vzdump must not fail a backup
      warn(`unknown phase '${phase}' ignored`);
      return 0;
    }
    info(`${phase}: node ${cfg.node}${env.STOREID ? ' storage ' + env.STOREID : ''}${env.DUMPDIR ? ' dumpdir ' + env.DUMPDIR : ''}`);
    if (phase === 'job-init' || phase === 'job-start') {
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
  });
}
