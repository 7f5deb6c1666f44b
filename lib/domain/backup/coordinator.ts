// Waking the backup server, taking and releasing a node's lock, and the shutdown by the
// last node, wired to the real world: the protocol itself (protocol.ts, take.ts,
// shutdown.ts) gets the system clock, the lock directory on the shared storage, this
// node's /proc, the TCP probe, Wake-on-LAN and SSH from here.
//
// Rule: the lock directory lives on the server's storage, so it is only touched after the
// server answered; a hard NFS mount of a powered-off server would hang the hook.
import crypto from 'node:crypto';
import { need, type BackupConfig } from './config.ts';
import { pidAlive, processStart } from '../../core/lockfile.ts';
import { realLockDir } from './locks.ts';
import { sleep, tcpProbe } from './probe.ts';
import * as protocol from './protocol.ts';
import * as shutdown from './shutdown.ts';
import { sshRun } from './ssh.ts';
import { ensureStorage } from './storage.ts';
import * as take from './take.ts';
import { resolveWol, sendWake } from './wake.ts';

export { claimStaleMs, type UpResult } from './protocol.ts';
export type { Acquired } from './take.ts';
export type { ReleaseOptions, ReleaseOutcome } from './shutdown.ts';
export { resolveWol, sendWake, serverIPv4, type WakePlan } from './wake.ts';

export function lockDirOf(cfg: BackupConfig): string {
  return need(cfg.lockDir, 'lock_dir', cfg);
}

/** The real clock, files, processes, probe, Wake-on-LAN and SSH for the protocol. */
export function realIO(cfg: BackupConfig): protocol.ProtocolIO {
  const server = () => need(cfg.server, 'server', cfg);
  return {
    now: () => Date.now(),
    sleep,
    lockDir: () => realLockDir(lockDirOf(cfg)),
    probe: () => tcpProbe(server(), cfg.probePort, cfg.probeTimeoutMs),
    wakePlan: () => resolveWol(cfg),
    sendWake: (plan) => sendWake(cfg, plan),
    storage: (what) => ensureStorage(cfg, what),
    powerOff: () => sshRun(cfg, server(), cfg.shutdownCommand),
    pidAlive: (pid) => pidAlive(pid),
    processStart: (pid) => processStart(pid),
    pid: process.pid,
    nonce: () => crypto.randomBytes(8).toString('hex'),
  };
}

/** Probe; when the server does not answer, wake it and wait, re-sending, within the budget. */
export const ensureServerUp = (cfg: BackupConfig, what: string) => protocol.ensureServerUp(realIO(cfg), cfg, what);

/** Wait until the server stops answering; false when it still answers at the end. */
export const waitDown = (cfg: BackupConfig, budgetMs: number) => protocol.waitDown(realIO(cfg), cfg, budgetMs);

/** Wake, check the storage, take the lock of process `pid`, wait out a shutdown in progress. */
export const acquire = (cfg: BackupConfig, job: string, phase: string, pid: number) => take.acquire(realIO(cfg), cfg, job, phase, pid);

/** Remove the lock of process `pid`; the last one shuts the server down (see shutdown.ts). */
export const release = (cfg: BackupConfig, job: string, what: string, opts: shutdown.ReleaseOptions, pid: number) => shutdown.release(realIO(cfg), cfg, job, what, opts, pid);
