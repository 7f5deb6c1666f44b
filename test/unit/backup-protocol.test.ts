// The backup server's wake-and-shutdown protocol (lib/domain/backup/protocol.ts, take.ts,
// shutdown.ts) against a simulated world: a virtual clock whose sleeps return as soon as
// nothing else is due, a lock directory in memory shared by the nodes, each node's own
// process table, and a server that boots some time after a magic packet and goes down some
// time after the power-off. Each line is one situation and what the protocol decides; the
// expected outcomes follow docs/backup.md "Locks and the shutdown". The same protocol runs
// against the real world in test/e2e/backup-*.test.ts.
import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { setLogSink } from '../../lib/core/log.ts';
import { AppError } from '../../lib/core/errors.ts';
import { backupConfigFrom, type BackupConfig } from '../../lib/domain/backup/config.ts';
import { CLAIM_FILE, LAST_CLAIM_FILE, WANTED_FILE, type LockDir } from '../../lib/domain/backup/locks.ts';
import type { ProtocolIO } from '../../lib/domain/backup/protocol.ts';
import { reportedProblems } from '../../lib/domain/backup/report.ts';
import { release, type ReleaseOptions, type ReleaseOutcome } from '../../lib/domain/backup/shutdown.ts';
import { acquire } from '../../lib/domain/backup/take.ts';

const T0 = Date.parse('2026-12-04T22:00:00Z');
const S = 1000;
const H = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();

/** The backup server as the nodes see it through the probe. */
interface ServerSpec {
  /** at the start: up, off, or up with its probe port closed (every probe fails) */
  state?: 'up' | 'off' | 'deaf';
  /** from the first packet to answering; Infinity: never */
  bootMs?: number;
  /** what ssh exits with, and how long after the power-off it stops answering */
  sshCode?: number;
  downMs?: number;
  /** it stops answering by itself this long after the start */
  offAtMs?: number;
}

class Server {
  upAt: number | undefined;
  downAt: number | undefined;
  packets = 0;
  powerOffs = 0;
  constructor(
    private readonly w: World,
    readonly spec: ServerSpec,
  ) {
    this.upAt = spec.state === 'off' ? undefined : T0;
    if (spec.offAtMs !== undefined) this.downAt = T0 + spec.offAtMs;
  }
  up(): boolean {
    const t = this.w.t;
    if (this.downAt !== undefined && t >= this.downAt) this.upAt = this.downAt = undefined;
    return this.upAt !== undefined && t >= this.upAt;
  }
  probe(): boolean {
    return this.up() && this.spec.state !== 'deaf';
  }
  wake(): void {
    this.packets++;
    // a server that is off starts booting; one that runs (or boots already) ignores it
    if (!this.up() && this.upAt === undefined) this.upAt = this.w.t + (this.spec.bootMs ?? 60 * S);
  }
  powerOff(): { code: number; output: string } {
    this.powerOffs++;
    if (this.up() && this.downAt === undefined) this.downAt = this.w.t + (this.spec.downMs ?? 20 * S);
    const code = this.spec.sshCode ?? 0;
    return { code, output: code ? 'Connection to backup1 closed by remote host.' : '' };
  }
}

