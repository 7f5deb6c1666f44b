// The simulated ONTAP cluster: SVMs, data LIFs, volumes (junction paths, export
// policies, files), snapshots, FlexClones and the jobs of asynchronous calls. REST and
// ZAPI are two views of this one state; every rule (busy snapshots, duplicates, clones
// holding their parent snapshot) lives here so both protocols report it the same way.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { UsageError } from '../../core/errors.ts';
import { SimClock } from './clock.ts';
import { ERR, SimError, type SimFile, type SimJob, type SimLif, type SimMirror, type SimQueued, type SimSnapshot, type SimSvm, type SimVolume } from './records.ts';
import { checkSeed, DEMO_SEED, type Seed } from './seed.ts';

const uuid = () => crypto.randomUUID();

export interface StateOptions {
  /** real seconds per simulated second: job durations and the job retention shrink by it */
  timeScale?: number;
  /** the cluster's wall-clock time (ms) at start; default now */
  start?: number;
}

/** Job durations in seconds before scaling, like a small real cluster. */
const DURATION: Record<string, number> = {
  snapshot_create: 1, snapshot_delete: 1, snapmirror_transfer: 2, cg_snapshot: 1, snapshot_restore: 2, volume_create: 2, volume_modify: 1, volume_delete: 2, file_clone: 1, file_delete: 0.5,
};
/** ONTAP forgets a job this long after it ended. */
const JOB_RETENTION_S = 300;
/** The recovery queue's default retention: 12 hours. */
const RECOVERY_RETENTION_S = 12 * 3600;

export class OntapState {
  readonly cluster: string;
  readonly version: string;
  readonly pageSize: number;
  readonly svms: SimSvm[] = [];
  readonly lifs: SimLif[] = [];
  readonly volumes: SimVolume[] = [];
  readonly jobs = new Map<string, SimJob>();
  /** deleted volumes in the SVMs' recovery queues (ONTAP 9.12+) */
  readonly recoveryQueue: SimQueued[] = [];
  readonly mirrors: SimMirror[] = [];
  readonly groups: { uuid: string; name: string; svm: string; volumes: string[] }[] = [];
  readonly timeScale: number;
  readonly clock: SimClock;

  now(): number {
    return this.clock.now();
  }

  constructor(seed: Seed = DEMO_SEED, opts: StateOptions = {}) {
    this.timeScale = opts.timeScale ?? 1;
    this.clock = new SimClock(this.timeScale, opts.start);
    this.cluster = seed.cluster ?? 'sim-cluster';
    this.version = seed.version ?? '9.14.1';
    this.pageSize = seed.pageSize ?? 20;
    const t0 = this.now();
    const clones: [SimVolume, { parentVolume: string; parentSnapshot: string }][] = [];
    for (const s of seed.svms) {
      this.svms.push({ uuid: uuid(), name: s.name });
      (s.lifs ?? []).forEach((l, i) =>
        this.lifs.push({ uuid: uuid(), name: l.name ?? `${s.name}_lif${i + 1}`, svm: s.name, ip: l.ip, services: l.services ?? ['data_nfs'], state: l.state ?? 'up' }));
      for (const v of s.volumes ?? []) {
        const files = new Map<string, SimFile>();
        for (const f of v.files ?? []) {
          const p = typeof f === 'string' ? f : f.path;
          files.set(normPath(p), { size: typeof f === 'string' ? 34359738368 : f.size ?? 34359738368, origin: `seed:${v.name}/${normPath(p)}` });
        }
        const vol: SimVolume = {
          uuid: uuid(), name: v.name, svm: s.name, path: v.path, exportPolicy: v.exportPolicy ?? 'default', state: 'online',
          style: v.style ?? 'flexvol', size: v.size ?? 1099511627776, createTime: t0 - 86400_000 * 30, files, snapshots: [],
        };
        (v.snapshots ?? []).forEach((sn, i) =>
          vol.snapshots.push({ uuid: uuid(), name: sn.name, comment: sn.comment, createTime: sn.createTime ? Date.parse(sn.createTime) : t0 - 3600_000 * (24 - i), files: new Map(files) }));
        this.volumes.push(vol);
        if (v.clone) clones.push([vol, v.clone]);
      }
    }
    for (const g of seed.consistencyGroups ?? []) this.groups.push({ uuid: uuid(), name: g.name, svm: g.svm, volumes: [...g.volumes] });
    for (const m of seed.snapmirrors ?? []) this.mirrors.push({ uuid: uuid(), source: m.source, destination: m.destination, state: m.state ?? 'snapmirrored', transfers: 0 });
    for (const [vol, c] of clones) {
      const parent = this.volume(vol.svm, c.parentVolume);
      const snap = this.snapshot(parent, c.parentSnapshot);
      vol.clone = { parentVolume: parent.name, parentVolumeUuid: parent.uuid, parentSnapshot: snap.name, parentSnapshotUuid: snap.uuid };
      vol.files = new Map(snap.files);
    }
  }

