// The backup server's wake-and-shutdown protocol, apart from the world it runs in: the
// clock, sleeping, the lock directory's files, this node's processes, the probe, Wake-on-LAN
// and the power-off all come in through ProtocolIO. coordinator.ts passes the real ones;
// the unit tests (test/unit/backup-protocol.test.ts) a virtual clock, a lock directory in
// memory and a simulated server. See docs/backup.md "Locks and the shutdown":
//
//  taker (job-init/job-start, backup-sync):  wake -> storage -> create own lock -> read claim
//  releaser (job-end/job-abort, sync end):   remove own lock -> no live lock? -> create claim
//                                            -> wait the delay -> re-read locks -> commit
//                                            claim -> ssh shutdown
//
// Each side writes its own file before it reads the other's, so of a lock and a claim made
// at the same moment at least one side sees the other: either the releaser finds the new
// lock after its delay and stands down, or the taker finds the claim and waits for it to
// be decided (a committed shutdown is waited out, then the server is woken again).
// The claim is created with O_EXCL semantics, so of nodes ending together one shuts down.
//
// This file: waking, waiting for the server to go down, and the reading of the locks both
// sides share; take.ts takes a lock, shutdown.ts releases it and shuts down.
import path from 'node:path';
import { ConnectionError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { need, type BackupConfig } from './config.ts';
import {
  CLAIM_FILE, LAST_CLAIM_FILE, describeLock, listLocks, lockState, retireClaim, type ClaimInfo, type LockDir, type LockEntry,
} from './locks.ts';
import { ownerAlive } from '../../core/lockfile.ts';
import { reportProblem } from './report.ts';
import { wakeDest, type WakePlan } from './wake.ts';

/** Everything the protocol does to the world outside its own decisions. */
export interface ProtocolIO {
  /** the clock, ms since epoch */
  now(): number;
  sleep(ms: number): Promise<void>;
  /**
   * The lock directory (lock_dir, on the server's storage). A function: a missing lock_dir
   * is a config error found only where the directory is first needed, after the server
   * answered and its storage was checked.
   */
  lockDir(): LockDir;
  /** does the server answer on probe_port */
  probe(): Promise<boolean>;
  /** how the magic packet would go out (may throw a usage error: no interface, no etherwake) */
  wakePlan(): Promise<WakePlan>;
  /** send it once */
  sendWake(plan: WakePlan): Promise<void>;
  /** the backup storage is mounted (mounted if not) and writable; throws one clear line */
  storage(what: string): Promise<void>;
  /** run shutdown_command on the server over SSH */
  powerOff(): Promise<{ code: number; output: string }>;
  /** this node's process table: does `pid` run, and its identity (boot id and start time) */
  pidAlive(pid: number): boolean;
  processStart(pid: number): string | undefined;
  /** this process's pid, for the claim */
  pid: number;
  /** a fresh random nonce for a claim */
  nonce(): string;
}

export const fmtS = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`);

export interface UpResult {
  /** the server did not answer at first and was woken */
  woken: boolean;
  /** when it was first seen not answering (ms since epoch) */
  downSeenAt?: number;
}

/** A claim counts for at most this long: its holder would have finished by then. */
export function claimStaleMs(cfg: BackupConfig): number {
  return cfg.shutdownDelayMs + cfg.shutdownWaitMs + cfg.sshConnectTimeoutS * 1000 + 120_000;
}

/** Probe; when the server does not answer, wake it and wait, re-sending, within the budget. */
export async function ensureServerUp(io: ProtocolIO, cfg: BackupConfig, what: string): Promise<UpResult> {
  const server = need(cfg.server, 'server', cfg);
  if (await io.probe()) {
    info(`${what}: backup server ${server} answers on port ${cfg.probePort}`);
    return { woken: false };
  }
  const downSeenAt = io.now();
  need(cfg.mac, 'mac', cfg);
  const target = await io.wakePlan();
  const start = io.now();
  let sent = 0;
  let lastSend = 0;
  info(`${what}: backup server ${server} does not answer on port ${cfg.probePort}; waking it (Wake-on-LAN: ${target.text})`);
  while (true) {
    if (sent === 0 || io.now() - lastSend >= cfg.wolResendMs) {
      await io.sendWake(target);
      sent++;
      lastSend = io.now();
    }
    if (io.now() - start >= cfg.wakeBudgetMs) break;
    await io.sleep(Math.min(cfg.probeIntervalMs, Math.max(0, cfg.wakeBudgetMs - (io.now() - start))));
    if (await io.probe()) {
      info(`${what}: backup server ${server} answers on port ${cfg.probePort} after ${fmtS(io.now() - start)}`);
      return { woken: true, downSeenAt };
    }
  }
  throw new ConnectionError(
    `backup server ${server} did not answer on port ${cfg.probePort} within ${fmtS(cfg.wakeBudgetMs)} (Wake-on-LAN sent ${sent} time${sent === 1 ? '' : 's'} ${wakeDest(target)})`,
  );
}

/** Wait until the server stops answering; false when it still answers at the end. */
export async function waitDown(io: ProtocolIO, cfg: BackupConfig, budgetMs: number): Promise<boolean> {
  need(cfg.server, 'server', cfg);
  const start = io.now();
  while (true) {
    if (!(await io.probe())) return true;
    if (io.now() - start >= budgetMs) return false;
    await io.sleep(Math.min(cfg.probeIntervalMs, budgetMs));
  }
}

/**
 * A claim older than claimStaleMs is over. A committed one is the record of a shutdown
 * that went through: the server was off when its storage was last reachable, so its claim
 * could not be removed then; it is set aside quietly by the next run that finds it. A
 * pending one means its node stopped half-way: that is worth a warning.
 */
export function setAsideOldClaim(dir: LockDir, claim: ClaimInfo | 'unreadable', who: string, age: number, what: string): void {
  const last = path.join(dir.path, LAST_CLAIM_FILE);
  if (claim !== 'unreadable' && claim.state === 'committed') {
    if (retireClaim(dir)) info(`${what}: the shutdown by ${who} at ${claim.committed ?? claim.created} is over; its claim moved to ${last}`);
    return;
  }
  if (retireClaim(dir)) warn(`${what}: shutdown claim by ${who} is ${fmtS(age)} old and was never carried out; set aside as ${last}`);
}

export function claimMtime(dir: LockDir): number | undefined {
  try {
    return dir.mtime(CLAIM_FILE);
  } catch {
    return undefined; // retired meanwhile
  }
}

/**
 * The locks that keep the server up. This node's locks whose process is provably gone are
 * removed (vzdump killed, node crashed and rebooted); stale locks are reported on every run
 * and ignored. Either goes through reportProblem.
 */
export function liveLocks(io: ProtocolIO, cfg: BackupConfig, dir: LockDir, what: string): LockEntry[] {
  const now = io.now();
  const live: LockEntry[] = [];
  const alive = (i: Parameters<typeof ownerAlive>[0]) => ownerAlive(i, (pid) => io.pidAlive(pid), (pid) => io.processStart(pid));
  for (const e of listLocks(dir)) {
    const { state, ageMs } = lockState(e, now, cfg.lockStaleMs, cfg.node, alive);
    const age = fmtS(Math.round(ageMs / 1000) * 1000);
    if (state === 'live') live.push(e);
    else if (state === 'orphaned') removeDeadLock(io, dir, e, what);
    else if (e.info?.host === cfg.node) {
      reportProblem({ kind: 'foreign-lock', what, message: `stale lock ${e.file}: ${describeLock(e)}, ${age} old, its process still runs; ignored, not removed` });
    } else {
      reportProblem({
        kind: 'foreign-lock',
        what,
        message: `stale lock ${e.file}: ${describeLock(e)}, ${age} old (lock_stale ${fmtS(cfg.lockStaleMs)}); that node's job probably crashed; ignored, not removed (remove it by hand once the job is known to be over)`,
      });
    }
  }
  return live;
}

function removeDeadLock(io: ProtocolIO, dir: LockDir, e: LockEntry, what: string): void {
  const i = e.info!;
  const why = io.pidAlive(i.pid) ? `pid ${i.pid} now belongs to another process` : `pid ${i.pid} no longer runs`;
  // false: removed meanwhile by another run of this node
  if (!dir.remove(e.file)) return;
  reportProblem({ kind: 'own-lock-removed', what, message: `orphaned lock ${e.file}: ${describeLock(e)}, ${why}; removed` });
}
