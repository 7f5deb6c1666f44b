// The taking side of the protocol (job-start, backup-sync): wake the server, check its
// storage, take this process's lock, and wait out a shutdown in progress. See protocol.ts.
import path from 'node:path';
import { AppError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import type { BackupConfig } from './config.ts';
import {
  claimAgeMs, clearWanted, isOwnLock, lockFileName, parseJson, readClaim, readWanted, retireClaim, WANTED_FILE, type LockDir, type LockInfo,
} from './locks.ts';
import { ownerAlive } from '../../core/lockfile.ts';
import { claimMtime, claimStaleMs, ensureServerUp, fmtS, liveLocks, setAsideOldClaim, waitDown, type ProtocolIO, type UpResult } from './protocol.ts';

export interface Acquired {
  up: UpResult;
  /** the lock was already there (job-init then job-start): nothing new was taken */
  adopted: boolean;
}

/**
 * Wake the server, check the storage, take the lock of process `pid` (vzdump for the hook,
 * backup-sync itself), and wait out a shutdown in progress. Every phase of one vzdump job
 * runs under the same vzdump process and so shares one lock; a second job on the node has
 * another pid and another lock.
 */
export async function acquire(io: ProtocolIO, cfg: BackupConfig, job: string, phase: string, pid: number): Promise<Acquired> {
  const what = phase;
  let up = await ensureServerUp(io, cfg, what);
  await io.storage(what);
  const dir = io.lockDir();
  try {
    dir.ensure();
  } catch (e: any) {
    throw new AppError(`cannot create lock directory ${dir.path}: ${e.code ?? e.message}`);
  }
  const adopted = takeLock(io, cfg, dir, job, phase, pid);
  if (job !== 'sync') {
    // a backup job needs the server again: an earlier job's wish to have it shut down
    // after the syncs is void; this job's own end decides
    const w = readWanted(dir, io.now());
    if (w && clearWanted(dir)) info(`${what}: ${WANTED_FILE}${w.info === 'unreadable' ? '' : ` (left by ${w.info.host}/${w.info.job} at ${w.info.created})`} removed: this job needs the server`);
  }
  // this node's dead locks go, other nodes' crashed ones are reported, on every run
  liveLocks(io, cfg, dir, what);
  up = await waitOutShutdown(io, cfg, dir, up, what);
  return { up, adopted };
}

/** Create the lock of `pid`; true when it was already ours (adopted, not taken again). */
function takeLock(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, job: string, what: string, pid: number): boolean {
  const name = lockFileName(cfg.node, job, pid);
  const file = path.join(dir.path, name);
  const now = new Date(io.now()).toISOString();
  const pidStart = io.processStart(pid);
  const mine: LockInfo = { host: cfg.node, job, pid, ...(pidStart ? { pidStart } : {}), phase: what, started: now };
  if (dir.create(name, JSON.stringify(mine) + '\n')) {
    info(`${what}: lock ${file} taken`);
    return false;
  }
  const prev = parseJson<LockInfo>(dir.read(name));
  if (isOwnLock(prev, pid, pidStart)) {
    // job-init and job-start both call us: the second finds the first's lock
    const p = prev as LockInfo;
    info(`${what}: lock ${name} already held since ${p.started}; not taken again`);
    dir.replace(name, JSON.stringify({ ...mine, started: p.started, updated: now }) + '\n');
    return true;
  }
  const p = prev && prev !== 'unreadable' ? prev : undefined;
  const desc = p ? `${p.host}/${p.job} pid ${p.pid}, ${p.phase}, since ${p.started}` : 'unreadable';
  if (p && p.host === cfg.node && ownerAlive(p, (x) => io.pidAlive(x), (x) => io.processStart(x))) {
    // the name carries our pid, so this only happens to a hand-made file; never take over a live owner
    throw new AppError(`lock ${file} belongs to a running process (${desc}); not taken over`);
  }
  // our pid was used before by a process that is gone (it crashed and left its lock):
  // that lock cannot be told apart from ours by name, so it is replaced, said loudly
  warn(`${what}: lock ${name} was left by an earlier process with the same pid (${desc}), which is gone; replaced`);
  dir.replace(name, JSON.stringify(mine) + '\n');
  return false;
}

async function waitOutShutdown(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, up: UpResult, what: string): Promise<UpResult> {
  const staleMs = claimStaleMs(cfg);
  let announced = '';
  while (true) {
    const claim = readClaim(dir);
    if (!claim) return up;
    const mtime = claimMtime(dir);
    if (mtime === undefined) continue;
    const age = claimAgeMs(claim, mtime, io.now());
    const who = claim === 'unreadable' ? 'unknown node' : `${claim.host} (pid ${claim.pid})`;
    if (age > staleMs) {
      setAsideOldClaim(dir, claim, who, age, what);
      return up;
    }
    if (claim === 'unreadable' || claim.state === 'pending') {
      if (announced !== 'pending') info(`${what}: ${who} is about to shut the server down; our lock makes it stand down, waiting`);
      announced = 'pending';
      await io.sleep(Math.min(cfg.probeIntervalMs, 1000));
      continue;
    }
    const committedAt = Date.parse(claim.committed ?? claim.created);
    if (up.woken && up.downSeenAt !== undefined && up.downSeenAt > committedAt) {
      // we saw the server off after that shutdown and woke it: the claim is history
      info(`${what}: server was shut down by ${claim.host} at ${claim.committed} and is up again`);
      retireClaim(dir, claim.nonce);
      return up;
    }
    info(`${what}: ${who} is shutting the server down; waiting for it to go down, then waking it again`);
    if (await waitDown(io, cfg, cfg.shutdownWaitMs)) {
      up = await ensureServerUp(io, cfg, what);
      await io.storage(what);
    } else {
      warn(`${what}: server still answers ${fmtS(cfg.shutdownWaitMs)} after the shutdown by ${claim.host}; going on`);
    }
    retireClaim(dir, claim.nonce);
    return up;
  }
}
