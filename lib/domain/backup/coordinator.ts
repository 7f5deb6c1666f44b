// Waking the backup server, taking and releasing a node's lock, and the shutdown by the
// last node. The protocol (see docs/backup.md "Locks and the shutdown"):
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
// Rule: the lock directory lives on the server's storage, so it is only touched after the
// server answered; a hard NFS mount of a powered-off server would hang the hook.
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AppError, ConnectionError, UsageError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { ownerAlive, pidAlive, processStart } from '../../core/lockfile.ts';
import { need, type BackupConfig } from './config.ts';
import {
  CLAIM_FILE, LAST_CLAIM_FILE, claimAgeMs, clearWanted, createExclusive, describeLock, isOwnLock, isSyncLock, listLocks, lockFileName, lockState,
  newClaim, readClaim, readJson, readWanted, replaceFile, retireClaim, WANTED_FILE, type ClaimInfo,
  type LockEntry, type LockInfo, type WantedInfo,
} from './locks.ts';
import { sleep, tcpProbe } from './probe.ts';
import { reportProblem } from './report.ts';
import { ensureStorage, lastLine } from './storage.ts';
import { sshRun } from './ssh.ts';
import { ETHERWAKE_PATHS, etherwakeArgv, findEtherwake, findWolTarget, magicPacket, routeIface, sendMagicPacket, type WolTarget } from './wol.ts';
import { runCommand } from './storage.ts';

