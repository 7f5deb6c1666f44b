// What a finished run tells the admin: nothing (a healthy run, mode failure), a warning
// (guests skipped several runs in a row), an error (something failed) or, with
// mode = always, an info for every run.
import type { NotifyMode, Severity } from './notify.ts';

export interface RunFacts {
  /** 'autosnap' or 'autosnap-backup', the `type` field matchers route on */
  type: string;
  /** what ran: `run`, `clean`, `snap`, a backup phase */
  what: string;
  jobs: string[];
  exitCode: number;
  summary: string;
  /** one line per failure */
  failures: string[];
  /** guests skipped at least `skipped_runs` runs in a row: a line each */
  longSkipped: string[];
  /** other lines worth reading (skips of this run) */
  notes: string[];
  /** what longSkipped holds, when it is not skipped guests (the backup server check) */
  warningsAre?: { title: string; heading: string };
}

export function runSeverity(mode: NotifyMode, f: Pick<RunFacts, 'exitCode' | 'failures' | 'longSkipped'>): Severity | undefined {
  if (mode === 'never') return undefined;
  if (f.exitCode !== 0 || f.failures.length) return 'error';
  if (f.longSkipped.length) return 'warning';
  return mode === 'always' ? 'info' : undefined;
}

export function runTitle(sev: Severity, f: RunFacts, host: string): string {
  const jobs = f.jobs.length ? ` (${f.jobs.join(', ')})` : '';
  const state = sev === 'error' ? `failed: ${f.failures.length || 'exit ' + f.exitCode}${f.failures.length ? ' failure' + (f.failures.length === 1 ? '' : 's') : ''}` : sev === 'warning' ? (f.warningsAre?.title ?? `${f.longSkipped.length} guest${f.longSkipped.length === 1 ? '' : 's'} skipped repeatedly`) : 'ok';
  return `${f.type} ${f.what} on ${host}${jobs}: ${state}`;
}

export function runMessage(f: RunFacts): string {
  const parts = [f.summary, `exit code ${f.exitCode}`];
  if (f.failures.length) parts.push('', 'Failures:', ...f.failures.map((l) => `  ${l}`));
  if (f.longSkipped.length) parts.push('', f.warningsAre?.heading ?? 'Skipped several runs in a row:', ...f.longSkipped.map((l) => `  ${l}`));
  if (f.notes.length) parts.push('', 'Also:', ...f.notes.map((l) => `  ${l}`));
  return parts.join('\n') + '\n';
}
