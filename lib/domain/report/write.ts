// Writing the report page where a web server or an admin reads it: a temporary file in the
// same directory, then a rename, so a reader sees the old page or the new one, never half
// of one (rename(2) is atomic within a file system; a temp file elsewhere might not be).
import fs from 'node:fs';
import { checkTargetDir, writeFileAtomic } from '../../core/atomic.ts';
import { UsageError } from '../../core/errors.ts';
import { parseRunState, type RunState } from './facts.ts';

/** Where the run's state lives beside its page: `FILE.json`. */
export const stateFileOf = (page: string) => `${page}.json`;

export function writeAtomic(file: string, text: string): void {
  try {
    writeFileAtomic(file, text, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`report file ${file}: cannot write (${err.code ?? err.message})`);
  }
}

/** The state a run left beside a page, or undefined (no run yet, or unreadable). */
export function readRunState(page: string | undefined): RunState | undefined {
  if (!page) return undefined;
  try {
    return parseRunState(fs.readFileSync(stateFileOf(page), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Refuse a page file that could not be written after the run, before the run starts working. */
export function checkReportFile(file: string, where: string): void {
  checkTargetDir(file, where);
}