/** Virtual time, the shared lock directory, the server. */
class World {
  t = T0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];
  private seq = 0;
  readonly files = new Map<string, { data: string; mtime: number }>();
  /** lock directory operations, to prove it is not touched while the server is off */
  dirOps = 0;
  dirBroken = false;
  storageBroken = false;
  /** another node's move that happens just before some node creates this file (one time) */
  meanwhile?: { before: string; move: () => void };
  readonly server: Server;

  constructor(spec: ServerSpec) {
    this.server = new Server(this, spec);
  }

  sleep = (ms: number) => new Promise<void>((resolve) => this.timers.push({ at: this.t + ms, seq: this.seq++, fire: resolve }));

  /** Run until `p` settles, moving the clock to the next due sleep whenever all wait. */
  async run<T>(p: Promise<T>): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let steps = 0; steps < 100_000; steps++) {
      for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
      if (done) return p;
      if (!this.timers.length) throw new Error('every party waits for something that never comes');
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
    throw new Error('runs for ever');
  }

  put(name: string, data: string, ageMs = 0): void {
    this.files.set(name, { data, mtime: this.t - ageMs });
  }

  json(name: string): any {
    return JSON.parse(this.files.get(name)!.data);
  }

  lockDir(): LockDir {
    const op = () => {
      this.dirOps++;
    };
    const get = (name: string) => {
      op();
      return this.files.get(name);
    };
    return {
      path: '/locks',
      ensure: () => {
        op();
        if (this.dirBroken) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
      create: (name, data) => {
        if (this.meanwhile?.before === name) {
          const m = this.meanwhile;
          this.meanwhile = undefined;
          m.move();
        }
        if (get(name)) return false;
        this.put(name, data);
        return true;
      },
      replace: (name, data) => void (op(), this.put(name, data)),
      read: (name) => get(name)?.data,
      mtime: (name) => get(name)?.mtime,
      remove: (name) => (op(), this.files.delete(name)),
      rename: (from, to) => {
        const f = get(from);
        if (!f) return false;
        this.files.delete(from);
        this.files.set(to, f);
        return true;
      },
      names: () => (op(), [...this.files.keys()]),
    };
  }

  /** One node: its own processes (pid -> identity), the shared directory, clock and server. */
  io(node: string, procs: Record<number, string>, clockAheadMs = 0): ProtocolIO {
    let nonces = 0;
    return {
      now: () => this.t + clockAheadMs,
      sleep: this.sleep,
      lockDir: () => this.lockDir(),
      probe: async () => this.server.probe(),
      wakePlan: async () => ({ text: 'UDP to 192.0.2.255:9 (test)', udp: { broadcast: '192.0.2.255', port: 9, how: 'test' } }),
      sendWake: async () => this.server.wake(),
      storage: async () => {
        if (this.storageBroken) throw new AppError('backup storage /mnt/backup is not writable (EROFS)');
      },
      powerOff: async () => this.server.powerOff(),
      pidAlive: (pid) => pid in procs,
      processStart: (pid) => procs[pid],
      pid: 9000,
      nonce: () => `${node}-${++nonces}`,
    };
  }

  names(): string[] {
    return [...this.files.keys()].sort();
  }
}

const cfgOf = (node: string, extra: Record<string, string> = {}): BackupConfig =>
  backupConfigFrom({ server: 'backup1', mac: '00:11:22:33:44:55', mount_point: '/mnt/backup', mount_check: 'no', lock_dir: '/locks', ...extra }, 'test.conf', node);

/** Every node's vzdump and sync run under these pids; each knows its own processes only. */
const PROCS: Record<string, Record<number, string>> = {
  pve1: { 100: 'b1:100', 110: 'b1:110', 300: 'b1:300', 301: 'b1:301' },
  pve2: { 200: 'b2:200', 210: 'b2:210' },
  pve3: { 250: 'b3:250' },
};

/** A lock file: a node's job (pid, identity as /proc gives it, age) or a text that is not JSON. */
interface LockSpec {
  host: string;
  pid: number;
  job?: string;
  ageMs?: number;
  /** null: written where /proc could not be read */
  pidStart?: string | null;
  updatedAgoMs?: number;
  /** another file name (a hand-made file) */
  file?: string;
  /** not JSON (the Ansible role's <hostname>.lock) */
  raw?: string;
}
const L = (host: string, pid: number, o: Omit<LockSpec, 'host' | 'pid'> = {}): LockSpec => ({ host, pid, ...o });

function putLock(w: World, l: LockSpec): void {
  const job = l.job ?? 'vzdump';
  const age = l.ageMs ?? H;
  const file = l.file ?? (l.raw !== undefined ? `${l.host}.lock` : `${l.host}.${job}.${l.pid}.lock`);
  if (l.raw !== undefined) return w.put(file, l.raw, age);
  const pidStart = l.pidStart === null ? undefined : (l.pidStart ?? `b${l.host.slice(3)}:${l.pid}`);
  const info = { host: l.host, job, pid: l.pid, ...(pidStart ? { pidStart } : {}), phase: 'job-start', started: iso(w.t - age), ...(l.updatedAgoMs !== undefined ? { updated: iso(w.t - l.updatedAgoMs) } : {}) };
  w.put(file, JSON.stringify(info) + '\n', l.updatedAgoMs ?? age);
}

/** Files in lock_dir at the start besides the locks. */
interface Scene {
  server?: ServerSpec;
  locks?: LockSpec[];
  /** another node's shutdown claim, that old */
  claim?: { state: 'pending' | 'committed'; ageMs: number };
  /** a job's shutdown.wanted, that old */
  wantedAgeMs?: number;
  storageBroken?: boolean;
  dirBroken?: boolean;
  /** just before this node creates the file `before`, another node takes its lock or removes it */
  meanwhile?: { before: string; put?: LockSpec; remove?: string };
}

