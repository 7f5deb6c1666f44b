// The commands that run jobs: snap, clean, run, plan and report. Their jobs are decided
// and checked before any connection, the run lock taken (none for a dry run), and a real
// run ends with its notification and metrics (finish.ts). Loaded only for these commands:
// status, check and notify never evaluate the run's code, hooks or notification senders.
import { connect } from '../../cli/connect.ts';
import type { Config } from '../../core/config.ts';
import { errorLine, exitCodeOf, UsageError } from '../../core/errors.ts';
import { info } from '../../core/log.ts';
import { parseSelector } from '../../domain/guests/selector.ts';
import { checkHook } from '../../domain/guest-snapshots/hooks.ts';
import { defaultJob, jobFromCli, jobsFromConfig, type Job } from './jobs.ts';
import { OptionSource, type Invocation, type RunSettings } from './options.ts';
import { acquireRunLock, DEFAULT_LOCK_FILE } from './runlock.ts';
import { checkReportFile } from '../../domain/report/write.ts';
import { notifySettings } from '../../domain/notify/notify.ts';
import { checkMetricsPath } from '../../domain/metrics/textfile.ts';
import { finishRun, type RunRecord } from './finish.ts';
import { runJobs } from './run.ts';

/** The jobs a command works on. */
export function jobsFor(inv: Invocation, src: OptionSource): Job[] {
  const { command } = inv;
  if (command === 'snap' || command === 'clean') return [jobFromCli(src, { requireLabel: true, requirePolicy: true })!];
  const cli = jobFromCli(src, { requireLabel: false, requirePolicy: command === 'run' });
  if (cli) return [cli];
  let jobs = jobsFromConfig(src.config, src);
  const only = src.str('job');
  if (only !== undefined) {
    const names = only.split(',').map((n) => n.trim().toLowerCase());
    for (const n of names) {
      if (!jobs.some((j) => j.name.toLowerCase() === n)) {
        throw new UsageError(`--job: no job '${n}' in ${src.config.path ?? 'the config'}${jobs.length ? ` (jobs: ${jobs.map((j) => j.name).join(', ')})` : ''}`);
      }
    }
    jobs = jobs.filter((j) => names.includes(j.name.toLowerCase()));
  }
  return jobs.length ? jobs : [defaultJob(src)];
}

/**
 * snap, clean, run, plan and report: the jobs run under the run lock (none for a dry
 * run), and a real run ends with its notification and metrics, even one that failed.
 */
export async function runCommand(inv: Invocation, src: OptionSource, config: Config, s: RunSettings): Promise<number> {
  const jobs = jobsFor(inv, src);
  checkJobs(inv, src, jobs);
  const notify = notifySettings(config);
  const metricsText = src.str('metrics-file');
  let metricsFile = metricsText === undefined ? undefined : checkMetricsPath(metricsText, src.where('metrics-file'));
  // one file per timer: the cleaning-only runs must not replace the snapshot runs' samples
  const beside = Boolean(metricsFile && !inv.typed.has('metrics-file') && (inv.cleanOnly || inv.command === 'clean'));
  if (beside) metricsFile = metricsFile!.replace(/\.prom$/, '-clean.prom');
  const dry = s.dryRun || inv.command === 'plan' || inv.command === 'report';
  const lock = dry
    ? undefined
    : await acquireRunLock(src.str('lock-file') ?? process.env.AUTOSNAP_LOCK_FILE ?? DEFAULT_LOCK_FILE, {
        wait: src.bool('wait'),
        onWait: (pid) => info(`waiting for the run of pid ${pid} to end`),
      });
  const release = () => lock?.release();
  const onSignal = (sig: NodeJS.Signals) => {
    release();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const record: RunRecord = { outcomes: [], summary: '', started: Date.now() };
  // the run's end (notification, metrics) is news even when it could not start
  const finish = (code: number, error?: string) => (dry ? undefined : finishRun(inv, jobs, record, code, notify, metricsFile, error, !beside));
  try {
    let code: number;
    try {
      const client = await connect(inv.args, config);
      try {
        code = await runJobs(client, inv, jobs, s, record);
      } finally {
        await client.close();
      }
    } catch (e) {
      // a run that could not even start (cluster unreachable, lost privilege) is news too
      await finish(exitCodeOf(e), errorLine(e));
      throw e;
    }
    await finish(code);
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
  }
}

/** What can be refused before any connection: selectors, `--keep 0`, hooks, page files. */
function checkJobs(inv: Invocation, src: OptionSource, jobs: Job[]): void {
  for (const job of jobs) parseSelector(job.selector);
  if (inv.command === 'snap' || (inv.command === 'run' && !inv.cleanOnly)) for (const job of jobs) refuseKeepZero(job, src);
  // a hook that cannot run would make every guest "skipped" with exit 0: refuse it now
  for (const job of jobs) if (job.script) checkHook(job.script, job.scriptFrom ?? '--script');
  // a page file that cannot be written is said before the run, not after its work
  for (const job of jobs) if (job.reportFile) checkReportFile(job.reportFile, src.withSection(`job ${job.name}`).where(src.str('html') ? 'html' : 'report-file'));
  if (inv.command === 'report' && !jobs.some((j) => j.reportFile)) throw new UsageError('report: no page file (give --html FILE, or report_file in the config)');
}

/**
 * A job that creates keeps at least its new snapshot: `snap --keep 0` is refused, as
 * cv4pve-autosnap refuses it (`clean --keep 0` removes every snapshot of the label).
 */
function refuseKeepZero(job: Job, src: OptionSource): void {
  if (job.policy.kind !== 'count' || job.policy.keep !== 0) return;
  const where = job.name === 'cli' ? '--keep' : `${src.config.path ?? 'config'} [job ${job.name}] keep`;
  throw new UsageError(`${where}: 0 would remove the snapshot this run makes; keep at least 1 (clean --keep 0 removes them all)`);
}

