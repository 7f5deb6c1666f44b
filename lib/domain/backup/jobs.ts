// Which of the cluster's backup jobs (GET /cluster/backup) runs next on this node, and is
// it close enough to wake the backup server now. Pure: the jobs and "now" come in.
//
// What a job of that list looks like comes from pve-manager's PVE/API2/Backup.pm (index):
// the entries of jobs.cfg with type 'vzdump', each with its `id`, its `schedule` (a
// calendar event), `enabled` (stored as 1/0, absent = enabled, the schema's default), an
// optional `node` ("Only run if executed on this node": absent = every node), and the
// `next-run` PVE computed from the schedule on the answering node.
// https://github.com/proxmox/pve-manager/blob/master/PVE/API2/Backup.pm
import { nextEvent, parseCalendarEvent } from './calendar.ts';
import { yesNo } from '../../core/yesno.ts';

export interface BackupJob {
  id?: unknown;
  schedule?: unknown;
  node?: unknown;
  enabled?: unknown;
  'next-run'?: unknown;
  [k: string]: unknown;
}

interface NextRun {
  id: string;
  at: Date;
  schedule: string;
}

export interface JobPlan {
  /** the earliest run of an enabled job for this node, if any */
  next?: NextRun;
  /** is `next` within the window (now < next.at <= now + window) */
  due: boolean;
  /** jobs skipped because their schedule could not be read, one text each */
  unreadable: string[];
}

/** `enabled` as PVE returns it: 1/0, '1'/'0', booleans; absent means enabled. */
export function jobEnabled(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (v === 0 || v === false) return false;
  // anything but a "no" word keeps the job: PVE validated the value when it was saved
  return typeof v !== 'string' || yesNo(v) !== false;
}

/** A job without `node` runs on every node; with one, on that node only. */
export function jobRunsOn(job: BackupJob, node: string): boolean {
  return job.node === undefined || job.node === null || job.node === '' || String(job.node) === node;
}

/**
 * The next run of each enabled job for `node`, computed from its schedule in the local time
 * zone (PVE computes it the same way, in the node's zone); a schedule outside the calendar
 * forms we read falls back to PVE's own `next-run` when that is still ahead.
 */
export function planJobs(jobs: BackupJob[], node: string, now: Date, windowMs: number): JobPlan {
  const unreadable: string[] = [];
  let next: NextRun | undefined;
  for (const job of jobs) {
    if (!job || typeof job !== 'object' || !jobEnabled(job.enabled) || !jobRunsOn(job, node)) continue;
    const id = String(job.id ?? '?');
    if (typeof job.schedule !== 'string' || !job.schedule.trim()) continue;
    let at: Date | undefined;
    try {
      at = nextEvent(parseCalendarEvent(job.schedule), now);
    } catch (e: any) {
      const pveNext = Number(job['next-run']);
      if (Number.isFinite(pveNext) && pveNext * 1000 > now.getTime()) at = new Date(pveNext * 1000);
      else unreadable.push(`${id}: ${e.message}`);
    }
    if (at && (!next || at.getTime() < next.at.getTime())) next = { id, at, schedule: job.schedule };
  }
  const due = next !== undefined && next.at.getTime() - now.getTime() <= windowMs;
  return { next, due, unreadable };
}

/** `2026-12-04 21:00` in local time, the way the schedule is written. */
export function localMinute(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
