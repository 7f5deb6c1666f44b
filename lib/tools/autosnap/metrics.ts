// autosnap's metrics file (--metrics-file, [autosnap] metrics_file) for the node exporter's
// textfile collector: per guest and label the newest snapshot's time and the number of
// snapshots after the run; per run its end, duration, counts and exit code. An alert such
// as `time() - autosnap_snapshot_newest_timestamp_seconds > 7200` then needs no plugin.
import type { MetricFamily } from '../../domain/metrics/textfile.ts';
import type { GuestOutcome } from '../../domain/guest-snapshots/executor.ts';
import type { Job } from './jobs.ts';

export interface RunMetrics {
  command: string;
  outcomes: Array<{ job: Job; outcome: GuestOutcome }>;
  /** every job of the run, so a job without a guest still shows zeros */
  jobs: string[];
  started: number;
  ended: number;
  exitCode: number;
  /**
   * false for the cleaning-only runs that write beside the main file: the node exporter
   * merges every *.prom file, so the same guest series in both would be duplicates, and a
   * daily clean's values would look hours old to an alert on the newest snapshot
   */
  guestSeries?: boolean;
}

const labelOf = (job: Job) => (job.kind === 'intraday' ? 'intraday' : job.label);

/** A guest's snapshots of the job after the run, from what the run planned and did. */
function remaining(o: GuestOutcome): Array<{ snapshot: string; snaptime?: number }> {
  return o.plan.filter(
    (r) =>
      r.action === 'keep' ||
      r.action === 'exists' ||
      (r.action === 'create' && o.created.includes(r.snapshot)) ||
      (r.action === 'remove' && !o.removed.includes(r.snapshot)),
  );
}

export function autosnapMetrics(m: RunMetrics): MetricFamily[] {
  const newest: MetricFamily = { name: 'autosnap_snapshot_newest_timestamp_seconds', help: "Unix time of the guest's newest snapshot of the label after the last run.", type: 'gauge', samples: [] };
  const count: MetricFamily = { name: 'autosnap_snapshots', help: 'Snapshots of the label the guest has after the last run.', type: 'gauge', samples: [] };
  for (const { job, outcome } of m.guestSeries === false ? [] : m.outcomes) {
    // a guest skipped or failed before its snapshots were read has nothing to report
    if (!outcome.plan.length) continue;
    const left = remaining(outcome);
    const labels = { vmid: outcome.guest.vmid, node: outcome.guest.node, label: labelOf(job), job: job.name };
    count.samples.push({ labels, value: left.length });
    const times = left.map((s) => s.snaptime).filter((t): t is number => typeof t === 'number');
    if (times.length) newest.samples.push({ labels, value: Math.max(...times) });
  }
  const per = (name: string, help: string, pick: (o: GuestOutcome) => number): MetricFamily => ({
    name,
    help,
    type: 'gauge',
    samples: m.jobs.map((j) => ({ labels: { command: m.command, job: j }, value: m.outcomes.filter((o) => o.job.name === j).reduce((n, o) => n + pick(o.outcome), 0) })),
  });
  const run = { command: m.command };
  return [
    newest,
    count,
    { name: 'autosnap_last_run_end_timestamp_seconds', help: 'Unix time the last run ended.', type: 'gauge', samples: [{ labels: run, value: Math.round(m.ended / 1000) }] },
    { name: 'autosnap_last_run_duration_seconds', help: 'How long the last run took.', type: 'gauge', samples: [{ labels: run, value: Number(((m.ended - m.started) / 1000).toFixed(3)) }] },
    { name: 'autosnap_last_run_exit_code', help: 'Exit code of the last run (0 fine, 1 some guest failed, 3 cluster unreachable).', type: 'gauge', samples: [{ labels: run, value: m.exitCode }] },
    per('autosnap_last_run_created', 'Snapshots the last run created.', (o) => o.created.length),
    per('autosnap_last_run_removed', 'Snapshots the last run removed.', (o) => o.removed.length),
    per('autosnap_last_run_skipped', 'Guests the last run skipped (lock, full storage, hook veto).', (o) => (o.status === 'skipped' ? 1 : 0)),
    per('autosnap_last_run_failed', 'Guests the last run failed on.', (o) => (o.status === 'failed' ? 1 : 0)),
  ];
}