  static fromFile(file: string, opts: StateOptions = {}): OntapState {
    const seed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    checkSeed(seed, file);
    try {
      return new OntapState(seed, opts);
    } catch (e) {
      // a clone whose parent volume or snapshot the seed does not have
      if (e instanceof SimError) throw new UsageError(`${file}: ${e.message}`);
      throw e;
    }
  }

  // ---- lookups --------------------------------------------------------------------

  svm(name: string): SimSvm {
    const s = this.svms.find((x) => x.name === name);
    if (!s) throw ERR.noEntry(`SVM "${name}"`);
    return s;
  }

  /** By name within an SVM (or cluster-wide when unique), or by uuid. */
  volume(svm: string | undefined, nameOrUuid: string): SimVolume {
    const byUuid = this.volumes.find((v) => v.uuid === nameOrUuid);
    if (byUuid) return byUuid;
    const hits = this.volumes.filter((v) => v.name === nameOrUuid && (!svm || v.svm === svm));
    if (hits.length !== 1) throw ERR.noVolume(nameOrUuid);
    return hits[0];
  }

  snapshot(vol: SimVolume, nameOrUuid: string): SimSnapshot {
    const s = vol.snapshots.find((x) => x.uuid === nameOrUuid || x.name === nameOrUuid);
    if (!s) throw ERR.noSnapshot(nameOrUuid, vol.name);
    return s;
  }

  clonesOf(vol: SimVolume, snapshot?: string): SimVolume[] {
    return this.volumes.filter((v) => v.clone && v.clone.parentVolumeUuid === vol.uuid && (!snapshot || v.clone.parentSnapshot === snapshot));
  }

  /** Clones that still own a snapshot: the live ones and those in the recovery queue. */
  ownersOf(vol: SimVolume, snapshot: string): SimVolume[] {
    return [...this.clonesOf(vol, snapshot), ...this.recoveryQueue.map((q) => q.volume).filter((v) => v.clone?.parentVolumeUuid === vol.uuid && v.clone.parentSnapshot === snapshot)];
  }

  /** The recovery queue exists from ONTAP 9.12 on. */
  hasRecoveryQueue(): boolean {
    const [g, m] = this.version.split('.').map(Number);
    return g > 9 || (g === 9 && m >= 12);
  }

  // ---- operations (each checks everything before it changes anything) ---------------

  createSnapshot(vol: SimVolume, name: string, comment?: string, o: { uuid?: string; snapmirrorLabel?: string; expiryTime?: number } = {}): SimSnapshot {
    if (!/^[A-Za-z0-9_.:+-]{1,255}$/.test(name)) throw ERR.invalid(`invalid snapshot name "${name}"`);
    if (vol.snapshots.some((s) => s.name === name)) throw ERR.duplicate(`Snapshot copy "${name}" of volume "${vol.name}"`);
    if (o.expiryTime !== undefined && Number.isNaN(o.expiryTime)) throw ERR.invalid('invalid expiry_time');
    this.online(vol);
    const snap: SimSnapshot = { uuid: o.uuid ?? uuid(), name, comment, snapmirrorLabel: o.snapmirrorLabel, expiryTime: o.expiryTime, createTime: this.now(), files: new Map(vol.files) };
    vol.snapshots.push(snap);
    return snap;
  }

  deleteSnapshot(vol: SimVolume, snapName: string): void {
    const snap = this.snapshot(vol, snapName);
    const holder = this.ownersOf(vol, snap.name)[0];
    if (holder) throw ERR.busy(snap.name, vol.name, vol.svm, holder.name);
    if (snap.expiryTime !== undefined && snap.expiryTime > this.now()) throw ERR.expiry(snap.name, vol.name, new Date(snap.expiryTime).toISOString());
    vol.snapshots = vol.snapshots.filter((s) => s !== snap);
  }

