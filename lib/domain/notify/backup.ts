// What the backup tools report when a vzdump job phase is done: the metrics file of
// [backup] metrics_file (the node exporter's textfile collector) and, when the backup
// server could not be shut down, a notification (type=autosnap-backup). The hook runs as
// a new process for every phase, so what earlier phases saw (the wake-up) is kept in a
// small state file and the metrics file is always written whole.
import { EMPTY_CONFIG, loadConfig, type Config } from '../../core/config.ts';
import { warn } from '../../core/log.ts';
import { writeMetricsFile, type MetricFamily } from '../metrics/textfile.ts';
import { notifySettings } from './notify.ts';
import { notifyRun } from './send-run.ts';
import { readState, writeState } from './state.ts';
import { reportedProblems, type Problem } from '../backup/report.ts';

export const BACKUP_METRICS_STATE = 'backup-metrics.json';

interface BackupState {
  /** job -> unix seconds of its last job-end/job-abort */
  jobEnd?: Record<string, number>;
  /** job -> 1 when its last job-end was an abort */
  jobAborted?: Record<string, number>;
  woken?: { at: number; woken: boolean };
  release?: { at: number; outcome: string };
  /** other nodes' locks that looked crashed at the last job phase that looked */
  staleLocks?: { at: number; count: number };
}

export interface BackupPhase {
  job: string;
  phase: string;
  /** job-init/job-start: whether the server had to be woken */
  woken?: boolean;
  /** job-end/job-abort: what release() did with the server */
  outcome?: string;
}

function backupMetrics(st: BackupState): MetricFamily[] {
  const outcome = st.release?.outcome;
  return [
    { name: 'autosnap_backup_last_job_end_timestamp_seconds', help: 'Unix time a vzdump job last ended on this node (job-end or job-abort).', type: 'gauge', samples: Object.entries(st.jobEnd ?? {}).map(([job, v]) => ({ labels: { job }, value: v })) },
    { name: 'autosnap_backup_last_job_aborted', help: '1 when the last end of the job was job-abort.', type: 'gauge', samples: Object.entries(st.jobAborted ?? {}).map(([job, v]) => ({ labels: { job }, value: v })) },
    { name: 'autosnap_backup_server_woken', help: '1 when the last job start had to wake the backup server.', type: 'gauge', samples: st.woken ? [{ value: st.woken.woken ? 1 : 0 }] : [] },
    { name: 'autosnap_backup_server_woken_timestamp_seconds', help: 'Unix time of the last job start that checked the backup server.', type: 'gauge', samples: st.woken ? [{ value: st.woken.at }] : [] },
    { name: 'autosnap_backup_shutdown_done', help: '1 when the last job end shut the backup server down.', type: 'gauge', samples: outcome ? [{ value: outcome === 'shutdown' ? 1 : 0 }] : [] },
    { name: 'autosnap_backup_shutdown_failed', help: '1 when the last job end tried to shut the backup server down and failed.', type: 'gauge', samples: outcome ? [{ value: outcome === 'failed' ? 1 : 0 }] : [] },
    { name: 'autosnap_backup_stale_locks', help: "Locks of other nodes that looked crashed (older than lock_stale) when a job phase last looked.", type: 'gauge', samples: st.staleLocks ? [{ value: st.staleLocks.count }] : [] },
    { name: 'autosnap_backup_release_outcome', help: 'What the last job end did with the backup server (1 for the outcome that happened).', type: 'gauge', samples: outcome ? [{ labels: { outcome }, value: 1 }] : [] },
  ];
}

/** Called by backup-hook after a job phase; never fails the backup. */
export async function backupPhaseDone(configPath: string | undefined, p: BackupPhase): Promise<void> {
  try {
    const config = loadConfig({ config: configPath });
    const st = readState<BackupState>(BACKUP_METRICS_STATE, {});
    const now = Math.floor(Date.now() / 1000);
    if (p.woken !== undefined) st.woken = { at: now, woken: p.woken };
    if (p.outcome !== undefined) {
      st.jobEnd = { ...st.jobEnd, [p.job]: now };
      st.jobAborted = { ...st.jobAborted, [p.job]: p.phase === 'job-abort' ? 1 : 0 };
      st.release = { at: now, outcome: p.outcome };
    }
    // what the hook's own bookkeeping raised in this phase (lib/domain/backup/report.ts, its one
    // place for problems): crashed locks of other nodes, files it could not write, a
    // server it may have left running
    const problems: readonly Problem[] = reportedProblems();
    // a phase may look at the locks more than once: each lock counts once (by its file name)
    const stale = new Set(problems.filter((x) => x.kind === 'foreign-lock').map((x) => /^stale lock (\S+):/.exec(x.message)?.[1] ?? x.message));
    if (p.phase !== 'job-init') st.staleLocks = { at: now, count: stale.size };
    writeState(BACKUP_METRICS_STATE, st);
    const file = config.get('backup', 'metrics_file');
    if (file) writeMetricsFile(file, backupMetrics(st));
    if (p.outcome !== 'failed' && p.phase !== 'job-abort') await notifyBackupProblems(config, p.phase, p.job);
    if (p.outcome === 'failed' || p.phase === 'job-abort') {
      await notifyRun(
        {
          type: 'autosnap-backup',
          what: p.phase,
          jobs: [p.job],
          exitCode: 1,
          summary: p.outcome === 'failed' ? 'the backup server could not be shut down after the last job ended (see the backup log)' : 'vzdump aborted the job',
          failures: [p.outcome === 'failed' ? `shutdown of the backup server failed (release: ${p.outcome})` : `job ${p.job} aborted`],
          longSkipped: [],
          notes: [],
        },
        notifySettings(config),
      );
    }
  } catch (e) {
    warn(`backup report not written: ${(e as Error).message}`);
  }
}

/**
 * A warning notification for what the hook's own bookkeeping raised in this phase
 * (lib/domain/backup/report.ts): crashed locks of other nodes, files it could not write, a config
 * it could not read, a server it may leave running. The backups themselves are good, so
 * the phase still exits 0; this is how the admin hears of it the same day. `config` is
 * undefined when the config itself could not be read: the defaults then decide (mode
 * failure, PVE::Notify on a node).
 */
export async function notifyBackupProblems(config: Config | undefined, phase: string, job: string | undefined): Promise<void> {
  const seen = new Set<string>();
  const worth = reportedProblems().filter((x) => x.kind !== 'own-lock-removed' && !seen.has(x.message) && Boolean(seen.add(x.message)));
  if (!worth.length) return;
  try {
    await notifyRun(
      {
        type: 'autosnap-backup',
        what: phase,
        jobs: job ? [job] : [],
        exitCode: 0,
        summary: `${phase}: the backups are not affected, but the hook met ${worth.length} problem${worth.length === 1 ? '' : 's'}`,
        failures: [],
        longSkipped: worth.map((x) => `${x.what}: ${x.message}`),
        notes: [],
        warningsAre: { title: `${worth.length} backup hook problem${worth.length === 1 ? '' : 's'}`, heading: 'Problems:' },
      },
      notifySettings(config ?? EMPTY_CONFIG),
    );
  } catch (e) {
    warn(`notification not sent: ${(e as Error).message}`);
  }
}