const fmtS = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`);

export interface UpResult {
  /** the server did not answer at first and was woken */
  woken: boolean;
  /** when it was first seen not answering (ms since epoch) */
  downSeenAt?: number;
}

async function serverIPv4(server: string): Promise<string | undefined> {
  if (net.isIPv4(server)) return server;
  if (net.isIPv6(server)) return undefined;
  try {
    return (await dns.lookup(server, { family: 4 })).address;
  } catch {
    return undefined;
  }
}

/** How the magic packet goes out: UDP broadcast, a raw Ethernet frame, or both (wol_via). */
export interface WakePlan {
  udp?: WolTarget;
  ether?: { iface: string; argv: string[] };
  /** for the log and --check: where it goes */
  text: string;
}

export async function resolveWol(cfg: BackupConfig): Promise<WakePlan> {
  const serverIp = cfg.server ? await serverIPv4(cfg.server) : undefined;
  const plan: WakePlan = { text: '' };
  const parts: string[] = [];
  if (cfg.wolVia !== 'ether') {
    const t = findWolTarget({ serverIp, broadcast: cfg.wolBroadcast, iface: cfg.wolInterface, port: cfg.wolPort });
    plan.udp = t;
    parts.push(`UDP to ${t.broadcast}:${t.port}${t.iface ? ' via ' + t.iface : ''} (${t.how})`);
  }
  if (cfg.wolVia !== 'udp') {
    const iface = cfg.wolInterface ?? (serverIp ? routeIface(serverIp) : undefined);
    if (!iface) throw new UsageError(`${cfg.source} [backup] wol_via ${cfg.wolVia}: set 'wol_interface' (no route to the server to find it from)`);
    const program = findEtherwake();
    if (!program) throw new UsageError(`${cfg.source} [backup] wol_via ${cfg.wolVia}: etherwake not found (${ETHERWAKE_PATHS.join(', ')}); apt install etherwake`);
    plan.ether = { iface, argv: etherwakeArgv(program, iface, need(cfg.mac, 'mac', cfg), cfg.wolPassword) };
    parts.push(`raw frame on ${iface} (${program})`);
  }
  plan.text = parts.join(' and ');
  return plan;
}

function wakeDest(plan: WakePlan): string {
  const to = [plan.udp ? `to ${plan.udp.broadcast}:${plan.udp.port}` : '', plan.ether ? `as a raw frame on ${plan.ether.iface}` : ''];
  return to.filter(Boolean).join(' and ');
}

async function sendWake(cfg: BackupConfig, plan: WakePlan): Promise<void> {
  // some NICs only wake on the raw frame, some only on UDP: with wol_via both, one failing
  // does not keep the other from going
  const failures: string[] = [];
  if (plan.udp) {
    try {
      await sendMagicPacket(magicPacket(need(cfg.mac, 'mac', cfg), cfg.wolPassword), plan.udp);
    } catch (e: any) {
      failures.push(e.message);
    }
  }
  if (plan.ether) {
    const r = await runCommand(plan.ether.argv, 30_000);
    if (r.code !== 0) failures.push(`${plan.ether.argv[0]} exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}`);
  }
  if (failures.length === (plan.udp ? 1 : 0) + (plan.ether ? 1 : 0)) throw new AppError(failures.join('; '));
  for (const f of failures) warn(f);
  if (cfg.wolCommand) {
    const r = await runCommand(cfg.wolCommand, 30_000);
    if (r.code !== 0) warn(`${cfg.wolCommand[0]} exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}`);
  }
}

/** Probe; when the server does not answer, wake it and wait, re-sending, within the budget. */
export async function ensureServerUp(cfg: BackupConfig, what: string): Promise<UpResult> {
  const server = need(cfg.server, 'server', cfg);
  if (await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs)) {
    info(`${what}: backup server ${server} answers on port ${cfg.probePort}`);
    return { woken: false };
  }
  const downSeenAt = Date.now();
  need(cfg.mac, 'mac', cfg);
  const target = await resolveWol(cfg);
  const start = Date.now();
  let sent = 0;
  let lastSend = 0;
  info(`${what}: backup server ${server} does not answer on port ${cfg.probePort}; waking it (Wake-on-LAN: ${target.text})`);
  while (true) {
    if (sent === 0 || Date.now() - lastSend >= cfg.wolResendMs) {
      await sendWake(cfg, target);
      sent++;
      lastSend = Date.now();
    }
    if (Date.now() - start >= cfg.wakeBudgetMs) break;
    await sleep(Math.min(cfg.probeIntervalMs, Math.max(0, cfg.wakeBudgetMs - (Date.now() - start))));
    if (await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs)) {
      info(`${what}: backup server ${server} answers on port ${cfg.probePort} after ${fmtS(Date.now() - start)}`);
      return { woken: true, downSeenAt };
    }
  }
  throw new ConnectionError(
    `backup server ${server} did not answer on port ${cfg.probePort} within ${fmtS(cfg.wakeBudgetMs)} (Wake-on-LAN sent ${sent} time${sent === 1 ? '' : 's'} ${wakeDest(target)})`,
  );
}

/** Wait until the server stops answering; false when it still answers at the end. */
async function waitDown(cfg: BackupConfig, budgetMs: number): Promise<boolean> {
  const server = need(cfg.server, 'server', cfg);
  const start = Date.now();
  while (true) {
    if (!(await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs))) return true;
    if (Date.now() - start >= budgetMs) return false;
    await sleep(Math.min(cfg.probeIntervalMs, budgetMs));
  }
}

export function lockDirOf(cfg: BackupConfig): string {
  return need(cfg.lockDir, 'lock_dir', cfg);
}

function ensureLockDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e: any) {
    throw new AppError(`cannot create lock directory ${dir}: ${e.code ?? e.message}`);
  }
}

/** A claim counts for at most this long: its holder would have finished by then. */
export function claimStaleMs(cfg: BackupConfig): number {
  return cfg.shutdownDelayMs + cfg.shutdownWaitMs + cfg.sshConnectTimeoutS * 1000 + 120_000;
}

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
export async function acquire(cfg: BackupConfig, job: string, phase: string, pid: number): Promise<Acquired> {
  const what = phase;
  let up = await ensureServerUp(cfg, what);
  await ensureStorage(cfg, what);
  const dir = lockDirOf(cfg);
  ensureLockDir(dir);
  const name = lockFileName(cfg.node, job, pid);
  const file = path.join(dir, name);
  const now = new Date().toISOString();
  const pidStart = processStart(pid);
  const mine: LockInfo = { host: cfg.node, job, pid, ...(pidStart ? { pidStart } : {}), phase, started: now };
  let adopted = false;
  if (createExclusive(dir, name, JSON.stringify(mine) + '\n')) {
    info(`${what}: lock ${file} taken`);
  } else {
    const prev = readJson<LockInfo>(file);
    if (isOwnLock(prev, pid, pidStart)) {
      // job-init and job-start both call us: the second finds the first's lock
      const p = prev as LockInfo;
      adopted = true;
      info(`${what}: lock ${name} already held since ${p.started}; not taken again`);
      replaceFile(dir, name, JSON.stringify({ ...mine, started: p.started, updated: now }) + '\n');
    } else {
      const p = prev && prev !== 'unreadable' ? prev : undefined;
      const desc = p ? `${p.host}/${p.job} pid ${p.pid}, ${p.phase}, since ${p.started}` : 'unreadable';
      if (p && p.host === cfg.node && ownerAlive(p)) {
        // the name carries our pid, so this only happens to a hand-made file; never take over a live owner
        throw new AppError(`lock ${file} belongs to a running process (${desc}); not taken over`);
      }
      // our pid was used before by a process that is gone (it crashed and left its lock):
      // that lock cannot be told apart from ours by name, so it is replaced, said loudly
      warn(`${what}: lock ${name} was left by an earlier process with the same pid (${desc}), which is gone; replaced`);
      replaceFile(dir, name, JSON.stringify(mine) + '\n');
    }
  }
  if (job !== 'sync') {
    // a backup job needs the server again: an earlier job's wish to have it shut down
    // after the syncs is void; this job's own end decides
    const w = readWanted(dir);
    if (w && clearWanted(dir)) info(`${what}: ${WANTED_FILE}${w.info === 'unreadable' ? '' : ` (left by ${w.info.host}/${w.info.job} at ${w.info.created})`} removed: this job needs the server`);
  }
  // this node's dead locks go, other nodes' crashed ones are reported, on every run
  liveLocks(cfg, dir, what);
  up = await waitOutShutdown(cfg, dir, up, what);
  return { up, adopted };
}

async function waitOutShutdown(cfg: BackupConfig, dir: string, up: UpResult, what: string): Promise<UpResult> {
  const staleMs = claimStaleMs(cfg);
  let announced = '';
  while (true) {
    const claim = readClaim(dir);
    if (!claim) return up;
    const mtime = claimMtime(dir);
    if (mtime === undefined) continue;
    const age = claimAgeMs(claim, mtime, Date.now());
    const who = claim === 'unreadable' ? 'unknown node' : `${claim.host} (pid ${claim.pid})`;
    if (age > staleMs) {
      setAsideOldClaim(dir, claim, who, age, what);
      return up;
    }
    if (claim === 'unreadable' || claim.state === 'pending') {
      if (announced !== 'pending') info(`${what}: ${who} is about to shut the server down; our lock makes it stand down, waiting`);
      announced = 'pending';
      await sleep(Math.min(cfg.probeIntervalMs, 1000));
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
    if (await waitDown(cfg, cfg.shutdownWaitMs)) {
      up = await ensureServerUp(cfg, what);
      await ensureStorage(cfg, what);
    } else {
      warn(`${what}: server still answers ${fmtS(cfg.shutdownWaitMs)} after the shutdown by ${claim.host}; going on`);
    }
    retireClaim(dir, claim.nonce);
    return up;
  }
}

/**
 * A claim older than claimStaleMs is over. A committed one is the record of a shutdown
 * that went through: the server was off when its storage was last reachable, so its claim
 * could not be removed then; it is set aside quietly by the next run that finds it. A
 * pending one means its node stopped half-way: that is worth a warning.
 */
function setAsideOldClaim(dir: string, claim: ClaimInfo | 'unreadable', who: string, age: number, what: string): void {
  const last = path.join(dir, LAST_CLAIM_FILE);
  if (claim !== 'unreadable' && claim.state === 'committed') {
    if (retireClaim(dir)) info(`${what}: the shutdown by ${who} at ${claim.committed ?? claim.created} is over; its claim moved to ${last}`);
    return;
  }
  if (retireClaim(dir)) warn(`${what}: shutdown claim by ${who} is ${fmtS(age)} old and was never carried out; set aside as ${last}`);
}

function claimMtime(dir: string): number | undefined {
  try {
    return fs.statSync(path.join(dir, CLAIM_FILE)).mtimeMs;
  } catch {
    return undefined; // retired meanwhile
  }
}

/**
 * The locks that keep the server up. This node's locks whose process is provably gone are
 * removed (vzdump killed, node crashed and rebooted); stale locks are reported on every run
 * and ignored. Either goes through reportProblem.
 */
function liveLocks(cfg: BackupConfig, dir: string, what: string): LockEntry[] {
  const now = Date.now();
  const live: LockEntry[] = [];
  for (const e of listLocks(dir)) {
    const { state, ageMs } = lockState(e, now, cfg.lockStaleMs, cfg.node);
    const age = fmtS(Math.round(ageMs / 1000) * 1000);
    if (state === 'live') live.push(e);
    else if (state === 'orphaned') removeDeadLock(dir, e, what);
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

function removeDeadLock(dir: string, e: LockEntry, what: string): void {
  const i = e.info!;
  const why = pidAlive(i.pid) ? `pid ${i.pid} now belongs to another process` : `pid ${i.pid} no longer runs`;
  try {
    fs.unlinkSync(path.join(dir, e.file));
  } catch (err: any) {
    if (err.code === 'ENOENT') return; // removed meanwhile by another run of this node
    throw err;
  }
  reportProblem({ kind: 'own-lock-removed', what, message: `orphaned lock ${e.file}: ${describeLock(e)}, ${why}; removed` });
}

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
export async function release(cfg: BackupConfig, job: string, what: string, opts: ReleaseOptions, pid: number): Promise<ReleaseOutcome> {
  const server = need(cfg.server, 'server', cfg);
  const dir = lockDirOf(cfg);
  const name = lockFileName(cfg.node, job, pid);
  if (!(await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs))) {
    // the lock directory is on the server's storage: do not touch it while the server is off
    warn(`${what}: backup server ${server} does not answer on port ${cfg.probePort}; lock ${name} left as it is (removed by this node's next job once pid ${pid} ended)`);
    return 'already-down';
  }
  const file = path.join(dir, name);
  const cur = readJson<LockInfo>(file);
  if (cur === undefined) {
    info(`${what}: no lock ${name} to release`);
  } else if (!isOwnLock(cur, pid, processStart(pid))) {
    const desc = cur === 'unreadable' ? 'unreadable' : `${cur.host}/${cur.job} pid ${cur.pid}, since ${cur.started}`;
    warn(`${what}: lock ${name} is not ours (${desc}); left as it is`);
  } else {
    try {
      fs.unlinkSync(file);
      info(`${what}: lock ${file} released`);
    } catch (e: any) {
      if (e.code !== 'ENOENT') throw new AppError(`cannot remove lock ${file}: ${e.code ?? e.message}`);
      info(`${what}: no lock ${name} to release`);
    }
  }
  if (opts.shutdown === false) {
    info(`${what}: ${opts.offReason ?? 'shutdown of the backup server is off (shutdown = no)'}; leaving it up`);
    return 'disabled';
  }
  if (opts.shutdown === 'if-wanted') {
    // read only after our lock is gone: a job that ends meanwhile writes the marker before
    // it looks at the locks, so either it sees ours gone and shuts down itself, or we see
    // its marker (both may: the claim lets one of us through)
    const w = readWanted(dir);
    if (!w || w.ageMs > cfg.lockStaleMs) {
      if (w) warn(`${what}: ${path.join(dir, WANTED_FILE)} is ${fmtS(Math.round(w.ageMs / 1000) * 1000)} old (lock_stale ${fmtS(cfg.lockStaleMs)}); ignored`);
      info(`${what}: the backup server was already up when this sync began and no backup job left its shutdown to the sync (sync_shutdown auto); leaving it up`);
      return 'not-wanted';
    }
    const by = w.info === 'unreadable' ? 'a backup job' : `${w.info.host}/${w.info.job} (${w.info.phase} at ${w.info.created})`;
    info(`${what}: the server was already up when this sync began, but ${by} ended while it ran and left the shutdown to the sync`);
  }
  let live = liveLocks(cfg, dir, what);
  if (live.length && live.every(isSyncLock)) {
    leaveWanted(cfg, dir, job, what, pid, live);
    // look again after the marker is written: a sync that ended in between did not see it
    live = liveLocks(cfg, dir, what);
    if (live.length && live.every(isSyncLock)) {
      info(`${what}: backup server stays up while ${live.map(describeLock).join(', ')} runs; the last sync to end shuts it down (${WANTED_FILE})`);
      return 'handed-over';
    }
  }
  if (live.length) {
    info(`${what}: backup server stays up: in use by ${live.map(describeLock).join(', ')}`);
    return 'in-use';
  }
  return shutdownIfLast(cfg, dir, server, what);
}

