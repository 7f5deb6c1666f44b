// What the ontap-snapshot tool needs from a cluster, independent of the protocol. REST
// (lib/clients/ontap/rest.ts) and ZAPI (lib/clients/ontap/zapi.ts) implement it.

export interface VolumeInfo {
  uuid: string;
  name: string;
  svm: string;
  /** junction path; absent while the volume is not mounted */
  path?: string;
  exportPolicy?: string;
  isClone: boolean;
  parentVolume?: string;
  parentSnapshot?: string;
  style?: string;
  state?: string;
}

export interface SnapshotInfo {
  name: string;
  uuid?: string;
  /** ISO 8601 */
  createTime?: string;
  comment?: string;
  snapmirrorLabel?: string;
  /** ISO 8601: ONTAP refuses to delete the snapshot before then */
  expiryTime?: string;
}

export interface SnapshotOptions {
  comment?: string;
  snapmirrorLabel?: string;
  /** ISO 8601 */
  expiryTime?: string;
}

/** A SnapMirror relationship whose source is a volume. */
export interface MirrorInfo {
  uuid: string;
  /** svm:volume */
  source: string;
  destination: string;
  state?: string;
}

export interface DataLif {
  svm: string;
  ip: string;
  name?: string;
  state?: string;
}

export interface FileEntry {
  name: string;
  type: 'file' | 'directory';
  size?: number;
}

export interface FlexCloneSpec {
  svm: string;
  name: string;
  parent: VolumeInfo;
  snapshot: string;
  path: string;
  exportPolicy?: string;
}

export interface Ontap {
  readonly api: 'rest' | 'zapi';
  /** host[:port] of the management interface, for messages */
  readonly host: string;
  /** requests sent so far (job polls included) */
  requests(): number;
  version(): Promise<string>;
  /** every data LIF that serves NFS */
  nfsLifs(): Promise<DataLif[]>;
  /** volumes of an SVM, optionally only the one mounted at `path` */
  volumes(svm: string, filter?: { path?: string; name?: string }): Promise<VolumeInfo[]>;
  /** FlexClones whose parent is this volume */
  clonesOf(vol: VolumeInfo): Promise<VolumeInfo[]>;
  snapshots(vol: VolumeInfo): Promise<SnapshotInfo[]>;
  createSnapshot(vol: VolumeInfo, name: string, opts?: SnapshotOptions): Promise<void>;
  deleteSnapshot(vol: VolumeInfo, snapshot: SnapshotInfo): Promise<void>;
  restoreSnapshot(vol: VolumeInfo, name: string): Promise<void>;
  createFlexClone(spec: FlexCloneSpec): Promise<void>;
  unmountVolume(vol: VolumeInfo): Promise<void>;
  /**
   * Take the volume offline (if needed) and delete it for good: not into the volume
   * recovery queue, where a FlexClone would keep its parent snapshot busy for hours.
   */
  deleteVolume(vol: VolumeInfo): Promise<void>;
  /**
   * One snapshot of several volumes at the same instant through a consistency group that
   * holds all of them; false when there is none (or the protocol has none), and nothing
   * was made.
   */
  groupSnapshot(vols: VolumeInfo[], name: string, opts?: SnapshotOptions): Promise<string | false>;
  /** SnapMirror relationships whose source is this volume */
  mirrorsOf(vol: VolumeInfo): Promise<MirrorInfo[]>;
  /** start an update (transfer) of a relationship and wait for it */
  updateMirror(m: MirrorInfo): Promise<void>;
  /** a file or directory, or undefined when there is nothing at that path */
  fileInfo(vol: VolumeInfo, path: string): Promise<FileEntry | undefined>;
  listDir(vol: VolumeInfo, path: string): Promise<FileEntry[]>;
  /** clone a file within its volume; never overwrites */
  cloneFile(vol: VolumeInfo, source: string, destination: string): Promise<void>;
  deleteFile(vol: VolumeInfo, path: string): Promise<void>;
  /**
   * Small files with content (at most 1 MB), through the REST files API; ZAPI has no
   * call that writes file data, so it leaves these out.
   */
  writeFile?(vol: VolumeInfo, path: string, content: string): Promise<void>;
  /** the content, or undefined when there is no such file; `.snapshot/<name>/...` reads a snapshot */
  readFile?(vol: VolumeInfo, path: string): Promise<string | undefined>;
}

/**
 * Job polling: 1 s, then x1.4 per poll, at most 2 s (what works well on real clusters),
 * all multiplied by `scale` so tests against a fast simulator need not wait seconds.
 */
export function nextJobDelay(prev: number | undefined, scale = 1): number {
  const first = 1000 * scale;
  const max = 2000 * scale;
  return prev === undefined ? first : Math.min(max, prev * 1.4);
}

/** The scale for job polling: AUTOSNAP_ONTAP_POLL_SCALE (tests), else 1. */
export function pollScale(env: Record<string, string | undefined> = process.env): number {
  const v = Number(env.AUTOSNAP_ONTAP_POLL_SCALE);
  return v > 0 && v <= 1 ? v : 1;
}