function world(scene: Scene): World {
  const w = new World(scene.server ?? {});
  for (const l of scene.locks ?? []) putLock(w, l);
  if (scene.claim) {
    const created = iso(T0 - scene.claim.ageMs);
    const claim = { host: 'pve2', pid: 4242, nonce: 'theirs', created, state: scene.claim.state, ...(scene.claim.state === 'committed' ? { committed: created } : {}) };
    w.put(CLAIM_FILE, JSON.stringify(claim) + '\n', scene.claim.ageMs);
  }
  if (scene.wantedAgeMs !== undefined) {
    const wanted = { host: 'pve2', job: 'vzdump', pid: 200, phase: 'job-end', created: iso(T0 - scene.wantedAgeMs), waitingFor: ['pve1.sync.110.lock'] };
    w.put(WANTED_FILE, JSON.stringify(wanted) + '\n', scene.wantedAgeMs);
  }
  w.storageBroken = scene.storageBroken ?? false;
  w.dirBroken = scene.dirBroken ?? false;
  const m = scene.meanwhile;
  if (m) w.meanwhile = { before: m.before, move: () => (m.put ? putLock(w, { ...m.put, ageMs: 0 }) : w.files.delete(m.remove!)) };
  return w;
}

let lines: string[] = [];
let problemsBefore = 0;
beforeEach(() => {
  lines = [];
  setLogSink((l) => lines.push(l));
  problemsBefore = reportedProblems().length;
});
afterEach(() => setLogSink((l) => process.stderr.write(l + '\n')));
const problems = () => reportedProblems().slice(problemsBefore).map((p) => `${p.kind}: ${p.message}`);
const log = () => [...lines, ...problems()].join('\n');

const OWN = L('pve1', 100);
const SYNC_OWN = L('pve1', 110, { job: 'sync' });
const YES: ReleaseOptions = { shutdown: true };

