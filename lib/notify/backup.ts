// What the backup tools report when a vzdump job phase is done: the metrics file of
// [backup] metrics_file (the node exporter's textfile collector) and, when the backup
// server could not be shut down, a notification (type=autosnap-backup). The hook runs as
// a new process for every phase, so what earlier phases saw (the wake-up) is kept in a
// small state file and the metrics file is always written whole.
import { loadConfig } from '../cli/config.ts';
import { warn } from '../cli/log.ts';
import { writeMetricsFile, type MetricFamily } from '../metrics/textfile.ts';
import { notifySettings } from './notify.ts';
import { notifyRun } from './send-run.ts';
import { readState, writeState } from './state.ts';

export const BACKUP_METRICS_STATE = 'backup-metrics.json';

interface BackupState {
  /** job -> unix seconds of its last job-end/job-abort */
  jobEnd?: Record<string, number>;
  /** job -> 1 when its last job-end was an abort */
  jobAborted?: Record<string, number>;
  woken?: { at: number; woken: boolean };
  release?: { at: number; outcome: string };
}

export interface BackupPhase {
  job: string;
  phase: string;
  /** job-init/job-start: whether the server had to be woken */
  woken?: boolean;
  /** job-end/job-abort: what release() did with the server */
  outcome?: string;
}

export function backupMetrics(st: BackupState): MetricFamily[] {
  const outcome = st.release?.outcome;
  return [
    { name: 'autosnap_backup_last_job_end_timestamp_seconds', help: 'Unix time a vzdump job last ended on this node (job-end or job-abort).', type: 'gauge', samples: Object.entries(st.jobEnd ?? {}).map(([job, v]) => ({ labels: { job }, value: v })) },
    { name: 'autosnap_backup_last_job_aborted', help: '1 when the last end of the job was job-abort.', type: 'gauge', samples: Object.entries(st.jobAborted ?? {}).map(([job, v]) => ({ labels: { job }, value: v })) },
    { name: 'autosnap_backup_server_woken', help: '1 when the last job start had to wake the backup server.', type: 'gauge', samples: st.woken ? [{ value: st.woken.woken ? 1 : 0 }] : [] },
    { name: 'autosnap_backup_server_woken_timestamp_seconds', help: 'Unix time of the last job start that checked the backup server.', type: 'gauge', samples: st.woken ? [{ value: st.woken.at }] : [] },
    { name: 'autosnap_backup_shutdown_done', help: '1 when the last job end shut the backup server down.', type: 'gauge', samples: outcome ? [{ value: outcome === 'shutdown' ? 1 : 0 }] : [] },
    { name: 'autosnap_backup_shutdown_failed', help: '1 when the last job end tried to shut the backup server down and failed.', type: 'gauge', samples: outcome ? [{ value: outcome === 'failed' ? 1 : 0 }] : [] },
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
    writeState(BACKUP_METRICS_STATE, st);
    const file = config.get('backup', 'metrics_file');
    if (file) writeMetricsFile(file, backupMetrics(st));
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
