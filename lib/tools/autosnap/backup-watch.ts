// `autosnap notify --backup-server`, run by backup-watch.timer after the backup window: is
// the backup server left on? It tells the admin when the server answers while no live
// lock says a backup or sync uses it, when the last shutdown failed, and when a lock is
// stale or orphaned (a job that died without its job-end). It only looks: the locks are
// the backup tools' (lib/domain/backup) and stay as they are.
import fs from 'node:fs';
import type { Config } from '../../core/config.ts';
import { print, printLines } from '../../core/output.ts';
import { loadBackupConfig } from '../../domain/backup/config.ts';
import { lockDirOf } from '../../domain/backup/coordinator.ts';
import { describeLock, listLocks, lockState, type LockState } from '../../domain/backup/locks.ts';
import { tcpProbe } from '../../domain/backup/probe.ts';
import { ageText } from './check.ts';
import { notifySettings } from '../../domain/notify/notify.ts';
import { notifyRun } from '../../domain/notify/send-run.ts';
import { BACKUP_METRICS_STATE } from '../../domain/notify/backup.ts';
import { readState } from '../../domain/notify/state.ts';

export interface WatchInput {
  server: string;
  up: boolean;
  locks: Array<{ text: string; state: LockState; ageMs: number }>;
  /** why the lock directory could not be read (server up) */
  lockError?: string;
  /** what the last job end did with the server (backup-hook's state) */
  lastRelease?: string;
}

/** What is wrong (pure: the table tests call it); empty when all is well. */
export function watchFindings(w: WatchInput): { severity: 'warning' | 'error'; line: string }[] {
  const out: { severity: 'warning' | 'error'; line: string }[] = [];
  if (w.lastRelease === 'failed') out.push({ severity: 'error', line: `the last shutdown of backup server ${w.server} failed (see the backup log)` });
  if (w.up) {
    if (w.lockError) out.push({ severity: 'warning', line: `backup server ${w.server} is up, and its lock directory cannot be read: ${w.lockError}` });
    else if (!w.locks.some((l) => l.state === 'live')) out.push({ severity: 'warning', line: `backup server ${w.server} is up with no live lock: no backup or sync uses it, it was left on` });
  }
  for (const l of w.locks) {
    if (l.state === 'stale') out.push({ severity: 'warning', line: `stale lock ${l.text}, ${ageText(l.ageMs / 1000)} old (not removed: see why it was left, then delete it)` });
    if (l.state === 'orphaned') out.push({ severity: 'warning', line: `orphaned lock ${l.text}: its process is gone (not removed)` });
  }
  return out;
}

export async function backupWatch(config: Config): Promise<number> {
  const cfg = loadBackupConfig(config);
  const settings = notifySettings(config);
  if (!cfg.server) {
    print('backup server: none configured ([backup] server)\n');
    return 2;
  }
  const up = await tcpProbe(cfg.server, cfg.probePort, cfg.probeTimeoutMs);
  const w: WatchInput = { server: cfg.server, up, locks: [], lastRelease: readState<{ release?: { outcome: string } }>(BACKUP_METRICS_STATE, {}).release?.outcome };
  if (up && cfg.lockDir) {
    try {
      const dir = lockDirOf(cfg);
      if (fs.existsSync(dir)) {
        const now = Date.now();
        w.locks = listLocks(dir).map((e) => ({ text: `${e.file} (${describeLock(e)})`, ...lockState(e, now, cfg.lockStaleMs, cfg.node) }));
      }
    } catch (e) {
      w.lockError = (e as Error).message;
    }
  }
  const found = watchFindings(w);
  // lock files come from other nodes over the shared storage: one escaped line each
  printLines([`backup server ${cfg.server}: ${up ? 'up' : 'down'}, ${w.locks.filter((l) => l.state === 'live').length} live lock(s)`, ...found.map((f) => `${f.severity}: ${f.line}`)]);
  if (found.length) {
    const errors = found.filter((f) => f.severity === 'error').map((f) => f.line);
    await notifyRun(
      {
        type: 'autosnap-backup',
        what: 'server check',
        jobs: [],
        exitCode: errors.length ? 1 : 0,
        summary: `backup server ${cfg.server} is ${up ? 'up' : 'down'}`,
        failures: errors,
        longSkipped: found.filter((f) => f.severity === 'warning').map((f) => f.line),
        notes: [],
        warningsAre: { title: 'left on, or locks to look at', heading: 'Warnings:' },
      },
      settings,
    );
  }
  return found.length ? 1 : 0;
}
