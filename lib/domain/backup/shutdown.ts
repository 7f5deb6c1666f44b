// The releasing side of the protocol (job-end/job-abort, the end of backup-sync): remove
// this process's lock, and when no live lock is left, claim the shutdown, wait the delay,
// look again and shut the server down. See protocol.ts.
import path from 'node:path';
import { AppError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { need, type BackupConfig } from './config.ts';
import {
  CLAIM_FILE, claimAgeMs, clearWanted, describeLock, isOwnLock, isSyncLock, lockFileName, newClaim, parseJson, readClaim, readWanted, retireClaim,
  WANTED_FILE, type ClaimInfo, type LockDir, type LockEntry, type LockInfo, type WantedInfo,
} from './locks.ts';
import { claimMtime, claimStaleMs, fmtS, liveLocks, setAsideOldClaim, waitDown, type ProtocolIO } from './protocol.ts';
import { reportProblem } from './report.ts';
import { lastLine } from './storage.ts';

export type ReleaseOutcome =
  | 'shutdown' | 'in-use' | 'handed-over' | 'claimed-elsewhere' | 'stood-down' | 'already-down' | 'disabled' | 'not-wanted' | 'failed';

export interface ReleaseOptions {
  /**
   * true: shut down when last; false: never; 'if-wanted': only when a backup job that ended
   * while this sync ran left the shutdown to it (a sync under sync_shutdown auto that found
   * the server up)
   */
  shutdown: boolean | 'if-wanted';
  /** why shutdown is false, for the log line */
  offReason?: string;
}

/**
 * Remove the lock of process `pid` (only if it is still ours); when no live lock is left,
 * shut the server down after the delay. When only syncs keep it up, the shutdown is left
 * to them (WANTED_FILE).
 */
export async function release(io: ProtocolIO, cfg: BackupConfig, job: string, what: string, opts: ReleaseOptions, pid: number): Promise<ReleaseOutcome> {
  const server = need(cfg.server, 'server', cfg);
  const dir = io.lockDir();
  const name = lockFileName(cfg.node, job, pid);
  if (!(await io.probe())) {
    // the lock directory is on the server's storage: do not touch it while the server is off
    warn(`${what}: backup server ${server} does not answer on port ${cfg.probePort}; lock ${name} left as it is (removed by this node's next job once pid ${pid} ended)`);
    return 'already-down';
  }
  removeOwnLock(io, dir, name, what, pid);
  if (opts.shutdown === false) {
    info(`${what}: ${opts.offReason ?? 'shutdown of the backup server is off (shutdown = no)'}; leaving it up`);
    return 'disabled';
  }
  if (opts.shutdown === 'if-wanted' && !wantedBySomeJob(io, cfg, dir, what)) return 'not-wanted';
  let live = liveLocks(io, cfg, dir, what);
  if (live.length && live.every(isSyncLock)) {
    leaveWanted(io, cfg, dir, job, what, pid, live);
    // look again after the marker is written: a sync that ended in between did not see it
    live = liveLocks(io, cfg, dir, what);
    if (live.length && live.every(isSyncLock)) {
      info(`${what}: backup server stays up while ${live.map(describeLock).join(', ')} runs; the last sync to end shuts it down (${WANTED_FILE})`);
      return 'handed-over';
    }
  }
  if (live.length) {
    info(`${what}: backup server stays up: in use by ${live.map(describeLock).join(', ')}`);
    return 'in-use';
  }
  return shutdownIfLast(io, cfg, dir, server, what);
}

function removeOwnLock(io: ProtocolIO, dir: LockDir, name: string, what: string, pid: number): void {
  const file = path.join(dir.path, name);
  const cur = parseJson<LockInfo>(dir.read(name));
  if (cur === undefined) {
    info(`${what}: no lock ${name} to release`);
    return;
  }
  if (!isOwnLock(cur, pid, io.processStart(pid))) {
    const desc = cur === 'unreadable' ? 'unreadable' : `${cur.host}/${cur.job} pid ${cur.pid}, since ${cur.started}`;
    warn(`${what}: lock ${name} is not ours (${desc}); left as it is`);
    return;
  }
  let removed: boolean;
  try {
    removed = dir.remove(name);
  } catch (e: any) {
    throw new AppError(`cannot remove lock ${file}: ${e.code ?? e.message}`);
  }
  info(removed ? `${what}: lock ${file} released` : `${what}: no lock ${name} to release`);
}

/**
 * A sync under sync_shutdown auto that found the server up shuts it down only when a
 * backup job that ended while it ran left the shutdown to it. Read only after our lock is
 * gone: a job that ends meanwhile writes the marker before it looks at the locks, so either
 * it sees ours gone and shuts down itself, or we see its marker (both may: the claim lets
 * one of us through).
 */
function wantedBySomeJob(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, what: string): boolean {
  const w = readWanted(dir, io.now());
  if (!w || w.ageMs > cfg.lockStaleMs) {
    if (w) warn(`${what}: ${path.join(dir.path, WANTED_FILE)} is ${fmtS(Math.round(w.ageMs / 1000) * 1000)} old (lock_stale ${fmtS(cfg.lockStaleMs)}); ignored`);
    info(`${what}: the backup server was already up when this sync began and no backup job left its shutdown to the sync (sync_shutdown auto); leaving it up`);
    return false;
  }
  const by = w.info === 'unreadable' ? 'a backup job' : `${w.info.host}/${w.info.job} (${w.info.phase} at ${w.info.created})`;
  info(`${what}: the server was already up when this sync began, but ${by} ended while it ran and left the shutdown to the sync`);
  return true;
}

function leaveWanted(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, job: string, what: string, pid: number, syncs: LockEntry[]): void {
  const mine: WantedInfo = { host: cfg.node, job, pid, phase: what, created: new Date(io.now()).toISOString(), waitingFor: syncs.map((e) => e.file) };
  const data = JSON.stringify(mine) + '\n';
  if (dir.create(WANTED_FILE, data)) return;
  const prev = readWanted(dir, io.now());
  // an earlier wish still counts and is kept (its time is the one that matters); a stale or
  // broken one is replaced so the syncs running now honour ours
  if (prev && prev.info !== 'unreadable' && prev.ageMs <= cfg.lockStaleMs) return;
  dir.replace(WANTED_FILE, data);
}

/** Create the claim; false when another node holds a live one. An old claim is set aside once. */
function claimShutdown(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, claim: ClaimInfo, what: string): boolean {
  for (let attempt = 0; ; attempt++) {
    if (dir.create(CLAIM_FILE, JSON.stringify(claim) + '\n')) return true;
    const other = readClaim(dir);
    if (!other) continue; // retired between our attempt and the read
    const mtime = claimMtime(dir);
    if (mtime === undefined) continue;
    const age = claimAgeMs(other, mtime, io.now());
    const who = other === 'unreadable' ? 'unknown node' : other.host;
    if (age > claimStaleMs(cfg) && attempt === 0) {
      setAsideOldClaim(dir, other, who, age, what);
      continue;
    }
    info(`${what}: ${who} already handles the shutdown of the backup server`);
    return false;
  }
}

async function shutdownIfLast(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, server: string, what: string): Promise<ReleaseOutcome> {
  const claim = newClaim(cfg.node, new Date(io.now()), io.pid, io.nonce());
  if (!claimShutdown(io, cfg, dir, claim, what)) return 'claimed-elsewhere';
  info(`${what}: no node holds a lock; shutting the backup server down in ${fmtS(cfg.shutdownDelayMs)} unless a node starts`);
  await io.sleep(cfg.shutdownDelayMs);
  const cur = readClaim(dir);
  if (!cur || cur === 'unreadable' || cur.nonce !== claim.nonce) {
    info(`${what}: our shutdown claim was set aside by another node; not shutting down`);
    return 'claimed-elsewhere';
  }
  const live = liveLocks(io, cfg, dir, what);
  if (live.length) {
    retireClaim(dir, claim.nonce);
    info(`${what}: not shutting down: ${live.map(describeLock).join(', ')} started meanwhile`);
    return 'stood-down';
  }
  if (!(await io.probe())) {
    retireClaim(dir, claim.nonce);
    clearWanted(dir);
    info(`${what}: backup server ${server} no longer answers on port ${cfg.probePort}; no shutdown sent`);
    return 'already-down';
  }
  // the point of no return: from here on a taker that finds the claim waits for the server
  // to go down and wakes it again
  dir.replace(CLAIM_FILE, JSON.stringify({ ...claim, state: 'committed', committed: new Date(io.now()).toISOString() }) + '\n');
  // the wish is fulfilled; a sync ending after this finds the server going down or gone
  clearWanted(dir);
  info(`${what}: shutting down backup server ${server}: ${cfg.shutdownCommand}`);
  const r = await io.powerOff();
  // ssh reports 255 when the server drops the connection while powering off
  if (r.code !== 0 && !(r.code === 255 && !(await io.probe()))) {
    retireClaim(dir, claim.nonce);
    reportProblem({ kind: 'server-left-up', what, message: `shutdown of backup server ${server} failed: ssh exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}` });
    return 'failed';
  }
  if (await waitDown(io, cfg, cfg.shutdownWaitMs)) {
    info(`${what}: backup server ${server} is down`);
  } else {
    retireClaim(dir, claim.nonce);
    reportProblem({ kind: 'server-left-up', what, message: `backup server ${server} still answers on port ${cfg.probePort} ${fmtS(cfg.shutdownWaitMs)} after the shutdown command` });
  }
  return 'shutdown';
}