describe('release: one node ends its job', () => {
  // [situation, files and server at the start, release options, outcome, power-offs, files left, a line the log holds]
  test.each<[string, Scene, ReleaseOptions, ReleaseOutcome, number, string[], string]>([
    ['the last node releases: shut down', { locks: [OWN] }, YES, 'shutdown', 1, [CLAIM_FILE], 'backup server backup1 is down'],
    ['no lock of ours to release: still the last', {}, YES, 'shutdown', 1, [CLAIM_FILE], 'no lock pve1.vzdump.100.lock to release'],
    ['another node holds a lock', { locks: [OWN, L('pve2', 200)] }, YES, 'in-use', 0, ['pve2.vzdump.200.lock'], 'in use by pve2/vzdump (pid 200'],
    ['another node holds a lock older than lock_stale: reported, kept, ignored', { locks: [OWN, L('pve2', 200, { ageMs: 13 * H })] }, YES, 'shutdown', 1, [CLAIM_FILE, 'pve2.vzdump.200.lock'], "that node's job probably crashed; ignored, not removed"],
    ['a stale lock counts from its last update', { locks: [OWN, L('pve2', 200, { ageMs: 13 * H, updatedAgoMs: H })] }, YES, 'in-use', 0, ['pve2.vzdump.200.lock'], 'in use by pve2/vzdump'],
    ['a second job of this node runs', { locks: [OWN, L('pve1', 300)] }, YES, 'in-use', 0, ['pve1.vzdump.300.lock'], 'in use by pve1/vzdump (pid 300'],
    ['this node, pid no longer runs: removed', { locks: [OWN, L('pve1', 302)] }, YES, 'shutdown', 1, [CLAIM_FILE], 'own-lock-removed: orphaned lock pve1.vzdump.302.lock: pve1/vzdump (pid 302, job-start, since 2026-12-04T21:00:00.000Z), pid 302 no longer runs; removed'],
    ['this node, pid reused by another process: removed', { locks: [OWN, L('pve1', 301, { pidStart: 'b1:17' })] }, YES, 'shutdown', 1, [CLAIM_FILE], 'pid 301 now belongs to another process; removed'],
    ['this node, pid runs, no identity recorded: kept', { locks: [OWN, L('pve1', 301, { pidStart: null })] }, YES, 'in-use', 0, ['pve1.vzdump.301.lock'], 'in use by pve1/vzdump (pid 301'],
    ['this node, process runs, older than lock_stale: reported, kept', { locks: [OWN, L('pve1', 300, { ageMs: 13 * H })] }, YES, 'shutdown', 1, [CLAIM_FILE, 'pve1.vzdump.300.lock'], 'its process still runs; ignored, not removed'],
    ['another node, pid not running here: its pid means nothing on this node', { locks: [OWN, L('pve2', 302)] }, YES, 'in-use', 0, ['pve2.vzdump.302.lock'], 'in use by pve2/vzdump (pid 302'],
    ["an unreadable lock (the role's) keeps the server up", { locks: [OWN, L('pve3', 0, { raw: 'pve3\n' })] }, YES, 'in-use', 0, ['pve3.lock'], 'in use by pve3.lock (unreadable)'],
    ['an unreadable lock older than lock_stale does not', { locks: [OWN, L('pve3', 0, { raw: 'pve3\n', ageMs: 13 * H })] }, YES, 'shutdown', 1, [CLAIM_FILE, 'pve3.lock'], 'stale lock pve3.lock'],
    ['our lock holds another process identity: not ours, then orphaned', { locks: [L('pve1', 100, { pidStart: 'b1:5' })] }, YES, 'shutdown', 1, [CLAIM_FILE], 'lock pve1.vzdump.100.lock is not ours'],
    ['only a sync runs: the shutdown is left to it', { locks: [OWN, L('pve2', 210, { job: 'sync' })] }, YES, 'handed-over', 0, ['pve2.sync.210.lock', WANTED_FILE], 'the last sync to end shuts it down (shutdown.wanted)'],
    ['only a sync runs, a fresh wish is kept', { locks: [OWN, L('pve2', 210, { job: 'sync' })], wantedAgeMs: H }, YES, 'handed-over', 0, ['pve2.sync.210.lock', WANTED_FILE], 'backup server stays up while pve2/sync'],
    ['a sync ends between our look at the locks and our wish: the second look shuts down', { locks: [OWN, L('pve2', 210, { job: 'sync' })], meanwhile: { before: WANTED_FILE, remove: 'pve2.sync.210.lock' } }, YES, 'shutdown', 1, [CLAIM_FILE], 'backup server backup1 is down'],
    ['a job takes its lock between our look and our claim: the look after the delay stands down', { locks: [OWN], meanwhile: { before: CLAIM_FILE, put: L('pve2', 200) } }, YES, 'stood-down', 0, [LAST_CLAIM_FILE, 'pve2.vzdump.200.lock'], 'not shutting down: pve2/vzdump (pid 200, job-start, since 2026-12-04T22:00:00.000Z) started meanwhile'],
    ['a sync and a job run: no wish left', { locks: [OWN, L('pve2', 210, { job: 'sync' }), L('pve3', 250)] }, YES, 'in-use', 0, ['pve2.sync.210.lock', 'pve3.vzdump.250.lock'], 'in use by pve2/sync'],
    ['shutdown = no', { locks: [OWN] }, { shutdown: false }, 'disabled', 0, [], 'shutdown of the backup server is off (shutdown = no); leaving it up'],
    ['the server does not answer: lock_dir not touched', { locks: [OWN], server: { state: 'off' } }, YES, 'already-down', 0, ['pve1.vzdump.100.lock'], 'lock pve1.vzdump.100.lock left as it is'],
    ['the probe fails while the server runs', { locks: [OWN], server: { state: 'deaf' } }, YES, 'already-down', 0, ['pve1.vzdump.100.lock'], 'does not answer on port 445'],
    ['a fresh pending claim of another node', { locks: [OWN], claim: { state: 'pending', ageMs: 5 * S } }, YES, 'claimed-elsewhere', 0, [CLAIM_FILE], 'pve2 already handles the shutdown'],
    ['a fresh committed claim of another node', { locks: [OWN], claim: { state: 'committed', ageMs: 60 * S } }, YES, 'claimed-elsewhere', 0, [CLAIM_FILE], 'pve2 already handles the shutdown'],
    ['a pending claim older than its holder could take: set aside', { locks: [OWN], claim: { state: 'pending', ageMs: 341 * S } }, YES, 'shutdown', 1, [CLAIM_FILE, LAST_CLAIM_FILE], 'shutdown claim by pve2 is 341s old and was never carried out'],
    ['a pending claim just young enough still counts', { locks: [OWN], claim: { state: 'pending', ageMs: 340 * S } }, YES, 'claimed-elsewhere', 0, [CLAIM_FILE], 'pve2 already handles'],
    ["last night's committed claim: set aside quietly", { locks: [OWN], claim: { state: 'committed', ageMs: 20 * H } }, YES, 'shutdown', 1, [CLAIM_FILE, LAST_CLAIM_FILE], 'the shutdown by pve2 at 2026-12-04T02:00:00.000Z is over'],
    ['the server stops answering during the delay', { locks: [OWN], server: { offAtMs: 10 * S }, wantedAgeMs: H }, YES, 'already-down', 0, [LAST_CLAIM_FILE], 'no longer answers on port 445; no shutdown sent'],
    ['ssh fails, the server stays up', { locks: [OWN], server: { sshCode: 1, downMs: Infinity } }, YES, 'failed', 1, [LAST_CLAIM_FILE], 'server-left-up: shutdown of backup server backup1 failed: ssh exited 1'],
    ['ssh 255: the server dropped the connection going down', { locks: [OWN], server: { sshCode: 255, downMs: 0 } }, YES, 'shutdown', 1, [CLAIM_FILE], 'backup server backup1 is down'],
    ['ssh 255 and the server still answers', { locks: [OWN], server: { sshCode: 255, downMs: Infinity } }, YES, 'failed', 1, [LAST_CLAIM_FILE], 'ssh exited 255'],
    ['the server still answers after shutdown_wait', { locks: [OWN], server: { downMs: 181 * S } }, YES, 'shutdown', 1, [LAST_CLAIM_FILE], 'still answers on port 445 180s after the shutdown command'],
    ['the server goes down within shutdown_wait', { locks: [OWN], server: { downMs: 170 * S } }, YES, 'shutdown', 1, [CLAIM_FILE], 'backup server backup1 is down'],
    ['a sync under auto that found the server up, no wish', { locks: [SYNC_OWN] }, { shutdown: 'if-wanted' }, 'not-wanted', 0, [], 'no backup job left its shutdown to the sync'],
    ['a sync under auto, a job left the shutdown to it', { locks: [SYNC_OWN], wantedAgeMs: H }, { shutdown: 'if-wanted' }, 'shutdown', 1, [CLAIM_FILE], 'pve2/vzdump (job-end at 2026-12-04T21:00:00.000Z) ended while it ran'],
    ['a sync under auto, the wish older than lock_stale', { locks: [SYNC_OWN], wantedAgeMs: 13 * H }, { shutdown: 'if-wanted' }, 'not-wanted', 0, [WANTED_FILE], '/locks/shutdown.wanted is 46800s old (lock_stale 43200s); ignored'],
  ])('%s', async (_, scene, opts, outcome, powerOffs, left, line) => {
    const w = world(scene);
    const job = opts.shutdown === 'if-wanted' ? 'sync' : 'vzdump';
    const pid = job === 'sync' ? 110 : 100;
    const got = await w.run(release(w.io('pve1', PROCS.pve1), cfgOf('pve1'), job, 'job-end', opts, pid));
    expect(got).toBe(outcome);
    expect(w.server.powerOffs).toBe(powerOffs);
    expect(w.names()).toEqual(left.sort());
    expect(log()).toContain(line);
    if (outcome === 'shutdown' && left.includes(CLAIM_FILE)) expect(w.json(CLAIM_FILE)).toMatchObject({ host: 'pve1', state: 'committed', nonce: 'pve1-1' });
  });

  test('the lock directory is not looked at while the server is off', async () => {
    const w = world({ locks: [OWN], server: { state: 'off' } });
    const before = w.dirOps;
    await w.run(release(w.io('pve1', PROCS.pve1), cfgOf('pve1'), 'vzdump', 'job-end', YES, 100));
    expect(w.dirOps).toBe(before);
  });

  test('the delay is shutdown_delay, then the command, then the wait for the server to go down', async () => {
    const w = world({ locks: [OWN] });
    await w.run(release(w.io('pve1', PROCS.pve1), cfgOf('pve1', { shutdown_delay: '45s' }), 'vzdump', 'job-end', YES, 100));
    // committed after the delay; the server went down 20 s after the command, seen by the probe every 10 s
    expect(w.json(CLAIM_FILE).committed).toBe(iso(T0 + 45 * S));
    expect(w.t).toBe(T0 + 45 * S + 20 * S);
  });
});

