// Node locks and the shutdown claim, as files in a directory on the shared backup storage.
//
// Every file is created atomically: its content is written to a private temporary file
// first, then link()ed to its final name, which fails with EEXIST when the name is taken
// (atomic on local filesystems and on NFS, unlike a test-then-create). Replacing the
// content of a file we own goes through rename(), so a reader never sees half a file.
// See docs/backup.md "Locks and the shutdown" for the protocol built on these files.
// Whether a lock's owner still runs (pid and its identity, against pid reuse) is
// lib/core/lockfile.ts, the same test autosnap's run lock uses.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ownerAlive } from '../../core/lockfile.ts';

export interface LockInfo {
  /** node name (hostname, or --node / node_name) */
  host: string;
  job: string;
  /** the process whose life the lock spans (vzdump for the hook, the tool for sync) */
  pid: number;
  /**
   * that process's identity on its node (boot id and start time): a pid alone can be
   * reused by an unrelated process after a crash; absent where /proc is not readable
   */
  pidStart?: string;
  phase: string;
  /** ISO time the lock was taken */
  started: string;
  /** ISO time of the last phase that touched it */
  updated?: string;
}

export interface ClaimInfo {
  host: string;
  pid: number;
  nonce: string;
  created: string;
  state: 'pending' | 'committed';
  committed?: string;
}

export const CLAIM_FILE = 'shutdown.claim';
export const LAST_CLAIM_FILE = 'shutdown.last';
/**
 * Left by a job that ended while only syncs kept the server up: the sync that ends last
 * shuts the server down even when it did not wake it (sync_shutdown auto).
 */
export const WANTED_FILE = 'shutdown.wanted';

export interface WantedInfo {
  host: string;
  job: string;
  pid: number;
  phase: string;
  created: string;
  /** the sync locks that kept the server up at that moment */
  waitingFor: string[];
}

// One lock per owning process: two vzdump jobs of one node (or two syncs) each hold their
// own, so neither can remove or overwrite the other's.
export const lockFileName = (node: string, job: string, pid: number) => `${node}.${job}.${pid}.lock`;

/** Whether a lock file's content was written by this very process (pid and identity). */
export function isOwnLock(info: LockInfo | 'unreadable' | undefined, pid: number, pidStart: string | undefined): boolean {
  if (!info || info === 'unreadable' || info.pid !== pid) return false;
  return info.pidStart === undefined || pidStart === undefined || info.pidStart === pidStart;
}