function leaveWanted(cfg: BackupConfig, dir: string, job: string, what: string, pid: number, syncs: LockEntry[]): void {
  const mine: WantedInfo = { host: cfg.node, job, pid, phase: what, created: new Date().toISOString(), waitingFor: syncs.map((e) => e.file) };
  const data = JSON.stringify(mine) + '\n';
  if (createExclusive(dir, WANTED_FILE, data)) return;
  const prev = readWanted(dir);
  // an earlier wish still counts and is kept (its time is the one that matters); a stale or
  // broken one is replaced so the syncs running now honour ours
  if (prev && prev.info !== 'unreadable' && prev.ageMs <= cfg.lockStaleMs) return;
  replaceFile(dir, WANTED_FILE, data);
}

async function shutdownIfLast(cfg: BackupConfig, dir: string, server: string, what: string): Promise<ReleaseOutcome> {
  const claim: ClaimInfo = newClaim(cfg.node, new Date());
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(dir, CLAIM_FILE, JSON.stringify(claim) + '\n')) break;
    const other = readClaim(dir);
    if (!other) continue; // retired between our attempt and the read
    const mtime = claimMtime(dir);
    if (mtime === undefined) continue;
    const age = claimAgeMs(other, mtime, Date.now());
    const who = other === 'unreadable' ? 'unknown node' : other.host;
    if (age > claimStaleMs(cfg) && attempt === 0) {
      setAsideOldClaim(dir, other, who, age, what);
      continue;
    }
    info(`${what}: ${who} already handles the shutdown of the backup server`);
    return 'claimed-elsewhere';
  }
  info(`${what}: no node holds a lock; shutting the backup server down in ${fmtS(cfg.shutdownDelayMs)} unless a node starts`);
  await sleep(cfg.shutdownDelayMs);
  const cur = readClaim(dir);
  if (!cur || cur === 'unreadable' || cur.nonce !== claim.nonce) {
    info(`${what}: our shutdown claim was set aside by another node; not shutting down`);
    return 'claimed-elsewhere';
  }
  const live = liveLocks(cfg, dir, what);
  if (live.length) {
    retireClaim(dir, claim.nonce);
    info(`${what}: not shutting down: ${live.map(describeLock).join(', ')} started meanwhile`);
    return 'stood-down';
  }
  if (!(await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs))) {
    retireClaim(dir, claim.nonce);
    clearWanted(dir);
    info(`${what}: backup server ${server} no longer answers on port ${cfg.probePort}; no shutdown sent`);
    return 'already-down';
  }
  // the point of no return: from here on a taker that finds the claim waits for the server
  // to go down and wakes it again
  replaceFile(dir, CLAIM_FILE, JSON.stringify({ ...claim, state: 'committed', committed: new Date().toISOString() }) + '\n');
  // the wish is fulfilled; a sync ending after this finds the server going down or gone
  clearWanted(dir);
  info(`${what}: shutting down backup server ${server}: ${cfg.shutdownCommand}`);
  const r = await sshRun(cfg, server, cfg.shutdownCommand);
  // ssh reports 255 when the server drops the connection while powering off
  if (r.code !== 0 && !(r.code === 255 && !(await tcpProbe(server, cfg.probePort, cfg.probeTimeoutMs)))) {
    retireClaim(dir, claim.nonce);
    reportProblem({ kind: 'server-left-up', what, message: `shutdown of backup server ${server} failed: ssh exited ${r.code}${lastLine(r.output) ? ': ' + lastLine(r.output) : ''}` });
    return 'failed';
  }
  if (await waitDown(cfg, cfg.shutdownWaitMs)) {
    info(`${what}: backup server ${server} is down`);
  } else {
    retireClaim(dir, claim.nonce);
    reportProblem({ kind: 'server-left-up', what, message: `backup server ${server} still answers on port ${cfg.probePort} ${fmtS(cfg.shutdownWaitMs)} after the shutdown command` });
  }
  return 'shutdown';
}