/**
 * ends: job-end of a job whose lock is there from the start; ends again: a release that
 * finds no lock of its own (job-abort after a failed job-end); starts: job-start; sync
 * starts; sync ends: a sync that found the server up (sync_shutdown auto)
 */
type Step = 'ends' | 'ends again' | 'starts' | 'sync starts' | 'sync ends';

describe('nodes at the same time', () => {
  // each party: [node, what it does, ms after the start, how far its clock is ahead]; the
  // results in that order, the power-offs, whether the server answers at the end
  test.each<[string, Party[], string[], number, boolean]>([
    ["two nodes end together: the first to look sees the other's lock, the second shuts down", [['pve1', 'ends', 0], ['pve2', 'ends', 0]], ['in-use', 'shutdown'], 1, false],
    ['three nodes end together: one shuts down', [['pve1', 'ends', 0], ['pve2', 'ends', 0], ['pve3', 'ends', 0]], ['in-use', 'in-use', 'shutdown'], 1, false],
    ['two ends that both find no lock race for the claim: one shuts down', [['pve1', 'ends again', 0], ['pve2', 'ends again', 0]], ['shutdown', 'claimed-elsewhere'], 1, false],
    ["an end during another node's delay leaves it the shutdown", [['pve1', 'ends', 0], ['pve2', 'ends again', 10 * S]], ['shutdown', 'claimed-elsewhere'], 1, false],
    ['an end after the shutdown finds the server off', [['pve1', 'ends', 0], ['pve2', 'ends again', 60 * S]], ['shutdown', 'already-down'], 1, false],
    ['a job starts as the last one ends: no shutdown', [['pve1', 'ends', 0], ['pve2', 'starts', 0]], ['stood-down', 'taken'], 0, true],
    ['a job starts during the delay: no shutdown', [['pve1', 'ends', 0], ['pve2', 'starts', 10 * S]], ['stood-down', 'taken'], 0, true],
    ['a job starts in the last second of the delay: no shutdown', [['pve1', 'ends', 0], ['pve2', 'starts', 29 * S]], ['stood-down', 'taken'], 0, true],
    ['a sync starts during the delay: no shutdown', [['pve1', 'ends', 0], ['pve2', 'sync starts', 15 * S]], ['stood-down', 'taken'], 0, true],
    ['a job starts after the commit: it waits for the server to go down and wakes it', [['pve1', 'ends', 0], ['pve2', 'starts', 31 * S]], ['shutdown', 'taken after a wake'], 1, true],
    ["a node whose clock is 10 min ahead takes our claim for an old one: it shuts down, we do not", [['pve1', 'ends', 0], ['pve2', 'ends again', 10 * S, 600 * S]], ['claimed-elsewhere', 'shutdown'], 1, false],
    ['a job ends while a sync runs, the sync ends later', [['pve1', 'ends', 0], ['pve2', 'sync ends', 60 * S]], ['handed-over', 'shutdown'], 1, false],
    ['a job and a sync end together: the job hands over, the sync shuts down', [['pve1', 'ends', 0], ['pve2', 'sync ends', 0]], ['handed-over', 'shutdown'], 1, false],
  ])('%s', async (_, parties, results, powerOffs, upAtEnd) => {
    const first = await play(parties);
    // which node wins a tie follows the order of the moves: the first party here
    expect(first.results).toEqual(results);
    expect(first).toMatchObject({ powerOffs, upAtEnd, claimLeft: powerOffs > 0 && !upAtEnd });
    // the other order of moves: other winners (a sync that ends first finds no wish and
    // leaves the shutdown to the job), the same end: as many shutdowns, by one node at most
    const second = await play(parties.slice().reverse());
    expect(second).toMatchObject({ powerOffs, upAtEnd });
    expect(second.results.filter((r) => r === 'shutdown').length).toBe(results.filter((r) => r === 'shutdown').length);
  });
});

