// The one place where the backup tools raise a problem someone has to act on (a server
// left running, a lock that could not be released, another node's crashed lock). Today it
// is a warning line: the console (for the hook: the vzdump task log), syslog/journald at
// priority warning, and the log file. A notification channel hooks in here, and only here.
import { warn } from '../../core/log.ts';

type ProblemKind =
  /** the hook's own files in lock_dir could not be read or written (full, read-only, gone, I/O error) */
  | 'bookkeeping'
  /** the config could not be read at a phase that must not fail the job */
  | 'config'
  /** the backup server may be left running */
  | 'server-left-up'
  /** a lock of another node that looks crashed (older than lock_stale) */
  | 'foreign-lock'
  /** a lock of this node whose process is gone, removed */
  | 'own-lock-removed';

export interface Problem {
  kind: ProblemKind;
  /** the phase or tool step, e.g. job-end */
  what: string;
  message: string;
}

const reported: Problem[] = [];

export function reportProblem(p: Problem): void {
  reported.push(p);
  warn(`${p.what}: ${p.message}`);
}

/** What this run reported so far (a notifier sends them at the end of the run). */
export function reportedProblems(): readonly Problem[] {
  return reported;
}