  /** Volume SnapRestore: the active file system becomes the snapshot; newer snapshots go. */
  restore(vol: SimVolume, snapName: string): void {
    const snap = this.snapshot(vol, snapName);
    this.online(vol);
    const newer = vol.snapshots.filter((s) => s.createTime > snap.createTime);
    for (const n of newer) {
      const holder = this.ownersOf(vol, n.name)[0];
      if (holder) throw ERR.busy(n.name, vol.name, vol.svm, holder.name);
    }
    vol.files = new Map(snap.files);
    vol.snapshots = vol.snapshots.filter((s) => !newer.includes(s));
  }

  checkNewVolume(svm: string, name: string, path?: string): void {
    this.svm(svm);
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,202}$/.test(name)) throw ERR.invalid(`invalid volume name "${name}"`);
    if (this.volumes.some((v) => v.svm === svm && v.name === name)) throw ERR.duplicate(`Volume "${name}" in Vserver "${svm}"`);
    if (path) this.checkJunction(svm, path);
  }

  private checkJunction(svm: string, path: string): void {
    if (!path.startsWith('/')) throw ERR.invalid(`junction path "${path}" must start with "/"`);
    if (this.volumes.some((v) => v.svm === svm && v.path === path)) throw ERR.duplicate(`Junction path "${path}" in Vserver "${svm}"`);
  }

  createClone(o: { svm: string; name: string; parentVolume: string; parentSnapshot: string; path?: string; exportPolicy?: string; uuid?: string }): SimVolume {
    this.checkNewVolume(o.svm, o.name, o.path);
    const parent = this.volume(o.svm, o.parentVolume);
    const snap = this.snapshot(parent, o.parentSnapshot);
    const vol: SimVolume = {
      uuid: o.uuid ?? uuid(), name: o.name, svm: o.svm, path: o.path, exportPolicy: o.exportPolicy ?? 'default', state: 'online', style: parent.style,
      size: parent.size, createTime: this.now(), files: new Map(snap.files), snapshots: [],
      clone: { parentVolume: parent.name, parentVolumeUuid: parent.uuid, parentSnapshot: snap.name, parentSnapshotUuid: snap.uuid },
    };
    this.volumes.push(vol);
    return vol;
  }

  createVolume(o: { svm: string; name: string; path?: string; exportPolicy?: string; style?: 'flexvol' | 'flexgroup'; uuid?: string }): SimVolume {
    this.checkNewVolume(o.svm, o.name, o.path);
    const vol: SimVolume = {
      uuid: o.uuid ?? uuid(), name: o.name, svm: o.svm, path: o.path, exportPolicy: o.exportPolicy ?? 'default', state: 'online', style: o.style ?? 'flexvol',
      size: 1099511627776, createTime: this.now(), files: new Map(), snapshots: [],
    };
    this.volumes.push(vol);
    return vol;
  }

  modifyVolume(vol: SimVolume, o: { path?: string; exportPolicy?: string; state?: 'online' | 'offline' }): void {
    if (o.path) this.checkJunction(vol.svm, o.path);
    if (o.state && !['online', 'offline'].includes(o.state)) throw ERR.invalid(`invalid volume state "${o.state}"`);
    if (o.path !== undefined) vol.path = o.path === '' ? undefined : o.path;
    if (o.exportPolicy !== undefined) vol.exportPolicy = o.exportPolicy;
    if (o.state !== undefined) {
      if (o.state === 'offline') vol.path = undefined;
      vol.state = o.state;
    }
  }

  /**
   * Delete a volume. From 9.12 on, without `force` it goes to its SVM's recovery queue:
   * renamed <name>_<id>, out of the volume list, kept for 12 hours, and a FlexClone there
   * still owns its parent snapshot (DELETE /storage/volumes/{uuid}, `force` "bypasses the
   * recovery-queue": https://docs.netapp.com/us-en/ontap-restapi/delete-storage-volumes-.html;
   * `volume recovery-queue purge`: https://docs.netapp.com/us-en/ontap-cli/volume-recovery-queue-purge.html).
   */
  deleteVolume(vol: SimVolume, force = false): void {
    const child = this.clonesOf(vol)[0];
    if (child) throw new SimError('917536', `Volume "${vol.name}" in Vserver "${vol.svm}" has FlexClone volume "${child.name}"; delete or split the clone first`, 409, 13024);
    this.volumes.splice(this.volumes.indexOf(vol), 1);
    if (force || !this.hasRecoveryQueue()) return;
    const entry: SimQueued = { volume: { ...vol, name: `${vol.name}_${this.recoveryQueue.length + 1000}`, path: undefined, state: 'offline' }, deletedAt: this.now() };
    this.recoveryQueue.push(entry);
    this.clock.after(RECOVERY_RETENTION_S, () => {
      const i = this.recoveryQueue.indexOf(entry);
      if (i >= 0) this.recoveryQueue.splice(i, 1);
    });
  }

  fileClone(vol: SimVolume, source: string, destination: string, overwrite = false): void {
    if (vol.style === 'flexgroup') throw new SimError('13001', `file clone is not supported on FlexGroup volume "${vol.name}"`, 400, 13001);
    this.online(vol);
    const src = normPath(source);
    const dst = normPath(destination);
    const f = vol.files.get(src);
    if (!f) throw ERR.noFile(src, vol.name);
    if (vol.files.has(dst) && !overwrite) throw ERR.duplicate(`File "${dst}" in volume "${vol.name}"`);
    if (this.isDir(vol, dst)) throw ERR.duplicate(`Directory "${dst}" in volume "${vol.name}"`);
    vol.files.set(dst, { size: f.size, origin: `clone:${vol.name}/${src}` });
  }

  /**
   * The files a path of the files API sees: below `.snapshot/<name>/` those of that
   * snapshot (read-only), else the active file system. ONTAP shows a volume's snapshots
   * in its `.snapshot` directory (NFS and the files API alike).
   */
  view(vol: SimVolume, p: string): { files: Map<string, SimFile>; rel: string; snapshot?: SimSnapshot } {
    const key = normPath(p);
    const m = /^\.snapshot\/([^/]+)(?:\/(.*))?$/.exec(key);
    if (!m) return { files: vol.files, rel: key };
    const snap = vol.snapshots.find((x) => x.name === m[1]);
    if (!snap) throw ERR.noFile(key, vol.name);
    return { files: snap.files, rel: m[2] ?? '', snapshot: snap };
  }

  /** A new file with its content (POST /storage/volumes/{uuid}/files/{path}). */
  writeFile(vol: SimVolume, p: string, content: string, overwrite: boolean): void {
    this.online(vol);
    const v = this.view(vol, p);
    if (v.snapshot || v.rel.startsWith('.snapshot')) throw new SimError('917505', `"${normPath(p)}": a snapshot is read-only`, 400);
    if (!v.rel) throw ERR.invalid('a file needs a name');
    if (vol.files.has(v.rel) && !overwrite) throw ERR.duplicate(`File "${v.rel}" in volume "${vol.name}"`);
    if (this.isDir(vol, v.rel)) throw ERR.duplicate(`Directory "${v.rel}" in volume "${vol.name}"`);
    vol.files.set(v.rel, { size: Buffer.byteLength(content), origin: `written:${vol.name}/${v.rel}`, content });
  }

  /** Bytes of a file, active or in a snapshot. */
  readFile(vol: SimVolume, p: string, offset: number, length: number): string {
    const v = this.view(vol, p);
    const f = v.files.get(v.rel);
    if (!f) throw ERR.noFile(normPath(p), vol.name);
    return Buffer.from(f.content ?? '').subarray(offset, offset + length).toString();
  }

  deleteFile(vol: SimVolume, p: string): void {
    const key = normPath(p);
    if (!vol.files.has(key)) throw ERR.noFile(key, vol.name);
    vol.files.delete(key);
  }

  /**
   * A directory of the volume, also one inside `.snapshot/<name>/`: the files API lists a
   * directory of a snapshot like any other (paths are relative to the volume, GET
   * /storage/volumes/{volume.uuid}/files/{path},
   * https://docs.netapp.com/us-en/ontap-restapi-97/ontap/storage_volumes_volume.uuid_files_path_endpoint_overview.html),
   * and its pages need the same cursor.
   */
  isDir(vol: SimVolume, p: string): boolean {
    const { files, rel: key } = this.view(vol, p);
    if (key === '') return true;
    for (const f of files.keys()) if (f.startsWith(key + '/')) return true;
    return false;
  }

  /** Entries directly below a directory: files with sizes, sub-directories. */
  listDir(vol: SimVolume, p: string): { name: string; type: 'file' | 'directory'; size: number }[] {
    const { files, rel: key } = this.view(vol, p);
    const isDir = key === '' || [...files.keys()].some((f) => f.startsWith(key + '/'));
    if (!isDir) {
      if (files.has(key)) return [{ name: key.split('/').pop()!, type: 'file', size: files.get(key)!.size }];
      throw ERR.noFile(normPath(p), vol.name);
    }
    const prefix = key ? key + '/' : '';
    const seen = new Map<string, { name: string; type: 'file' | 'directory'; size: number }>();
    for (const [f, info] of files) {
      if (!f.startsWith(prefix)) continue;
      const rest = f.slice(prefix.length);
      const [head, ...more] = rest.split('/');
      if (!seen.has(head)) seen.set(head, more.length ? { name: head, type: 'directory', size: 4096 } : { name: head, type: 'file', size: info.size });
    }
    return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private online(vol: SimVolume): void {
    if (vol.state !== 'online') throw new SimError('917505', `volume "${vol.name}" is offline`, 400, 13042);
  }

  /** A consistency-group snapshot: every volume of the group, one instant; all or none. */
  groupSnapshot(g: { name: string; svm: string; volumes: string[] }, name: string, comment?: string, o: { snapmirrorLabel?: string } = {}): void {
    const vols = g.volumes.map((v) => this.volume(g.svm, v));
    for (const v of vols) {
      if (v.snapshots.some((s) => s.name === name)) throw ERR.duplicate(`Snapshot copy "${name}" of volume "${v.name}"`);
      this.online(v);
    }
    const t = this.now();
    for (const v of vols) {
      const snap = this.createSnapshot(v, name, comment, o);
      snap.createTime = t;
    }
  }

  /** A SnapMirror update: only a mirrored relationship transfers. */
  updateMirror(m: SimMirror): void {
    if (m.state !== 'snapmirrored') throw new SimError('13303812', `SnapMirror relationship ${m.source} -> ${m.destination} is ${m.state}; it cannot be updated`, 409, 13102);
    m.transfers++;
  }

  // ---- jobs ---------------------------------------------------------------------------

  /**
   * Run an operation as an ONTAP job: queued now, done after the operation's scaled
   * duration. The action runs at the end, so the state changes when the job succeeds.
   * `failure` forces the job to fail after `partial` ran (the fault injector's hook).
   */
  startJob(kind: string, description: string, action: () => void, failure?: { code: number; message: string; partial?: () => void }): SimJob {
    let finish!: () => void;
    const job: SimJob = { uuid: uuid(), description, state: 'queued', message: '', code: 0, startTime: this.now(), done: new Promise((r) => (finish = r)) };
    this.jobs.set(job.uuid, job);
    const duration = DURATION[kind] ?? 1;
    this.clock.after(duration / 4, () => {
      if (job.state === 'queued') job.state = 'running';
    });
    this.clock.after(duration, () => {
      try {
        if (failure) {
          failure.partial?.();
          throw new SimError(String(failure.code), failure.message);
        }
        action();
        job.state = 'success';
        job.message = 'success';
      } catch (e) {
        const err = e instanceof SimError ? e : new SimError('1', String((e as Error).message ?? e));
        job.state = 'failure';
        job.code = Number(err.code);
        job.message = err.message;
        job.error = { code: err.code, message: err.message };
      }
      job.endTime = this.now();
      finish();
      this.clock.after(JOB_RETENTION_S, () => this.jobs.delete(job.uuid));
    });
    return job;
  }

  close(): void {
    this.clock.close();
  }

  /** The whole state as JSON, for the control API and the tests. */
  dump(): unknown {
    return {
      cluster: this.cluster,
      svms: this.svms,
      lifs: this.lifs,
      volumes: this.volumes.map((v) => ({
        uuid: v.uuid, name: v.name, svm: v.svm, path: v.path ?? null, exportPolicy: v.exportPolicy, state: v.state, style: v.style, clone: v.clone ?? null,
        files: Object.fromEntries([...v.files].map(([k, f]) => [k, f])),
        snapshots: v.snapshots.map((s) => ({
          uuid: s.uuid, name: s.name, comment: s.comment ?? null, createTime: new Date(s.createTime).toISOString(),
          snapmirrorLabel: s.snapmirrorLabel ?? null, expiryTime: s.expiryTime ? new Date(s.expiryTime).toISOString() : null,
          // the files written through the files API (with content), as the snapshot holds them
          files: Object.fromEntries([...s.files].filter(([, f]) => f.content !== undefined)),
        })),
      })),
      recoveryQueue: this.recoveryQueue.map((q) => ({ name: q.volume.name, svm: q.volume.svm, clone: q.volume.clone ?? null, deletedAt: new Date(q.deletedAt).toISOString() })),
      snapmirrors: this.mirrors,
      consistencyGroups: this.groups,
      jobs: [...this.jobs.values()].map(({ done: _d, ...j }) => j),
    };
  }
}

/** Paths inside a volume: relative, no leading or trailing slash, no `.` parts. */
export function normPath(p: string): string {
  return p.split('/').filter((x) => x && x !== '.').join('/');
}