/** The parties on their nodes, each from its start time; what each got, and the server after. */
type Party = [node: string, step: Step, atMs: number, clockAheadMs?: number];

async function play(parties: Party[]) {
  const w = world({});
  const pidOf = (node: string, step: Step) => Number(Object.keys(PROCS[node])[step.startsWith('sync') ? 1 : 0]);
  for (const [node, step] of parties) {
    if (step === 'ends') putLock(w, L(node, pidOf(node, step)));
    if (step === 'sync ends') putLock(w, L(node, pidOf(node, step), { job: 'sync' }));
  }
  const run = async ([node, step, at, ahead]: Party): Promise<string> => {
    if (at) await w.sleep(at);
    const io = w.io(node, PROCS[node], ahead);
    const pid = pidOf(node, step);
    if (step === 'ends' || step === 'ends again') return release(io, cfgOf(node), 'vzdump', 'job-end', YES, pid);
    if (step === 'sync ends') return release(io, cfgOf(node), 'sync', 'sync', { shutdown: 'if-wanted' }, pid);
    const got = await acquire(io, cfgOf(node), step === 'starts' ? 'vzdump' : 'sync', 'job-start', pid);
    return got.up.woken ? 'taken after a wake' : 'taken';
  };
  const results = await w.run(Promise.all(parties.map(run)));
  return { results, powerOffs: w.server.powerOffs, upAtEnd: w.server.probe(), claimLeft: w.files.has(CLAIM_FILE) };
}