function tmpName(dir: string, base: string): string {
  return path.join(dir, `.${base}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Write `data` under `name` only if the name is free. Returns false when it is taken.
 * The temporary file is removed whatever happens: a full disk fails the write after the
 * create succeeded, and a `.tmp` left behind would fill the directory night after night.
 */
export function createExclusive(dir: string, name: string, data: string): boolean {
  const tmp = tmpName(dir, name);
  try {
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, path.join(dir, name));
      return true;
    } catch (e: any) {
      if (e.code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    removeQuietly(tmp);
  }
}

/** Replace the content of a file this process owns (its temporary file never stays). */
export function replaceFile(dir: string, name: string, data: string): void {
  const tmp = tmpName(dir, name);
  try {
    fs.writeFileSync(tmp, data, { mode: 0o644 });
    fs.renameSync(tmp, path.join(dir, name));
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/** Best effort: the caller reports the error that brought it here, not this one. */
function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // a read-only or vanished directory: nothing was left there either
  }
}

/** A file's content as JSON: undefined when there was no file, 'unreadable' when it is not JSON. */
export function parseJson<T>(text: string | undefined): T | undefined | 'unreadable' {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return 'unreadable';
  }
}

/**
 * The file operations the protocol does in the lock directory, by name inside it. The
 * real one (realLockDir) works on the shared storage; the unit tests pass one in memory.
 * Errors other than "no such file" are thrown as they come.
 */
export interface LockDir {
  /** the directory's path, for messages */
  readonly path: string;
  /** mkdir -p */
  ensure(): void;
  /** write `name` only if the name is free; false when it is taken */
  create(name: string, data: string): boolean;
  /** replace the content of a file this process owns (a reader never sees half of it) */
  replace(name: string, data: string): void;
  /** the content; undefined when there is no such file */
  read(name: string): string | undefined;
  /** the modification time (ms since epoch); undefined when there is no such file */
  mtime(name: string): number | undefined;
  /** false when there was no such file */
  remove(name: string): boolean;
  /** false when `from` was not there */
  rename(from: string, to: string): boolean;
  /** the names of the files in it */
  names(): string[];
}

const unlessMissing = <T>(fn: () => T, missing: T): T => {
  try {
    return fn();
  } catch (e: any) {
    if (e.code === 'ENOENT') return missing;
    throw e;
  }
};

export function realLockDir(dir: string): LockDir {
  const at = (name: string) => path.join(dir, name);
  return {
    path: dir,
    ensure: () => void fs.mkdirSync(dir, { recursive: true, mode: 0o755 }),
    create: (name, data) => createExclusive(dir, name, data),
    replace: (name, data) => replaceFile(dir, name, data),
    read: (name) => unlessMissing<string | undefined>(() => fs.readFileSync(at(name), 'utf8'), undefined),
    mtime: (name) => unlessMissing<number | undefined>(() => fs.statSync(at(name)).mtimeMs, undefined),
    remove: (name) => unlessMissing(() => (fs.unlinkSync(at(name)), true), false),
    rename: (from, to) => unlessMissing(() => (fs.renameSync(at(from), at(to)), true), false),
    names: () => fs.readdirSync(dir),
  };
}

/** A path means the real directory (backup-wakeup --check, the backup watch). */
const lockDirAt = (where: string | LockDir): LockDir => (typeof where === 'string' ? realLockDir(where) : where);

export interface LockEntry {
  file: string;
  info?: LockInfo;
  /** file mtime, used when the content cannot be read */
  mtimeMs: number;
}

export function listLocks(where: string | LockDir): LockEntry[] {
  const dir = lockDirAt(where);
  const out: LockEntry[] = [];
  for (const name of dir.names().sort()) {
    if (!name.endsWith('.lock') || name.startsWith('.')) continue;
    const mtimeMs = dir.mtime(name);
    if (mtimeMs === undefined) continue; // released between readdir and stat
    const info = parseJson<LockInfo>(dir.read(name));
    if (info === undefined) continue;
    out.push({ file: name, info: info === 'unreadable' || typeof info?.host !== 'string' ? undefined : info, mtimeMs });
  }
  return out;
}

export type LockState = 'live' | 'stale' | 'orphaned';

/**
 * Whether a lock still keeps the server up. 'orphaned': a lock of this node whose process
 * is provably gone (pid not running, or running with another start time): the caller
 * removes it. 'stale': older than the stale age, reported and ignored but kept (a lock of
 * another node cannot be checked from here; someone should look at why it was left).
 */
export function lockState(
  entry: LockEntry,
  now: number,
  staleMs: number,
  myNode: string,
  alive: (info: LockInfo) => boolean = (i) => ownerAlive(i),
): { state: LockState; ageMs: number } {
  const started = entry.info ? Date.parse(entry.info.updated ?? entry.info.started) : NaN;
  const since = Number.isFinite(started) ? started : entry.mtimeMs;
  const ageMs = Math.max(0, now - since);
  // provably dead first: such a lock is removed whatever its age
  if (entry.info && entry.info.host === myNode && entry.info.pid > 0 && !alive(entry.info)) return { state: 'orphaned', ageMs };
  if (ageMs > staleMs) return { state: 'stale', ageMs };
  return { state: 'live', ageMs };
}

export function describeLock(e: LockEntry): string {
  if (!e.info) return `${e.file} (unreadable)`;
  return `${e.info.host}/${e.info.job} (pid ${e.info.pid}, ${e.info.phase}, since ${e.info.started})`;
}

export function newClaim(host: string, now: Date, pid = process.pid, nonce = crypto.randomBytes(8).toString('hex')): ClaimInfo {
  return { host, pid, nonce, created: now.toISOString(), state: 'pending' };
}

/** A sync's lock (backup-sync always uses the job name 'sync', the hook refuses it). */
export function isSyncLock(e: LockEntry): boolean {
  return e.info ? e.info.job === 'sync' : /\.sync\.\d+\.lock$/.test(e.file);
}

export function readWanted(dir: LockDir, now: number): { info: WantedInfo | 'unreadable'; ageMs: number } | undefined {
  const mtimeMs = dir.mtime(WANTED_FILE);
  if (mtimeMs === undefined) return undefined;
  const info = parseJson<WantedInfo>(dir.read(WANTED_FILE));
  if (info === undefined) return undefined;
  const t = info === 'unreadable' ? NaN : Date.parse(info.created);
  return { info, ageMs: Math.max(0, now - (Number.isFinite(t) ? t : mtimeMs)) };
}

/** Remove the marker; false when there was none. */
export function clearWanted(dir: LockDir): boolean {
  return dir.remove(WANTED_FILE);
}

export function readClaim(where: string | LockDir): ClaimInfo | 'unreadable' | undefined {
  return parseJson<ClaimInfo>(lockDirAt(where).read(CLAIM_FILE));
}

/** When a claim stops counting: its holder would long have finished. */
export function claimAgeMs(claim: ClaimInfo | 'unreadable', mtimeMs: number, now: number): number {
  if (claim === 'unreadable') return now - mtimeMs;
  const t = Date.parse(claim.state === 'committed' && claim.committed ? claim.committed : claim.created);
  return now - (Number.isFinite(t) ? t : mtimeMs);
}

/**
 * Move a finished or abandoned claim out of the way, keeping it as shutdown.last for
 * whoever wants to know what happened. Returns false when another node was quicker.
 */
export function retireClaim(dir: LockDir, expectNonce?: string): boolean {
  if (expectNonce !== undefined) {
    const cur = readClaim(dir);
    if (!cur || cur === 'unreadable' || cur.nonce !== expectNonce) return false;
  }
  return dir.rename(CLAIM_FILE, LAST_CLAIM_FILE);
}
