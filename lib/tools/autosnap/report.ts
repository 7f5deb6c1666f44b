// Tables and JSON shapes of the autosnap reports: the plan (plan, --dry-run), the
// per-guest outcomes of a run (-o json and friends) and the closing summary line.
import type { Column } from '../../core/output.ts';
import { formatLocal } from '../../domain/retention/localtime.ts';
import type { GuestOutcome, PlanRow } from '../../domain/guest-snapshots/executor.ts';
import type { GuestRef } from '../../domain/guests/types.ts';

export interface Totals {
  created: number;
  removed: number;
  skipped: number;
  failed: number;
}

/** ISO 8601 with the zone's offset: `2025-05-16T09:15:00+02:00`. */
export function isoLocal(snaptime: number | undefined, tz: string): string {
  if (snaptime === undefined) return '';
  const t = formatLocal(snaptime, tz);
  return `${t.slice(0, 10)}T${t.slice(11, 19)}${t.slice(20)}`;
}

export function planColumns(tz: string, withJob: boolean): Column<PlanRow>[] {
  const cols: Column<PlanRow>[] = [
    { header: 'NODE', get: (r) => r.node },
    { header: 'VM', get: (r) => r.vmid, align: 'right' },
    { header: 'GUEST', get: (r) => r.vmname },
    { header: 'SNAPSHOT', get: (r) => r.snapshot },
    { header: 'TIME', get: (r) => (r.snaptime === undefined ? '' : formatLocal(r.snaptime, tz).slice(0, 19)) },
    { header: 'ACTION', get: (r) => r.action },
    { header: 'REASON', get: (r) => r.reason },
  ];
  if (withJob) cols.unshift({ header: 'JOB', get: (r) => r.job });
  return cols;
}

/**
 * The plan's JSON: one object per snapshot, guests in vmid order, snapshots newest first
 * (a snapshot to be created comes first):
 * `{job, node, vmid, vmname, snapshot, snaptime, time, action, reason}`.
 */
export function planJson(rows: PlanRow[], tz: string): unknown {
  return rows.map((r) => ({
    job: r.job,
    node: r.node,
    vmid: r.vmid,
    vmname: r.vmname,
    snapshot: r.snapshot,
    snaptime: r.snaptime ?? null,
    time: r.snaptime === undefined ? null : isoLocal(r.snaptime, tz),
    action: r.action,
    reason: r.reason,
  }));
}

type Done = { job: { name: string }; outcome: GuestOutcome };

export function outcomeColumns(): Column<Done>[] {
  return [
    { header: 'JOB', get: (r) => r.job.name },
    { header: 'NODE', get: (r) => r.outcome.guest.node },
    { header: 'VM', get: (r) => r.outcome.guest.vmid, align: 'right' },
    { header: 'GUEST', get: (r) => r.outcome.guest.name },
    { header: 'STATUS', get: (r) => r.outcome.status },
    { header: 'CREATED', get: (r) => r.outcome.created.join(' ') },
    { header: 'REMOVED', get: (r) => r.outcome.removed.join(' ') },
    { header: 'REASON', get: (r) => r.outcome.reason ?? '' },
  ];
}

/** `{guests: [{job, node, vmid, vmname, status, reason, created[], removed[]}], summary}` */
export function outcomeJson(rows: Done[], totals: Totals, seconds: number): unknown {
  return {
    guests: rows.map((r) => ({
      job: r.job.name,
      node: r.outcome.guest.node,
      vmid: r.outcome.guest.vmid,
      vmname: r.outcome.guest.name,
      status: r.outcome.status,
      reason: r.outcome.reason ?? null,
      created: r.outcome.created,
      removed: r.outcome.removed,
    })),
    summary: { ...totals, seconds: Number(seconds.toFixed(2)) },
  };
}

export function summaryLine(what: string, t: Totals, seconds: number, dry: boolean): string {
  if (dry) return `autosnap ${what}: nothing changed (${seconds.toFixed(1)}s)`;
  return `autosnap ${what}: ${t.created} created, ${t.removed} removed, ${t.skipped} skipped, ${t.failed} failed in ${seconds.toFixed(1)}s`;
}

/** One line of `status`: a snapshot of a guest, in every output format (cv4pve's too). */
export interface StatusRow extends GuestRef {
  vmname: string;
  snapshot: string;
  snaptime?: number;
  parent?: string;
  description: string;
  vmstate: boolean;
  /** the cv4pve label, 'intraday' for the intraday names */
  label: string | null;
}