describe('acquire: a job starts (or a sync)', () => {
  // [situation, files and server at the start, job, result or error, magic packets sent, files left, a line the log holds]
  test.each<[string, Scene, string, string, number, string[], string]>([
    ['the server answers: nothing sent, lock taken', {}, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock'], 'lock /locks/pve1.vzdump.100.lock taken'],
    ['the server is off: woken, answers after 60 s', { server: { state: 'off', bootMs: 60 * S } }, 'vzdump', 'taken after a wake', 2, ['pve1.vzdump.100.lock'], 'answers on port 445 after 60s'],
    ['the server is off: woken, answers after 125 s', { server: { state: 'off', bootMs: 125 * S } }, 'vzdump', 'taken after a wake', 5, ['pve1.vzdump.100.lock'], 'after 130s'],
    ['the server never answers: exit 3, lock_dir not touched', { server: { state: 'off', bootMs: Infinity } }, 'vzdump', 'error 3: backup server backup1 did not answer on port 445 within 300s (Wake-on-LAN sent 11 times to 192.0.2.255:9)', 11, [], 'waking it (Wake-on-LAN: UDP to 192.0.2.255:9 (test))'],
    ['the probe fails while the server runs', { server: { state: 'deaf' } }, 'vzdump', 'error 3: backup server backup1 did not answer on port 445 within 300s (Wake-on-LAN sent 11 times to 192.0.2.255:9)', 11, [], 'does not answer on port 445; waking it'],
    ['the storage is not writable: no lock', { storageBroken: true }, 'vzdump', 'error 1: backup storage /mnt/backup is not writable (EROFS)', 0, [], 'answers on port 445'],
    ['the lock directory cannot be made', { dirBroken: true }, 'vzdump', 'error 1: cannot create lock directory /locks: EACCES', 0, [], 'answers on port 445'],
    ['a second job-start of the same vzdump: adopted', { locks: [OWN] }, 'vzdump', 'adopted', 0, ['pve1.vzdump.100.lock'], 'lock pve1.vzdump.100.lock already held since 2026-12-04T21:00:00.000Z; not taken again'],
    ['an earlier process with our pid crashed: its lock replaced', { locks: [L('pve1', 100, { pidStart: 'b1:7' })] }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock'], 'was left by an earlier process with the same pid (pve1/vzdump pid 100, job-start, since 2026-12-04T21:00:00.000Z), which is gone; replaced'],
    ['our lock name holds a running process: not taken over', { locks: [L('pve1', 300, { file: 'pve1.vzdump.100.lock' })] }, 'vzdump', 'error 1: lock /locks/pve1.vzdump.100.lock belongs to a running process (pve1/vzdump pid 300, job-start, since 2026-12-04T21:00:00.000Z); not taken over', 0, ['pve1.vzdump.100.lock'], 'answers'],
    ['our lock name holds an unreadable text: replaced', { locks: [L('pve1', 100, { raw: 'x', file: 'pve1.vzdump.100.lock' })] }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock'], 'same pid (unreadable), which is gone; replaced'],
    ["this node's dead lock goes", { locks: [L('pve1', 302)] }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock'], 'pid 302 no longer runs; removed'],
    ["another node's stale lock is reported and kept", { locks: [L('pve2', 200, { ageMs: 13 * H })] }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock', 'pve2.vzdump.200.lock'], 'stale lock pve2.vzdump.200.lock'],
    ['a job sets an earlier shutdown.wanted aside', { wantedAgeMs: H }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock'], 'shutdown.wanted (left by pve2/vzdump at 2026-12-04T21:00:00.000Z) removed: this job needs the server'],
    ['a sync keeps shutdown.wanted', { wantedAgeMs: H }, 'sync', 'taken', 0, ['pve1.sync.100.lock', WANTED_FILE], 'lock /locks/pve1.sync.100.lock taken'],
    ['a committed claim, the server goes down: woken again', { claim: { state: 'committed', ageMs: 5 * S }, server: { offAtMs: 15 * S } }, 'vzdump', 'taken after a wake', 2, ['pve1.vzdump.100.lock', LAST_CLAIM_FILE], 'pve2 (pid 4242) is shutting the server down; waiting for it to go down, then waking it again'],
    ['a committed claim, the server stays up', { claim: { state: 'committed', ageMs: 5 * S } }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock', LAST_CLAIM_FILE], 'server still answers 180s after the shutdown by pve2; going on'],
    ['a committed claim made before we found the server off: history', { claim: { state: 'committed', ageMs: 120 * S }, server: { state: 'off' } }, 'vzdump', 'taken after a wake', 2, ['pve1.vzdump.100.lock', LAST_CLAIM_FILE], 'server was shut down by pve2 at 2026-12-04T21:58:00.000Z and is up again'],
    ['an old committed claim: set aside quietly', { claim: { state: 'committed', ageMs: 20 * H }, server: { state: 'off' } }, 'vzdump', 'taken after a wake', 2, ['pve1.vzdump.100.lock', LAST_CLAIM_FILE], 'is over; its claim moved to /locks/shutdown.last'],
    ['an old pending claim: set aside with a warning', { claim: { state: 'pending', ageMs: 341 * S } }, 'vzdump', 'taken', 0, ['pve1.vzdump.100.lock', LAST_CLAIM_FILE], 'warning: job-start: shutdown claim by pve2 (pid 4242) is 341s old and was never carried out'],
  ])('%s', async (_, scene, job, result, packets, left, line) => {
    const w = world(scene);
    let got: string;
    try {
      const r = await w.run(acquire(w.io('pve1', PROCS.pve1), cfgOf('pve1'), job, 'job-start', 100));
      got = r.adopted ? 'adopted' : r.up.woken ? 'taken after a wake' : 'taken';
      const lock = w.json(`pve1.${job}.100.lock`);
      expect(lock).toMatchObject({ host: 'pve1', job, pid: 100, pidStart: 'b1:100' });
    } catch (e: any) {
      if (!(e instanceof AppError)) throw e;
      got = `error ${e.exitCode}: ${e.message}`;
    }
    expect(got).toBe(result);
    expect(w.server.packets).toBe(packets);
    expect(w.names()).toEqual(left.sort());
    expect(log()).toContain(line);
    expect(w.server.powerOffs).toBe(0);
    if (result.startsWith('error 3')) expect(w.dirOps).toBe(0);
  });

  test('a pending claim: the job waits until its holder stands down', async () => {
    const w = world({ claim: { state: 'pending', ageMs: 5 * S } });
    // the holder finds our lock after its delay and sets its claim aside
    const holder = w.sleep(25 * S).then(() => w.lockDir().rename(CLAIM_FILE, LAST_CLAIM_FILE));
    const taker = acquire(w.io('pve1', PROCS.pve1), cfgOf('pve1'), 'vzdump', 'job-start', 100).then((r) => ({ r, at: w.t }));
    const [{ r, at }] = await w.run(Promise.all([taker, holder]));
    expect(r.up.woken).toBe(false);
    // it looks again every second (probe_interval, at most 1 s) until the claim is gone
    expect(at).toBe(T0 + 25 * S);
    expect(lines.filter((l) => l.includes('is about to shut the server down; our lock makes it stand down, waiting'))).toHaveLength(1);
  });

  test('a second job-start keeps the first time and records the update', async () => {
    const w = world({ locks: [OWN] });
    await w.run(acquire(w.io('pve1', PROCS.pve1), cfgOf('pve1'), 'vzdump', 'job-start', 100));
    expect(w.json('pve1.vzdump.100.lock')).toMatchObject({ started: iso(T0 - H), updated: iso(T0), phase: 'job-start' });
  });
});
