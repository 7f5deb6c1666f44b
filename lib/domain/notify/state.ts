// Small state kept between runs under /var/lib/autosnap (AUTOSNAP_STATE_DIR overrides):
// how many runs in a row each guest of a job was skipped, and which systemd invocation a
// run has already reported (so the OnFailure= unit does not send the same news twice).
// A lost or unreadable state file only resets the counts; it never fails a run.
import { writeFileAtomic } from '../../core/atomic.ts';
import fs from 'node:fs';
import path from 'node:path';

const DEFAULT_STATE_DIR = '/var/lib/autosnap';

function stateDir(env: Record<string, string | undefined> = process.env): string {
  return env.AUTOSNAP_STATE_DIR || DEFAULT_STATE_DIR;
}

export function readState<T extends object>(name: string, fallback: T): T {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(stateDir(), name), 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

/** Write whole or not at all: a temporary file in the same directory, then rename. */
export function writeState(name: string, value: unknown): void {
  const dir = stateDir();
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path.join(dir, name), JSON.stringify(value) + '\n', 0o600);
  } catch {
    // a read-only or missing state directory costs the counts, not the run
  }
}

export type SkipCounts = Record<string, number>;

/**
 * The skip counts after a run: a guest skipped in this run counts one more, a guest the
 * run handled (done or failed) starts again at zero, guests the run did not touch keep
 * theirs (another job, another node's share).
 */
export function nextSkipCounts(prev: SkipCounts, run: Array<{ key: string; skipped: boolean }>): SkipCounts {
  const next: SkipCounts = { ...prev };
  for (const r of run) {
    if (r.skipped) next[r.key] = (prev[r.key] ?? 0) + 1;
    else delete next[r.key];
  }
  return next;
}
