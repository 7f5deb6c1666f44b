// The end of an autosnap run that changed something (snap, clean, run): count the guests
// skipped run after run, and tell the admin what needs telling (lib/domain/notify).
import type { GuestOutcome } from '../../domain/guest-snapshots/executor.ts';
import type { NotifySettings } from '../../domain/notify/notify.ts';
import { notifyRun } from '../../domain/notify/send-run.ts';
import { warn } from '../../core/log.ts';
import { writeMetricsFile } from '../../domain/metrics/textfile.ts';
import { autosnapMetrics } from './metrics.ts';
import { nextSkipCounts, readState, writeState, type SkipCounts } from '../../domain/notify/state.ts';
import type { Job } from './jobs.ts';
import type { Invocation } from './options.ts';

export interface RunRecord {
  outcomes: Array<{ job: Job; outcome: GuestOutcome }>;
  summary: string;
  started: number;
}

const SKIPS_STATE = 'skips.json';

const guestName = (o: GuestOutcome) => `${o.guest.vmid}${o.guest.name ? ` ${o.guest.name}` : ''}`;

export async function finishRun(inv: Invocation, jobs: Job[], r: RunRecord, exitCode: number, notify: NotifySettings, metricsFile: string | undefined, fatal?: string, guestSeries = true): Promise<void> {
  const what = inv.cleanOnly ? 'clean' : inv.command;
  if (metricsFile) {
    try {
      writeMetricsFile(metricsFile, autosnapMetrics({ command: what, outcomes: r.outcomes, jobs: [...new Set(jobs.map((j) => j.name))], started: r.started, ended: Date.now(), exitCode, guestSeries }));
    } catch (e) {
      warn(`metrics file ${metricsFile} not written: ${(e as Error).message}`);
    }
  }
  const key = (job: Job, o: GuestOutcome) => `${job.name}/${o.guest.vmid}`;
  const prev = readState<SkipCounts>(SKIPS_STATE, {});
  const counts = nextSkipCounts(
    prev,
    r.outcomes.map(({ job, outcome }) => ({ key: key(job, outcome), skipped: outcome.status === 'skipped' })),
  );
  writeState(SKIPS_STATE, counts);
  const failures = r.outcomes.filter((o) => o.outcome.status === 'failed').map(({ job, outcome }) => `job ${job.name}: ${guestName(outcome)}: ${outcome.reason ?? 'failed'}`);
  if (fatal) failures.push(fatal);
  const longSkipped: string[] = [];
  const notes: string[] = [];
  for (const { job, outcome } of r.outcomes) {
    if (outcome.status !== 'skipped') continue;
    const n = counts[key(job, outcome)] ?? 0;
    const line = `job ${job.name}: ${guestName(outcome)}: ${outcome.reason ?? 'skipped'}`;
    if (n >= notify.skippedRuns) longSkipped.push(`${line} (${n} runs in a row)`);
    else notes.push(line);
  }
  await notifyRun(
    {
      type: 'autosnap',
      what,
      jobs: [...new Set(jobs.map((j) => j.name))],
      exitCode,
      summary: r.summary || `autosnap ${what}: ended before any guest was handled`,
      failures,
      longSkipped,
      notes,
    },
    notify,
  );
}
