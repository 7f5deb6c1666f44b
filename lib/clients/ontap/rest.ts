// ONTAP over REST (9.6+): collections read with explicit `fields=` and followed through
// `_links.next`; asynchronous calls (202 + job) polled until they end or time out.
import crypto from 'node:crypto';
import { AppError } from '../../core/errors.ts';
import { OntapError } from './errors.ts';
import type { OntapHttp } from './http.ts';
import { nextJobDelay, type DataLif, type FileEntry, type FlexCloneSpec, type MirrorInfo, type Ontap, type SnapshotInfo, type SnapshotOptions, type VolumeInfo } from './types.ts';

export interface RestOptions {
  /** give up waiting for a job after this long */
  jobTimeoutMs?: number;
  pollScale?: number;
  sleep?: (ms: number) => Promise<void>;
}

type Rec = Record<string, any>;

const VOLUME_FIELDS = 'uuid,name,svm.name,nas.path,nas.export_policy.name,clone.is_flexclone,clone.parent_volume.name,clone.parent_snapshot.name,style,state';

/** Encode a query; `fields` and filters keep their commas, `|`, `*` and `!` readable. */
export function queryString(q: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v)).replace(/%2C/g, ',').replace(/%7C/g, '|').replace(/%2F/g, '/').replace(/%2A/g, '*')}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The body of the first part of a multipart answer; the text itself when it is not one. */
export function firstPart(text: string): string {
  const m = /^--([^\r\n]+)\r?\n/.exec(text);
  if (!m) return text;
  const start = text.indexOf('\r\n\r\n', m[0].length);
  if (start < 0) return '';
  const end = text.indexOf(`\r\n--${m[1]}`, start + 4);
  return text.slice(start + 4, end < 0 ? undefined : end);
}

function toVolume(r: Rec): VolumeInfo {
  return {
    uuid: r.uuid,
    name: r.name,
    svm: r.svm?.name,
    path: r.nas?.path || undefined,
    exportPolicy: r.nas?.export_policy?.name,
    isClone: r.clone?.is_flexclone === true,
    parentVolume: r.clone?.parent_volume?.name,
    parentSnapshot: r.clone?.parent_snapshot?.name,
    style: r.style,
    state: r.state,
  };
}

/**
 * Volume, snapshot and job uuids (and a snapshot's name when no uuid came with it) are read
 * from ONTAP's answers and put into request paths. A dot segment, raw or percent-encoded,
 * would be collapsed by the server: a snapshot uuid `../../OTHER` turns the delete of a
 * snapshot into `DELETE /api/storage/volumes/OTHER`, the delete of a whole volume. So a
 * path with an empty, `.` or `..` segment is refused before anything is sent.
 */
export function assertOntapPath(what: string, method: string, path: string): void {
  const segments = path.split('?')[0].split('/').slice(1);
  const bad = segments.find((seg, i) => {
    // a trailing slash on a read (the files API's volume root) changes nothing; on a
    // write it would hit the collection (an empty snapshot uuid: every snapshot)
    if (seg === '' && i === segments.length - 1 && method === 'GET') return false;
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      return true;
    }
    // the files API takes a path inside one segment (`%2F`): its parts are checked too
    return d === '' || d.split(/[/\\]/).some((x) => x === '.' || x === '..');
  });
  if (bad !== undefined) throw new AppError(`${what}: refusing the request path ${JSON.stringify(path).slice(0, 160)}: it holds the segment ${JSON.stringify(bad)}, which ONTAP could not have named`);
}

export class RestOntap implements Ontap {
  readonly api = 'rest' as const;
  readonly host: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly http: OntapHttp, private readonly opts: RestOptions = {}) {
    this.host = http.host;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  requests(): number {
    return this.http.requests;
  }

  /** One call; an error answer becomes OntapError naming `what`. */
  async call(what: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Rec }> {
    assertOntapPath(what, method, path);
    const res = await this.http.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    let json: Rec;
    try {
      json = res.text.trim() ? JSON.parse(res.text) : {};
    } catch {
      throw new OntapError({ what, code: res.status, message: `unreadable answer (HTTP ${res.status}, not JSON)`, status: res.status });
    }
    if (res.status >= 400) {
      const err = json.error ?? {};
      throw new OntapError({ what, code: err.code ?? res.status, message: err.message ?? `HTTP ${res.status}`, status: res.status });
    }
    return { status: res.status, json };
  }

  /** Every record of a collection, page after page. */
  async collect(what: string, path: string, query: Record<string, string | number | boolean | undefined>): Promise<Rec[]> {
    const out: Rec[] = [];
    let next: string | undefined = path + queryString(query);
    for (let pages = 0; next; pages++) {
      if (pages > 10_000) throw new AppError(`${what}: more than 10000 pages; giving up`);
      const { json }: { json: Rec } = await this.call(what, 'GET', next);
      out.push(...(json.records ?? []));
      next = json._links?.next?.href;
    }
    return out;
  }

  /** Send a call that may run as a job; wait for the job when it is one. */
  async job(what: string, method: string, path: string, body?: unknown): Promise<void> {
    const { status, json } = await this.call(what, method, path, body);
    const uuid: string | undefined = json.job?.uuid;
    if (status !== 202 || !uuid) return;
    const deadline = Date.now() + (this.opts.jobTimeoutMs ?? 300_000);
    let delay: number | undefined;
    for (;;) {
      delay = nextJobDelay(delay, this.opts.pollScale ?? 1);
      await this.sleep(delay);
      let j: Rec;
      try {
        j = (await this.call(what, 'GET', `/api/cluster/jobs/${uuid}?fields=state,message,code,error`)).json;
      } catch (e) {
        // ONTAP forgets a job 300 s after it ended; polling every 2 s cannot miss that,
        // so a missing job means the outcome is unknown and must be checked by hand
        if (e instanceof OntapError && e.code === '4') throw new AppError(`${what}: job ${uuid} vanished before its outcome was read; check the result on the cluster`);
        throw e;
      }
      if (j.state === 'success') return;
      if (j.state === 'failure') {
        throw new OntapError({ what, code: j.error?.code ?? j.code ?? '?', message: j.error?.message ?? j.message ?? 'job failed' });
      }
      if (Date.now() > deadline) {
        throw new AppError(`${what}: job ${uuid} still ${j.state} after ${Math.round((this.opts.jobTimeoutMs ?? 300_000) / 1000)} s; it may still finish on the cluster`);
      }
    }
  }

  private versionInfo?: Promise<Rec>;

  private clusterVersion(): Promise<Rec> {
    return (this.versionInfo ??= this.call('read cluster version', 'GET', '/api/cluster?fields=version').then((r) => r.json.version ?? {}));
  }

  async version(): Promise<string> {
    return (await this.clusterVersion()).full ?? 'unknown';
  }

  /** Is the cluster at least generation.major (9.12 = 9, 12)? */
  async atLeast(generation: number, major: number): Promise<boolean> {
    const v = await this.clusterVersion();
    const g = Number(v.generation);
    const m = Number(v.major);
    return g > generation || (g === generation && m >= major);
  }

  async nfsLifs(): Promise<DataLif[]> {
    const recs = await this.collect('list NFS data LIFs', '/api/network/ip/interfaces', { services: 'data_nfs', fields: 'name,ip.address,svm.name,state' });
    return recs.map((r) => ({ svm: r.svm?.name, ip: r.ip?.address, name: r.name, state: r.state }));
  }

  async volumes(svm: string, filter: { path?: string; name?: string } = {}): Promise<VolumeInfo[]> {
    const recs = await this.collect(`list volumes of SVM ${svm}`, '/api/storage/volumes', {
      'svm.name': svm,
      'nas.path': filter.path,
      name: filter.name,
      fields: VOLUME_FIELDS,
    });
    return recs.map(toVolume);
  }

  async clonesOf(vol: VolumeInfo): Promise<VolumeInfo[]> {
    const recs = await this.collect(`list clones of volume ${vol.name}`, '/api/storage/volumes', {
      'svm.name': vol.svm,
      'clone.is_flexclone': true,
      'clone.parent_volume.name': vol.name,
      fields: VOLUME_FIELDS,
    });
    return recs.map(toVolume);
  }

  async snapshots(vol: VolumeInfo): Promise<SnapshotInfo[]> {
    const recs = await this.collect(`list snapshots of volume ${vol.name}`, `/api/storage/volumes/${vol.uuid}/snapshots`, { fields: 'name,create_time,comment,snapmirror_label,expiry_time' });
    return recs.map((r) => ({ name: r.name, uuid: r.uuid, createTime: r.create_time, comment: r.comment, snapmirrorLabel: r.snapmirror_label || undefined, expiryTime: r.expiry_time }));
  }

  // snapmirror_label and expiry_time are fields of the snapshot record since 9.6 (POST
  // /storage/volumes/{volume.uuid}/snapshots,
  // https://docs.netapp.com/us-en/ontap-restapi/post-storage-volumes-snapshots.html)
  createSnapshot(vol: VolumeInfo, name: string, o: SnapshotOptions = {}): Promise<void> {
    return this.job(`create snapshot ${name} of volume ${vol.name}`, 'POST', `/api/storage/volumes/${vol.uuid}/snapshots`, {
      name,
      ...(o.comment ? { comment: o.comment } : {}),
      ...(o.snapmirrorLabel ? { snapmirror_label: o.snapmirrorLabel } : {}),
      ...(o.expiryTime ? { expiry_time: o.expiryTime } : {}),
    });
  }

  deleteSnapshot(vol: VolumeInfo, snap: SnapshotInfo): Promise<void> {
    return this.job(`delete snapshot ${snap.name} of volume ${vol.name}`, 'DELETE', `/api/storage/volumes/${vol.uuid}/snapshots/${snap.uuid ?? encodeURIComponent(snap.name)}`);
  }

  restoreSnapshot(vol: VolumeInfo, name: string): Promise<void> {
    return this.job(`restore volume ${vol.name} to snapshot ${name}`, 'PATCH', `/api/storage/volumes/${vol.uuid}${queryString({ 'restore_to.snapshot.name': name })}`, {});
  }

  createFlexClone(s: FlexCloneSpec): Promise<void> {
    return this.job(`create FlexClone ${s.name} of ${s.parent.name}@${s.snapshot}`, 'POST', '/api/storage/volumes', {
      name: s.name,
      svm: { name: s.svm },
      clone: { parent_volume: { name: s.parent.name }, parent_snapshot: { name: s.snapshot }, is_flexclone: true },
      nas: { path: s.path, ...(s.exportPolicy ? { export_policy: { name: s.exportPolicy } } : {}) },
    });
  }

  unmountVolume(vol: VolumeInfo): Promise<void> {
    return this.job(`unmount volume ${vol.name}`, 'PATCH', `/api/storage/volumes/${vol.uuid}`, { nas: { path: '' } });
  }

  // Since 9.12 a deleted volume goes to the SVM's recovery queue (12 h by default) and
  // keeps its blocks; a FlexClone there still owns its parent snapshot, which then cannot
  // be deleted. `force=true` "bypasses the recovery-queue and completely removes the
  // volume" (DELETE /storage/volumes/{uuid}, introduced in 9.12:
  // https://docs.netapp.com/us-en/ontap-restapi/delete-storage-volumes-.html). Older
  // releases have no queue and refuse the unknown parameter, so it is sent from 9.12 on.
  async deleteVolume(vol: VolumeInfo): Promise<void> {
    const force = (await this.atLeast(9, 12)) ? '?force=true' : '';
    await this.job(`delete volume ${vol.name}`, 'DELETE', `/api/storage/volumes/${vol.uuid}${force}`);
  }

  // Consistency groups (9.10+): a group whose volumes include all of ours takes one
  // snapshot of every volume in it at the same instant (POST
  // /application/consistency-groups/{consistency_group.uuid}/snapshots,
  // https://docs.netapp.com/us-en/ontap-restapi/post-application-consistency-groups-snapshots.html).
  // The smallest such group is used; its other volumes get the snapshot too.
  async groupSnapshot(vols: VolumeInfo[], name: string, o: SnapshotOptions = {}): Promise<string | false> {
    if (!(await this.atLeast(9, 10))) return false;
    const svm = vols[0].svm;
    if (vols.some((v) => v.svm !== svm)) return false;
    const groups = await this.collect('list consistency groups', '/api/application/consistency-groups', { 'svm.name': svm, fields: 'name,svm.name,volumes.name' });
    const fit = groups
      .map((g) => ({ g, names: ((g.volumes ?? []) as Rec[]).map((v) => v.name) }))
      .filter((x) => vols.every((v) => x.names.includes(v.name)))
      .sort((a, b) => a.names.length - b.names.length)[0];
    if (!fit) return false;
    await this.job(`create snapshot ${name} of consistency group ${fit.g.name}`, 'POST', `/api/application/consistency-groups/${fit.g.uuid}/snapshots`, {
      name,
      ...(o.comment ? { comment: o.comment } : {}),
      ...(o.snapmirrorLabel ? { snapmirror_label: o.snapmirrorLabel } : {}),
    });
    return fit.g.name;
  }

  // A volume's outgoing relationships: list_destinations_only=true asks the source side
  // (GET /snapmirror/relationships,
  // https://docs.netapp.com/us-en/ontap-restapi/get-snapmirror-relationships.html)
  async mirrorsOf(vol: VolumeInfo): Promise<MirrorInfo[]> {
    const recs = await this.collect(`list SnapMirror relationships of volume ${vol.name}`, '/api/snapmirror/relationships', {
      list_destinations_only: true,
      'source.path': `${vol.svm}:${vol.name}`,
      fields: 'uuid,source.path,destination.path,state',
    });
    return recs.map((r) => ({ uuid: r.uuid, source: r.source?.path, destination: r.destination?.path, state: r.state }));
  }

  // POST /snapmirror/relationships/{uuid}/transfers with an empty body is an update
  // (https://docs.netapp.com/us-en/ontap-restapi/post-snapmirror-relationships-transfers.html)
  updateMirror(m: MirrorInfo): Promise<void> {
    return this.job(`update SnapMirror ${m.source} -> ${m.destination}`, 'POST', `/api/snapmirror/relationships/${m.uuid}/transfers`, {});
  }

  private filePath(vol: VolumeInfo, path: string): string {
    const rel = path.split('/').filter(Boolean).join('/');
    // "The path field requires using "%2E" to represent "." and "%2F" to represent "/""
    // (GET /storage/volumes/{volume.uuid}/files/{path} in NetApp's REST reference)
    return `/api/storage/volumes/${vol.uuid}/files/${encodeURIComponent(rel).replace(/\./g, '%2E')}`;
  }

  async fileInfo(vol: VolumeInfo, path: string): Promise<FileEntry | undefined> {
    const rel = path.split('/').filter(Boolean);
    const parent = rel.slice(0, -1).join('/');
    const name = rel[rel.length - 1];
    try {
      const entries = await this.listDir(vol, parent);
      return entries.find((e) => e.name === name);
    } catch (e) {
      if (e instanceof OntapError && e.code === '4') return undefined;
      throw e;
    }
  }

  // a large directory comes in pages like any collection (GET
  // /storage/volumes/{volume.uuid}/files/{path}: max_records, _links.next)
  async listDir(vol: VolumeInfo, path: string): Promise<FileEntry[]> {
    const recs = await this.collect(`list ${path || '/'} in volume ${vol.name}`, this.filePath(vol, path), { fields: 'name,type,size' });
    return recs
      .filter((r: Rec) => r.name !== '.' && r.name !== '..')
      .map((r: Rec) => ({ name: r.name, type: r.type === 'directory' ? 'directory' : 'file', size: r.size }));
  }

  cloneFile(vol: VolumeInfo, source: string, destination: string): Promise<void> {
    return this.job(`clone file ${source} to ${destination} in volume ${vol.name}`, 'POST', '/api/storage/file/clone', {
      volume: { uuid: vol.uuid, name: vol.name },
      source_path: source,
      destination_path: destination,
      overwrite_destination: false,
    });
  }

  // File data (https://docs.netapp.com/us-en/ontap-restapi-97/ontap/storage_volumes_volume.uuid_files_path_endpoint_overview.html):
  // a write is multipart/form-data, at most 1 MB per request; the reference names the
  // form field "data" (POST .../files/{path}, "data: formData"), the overview's curl
  // example uses "file": we send "data" as the parameter table says (assumption).
  async writeFile(vol: VolumeInfo, path: string, content: string): Promise<void> {
    if (Buffer.byteLength(content) > 1048576) throw new AppError(`${path}: more than 1 MB, which ONTAP does not take in one write`);
    // A file already there is deleted first: PATCH writes at an offset and would leave
    // the tail of a longer old file behind; POST's overwrite= is gone from newer references.
    if (await this.fileInfo(vol, path)) await this.deleteFile(vol, path);
    const boundary = `autosnap${crypto.randomUUID().replace(/-/g, '')}`;
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n${content}\r\n--${boundary}--\r\n`;
    const what = `write ${path} in volume ${vol.name}`;
    const res = await this.http.send('POST', this.filePath(vol, path), body, `multipart/form-data; boundary=${boundary}`);
    if (res.status >= 400) this.raise(what, res);
  }

  // A read needs "Accept: multipart/form-data" and `length` (same overview). The answer's
  // layout is not shown by NetApp: we take the first part's body (assumption).
  async readFile(vol: VolumeInfo, path: string): Promise<string | undefined> {
    const what = `read ${path} in volume ${vol.name}`;
    const res = await this.http.send('GET', this.filePath(vol, path) + queryString({ byte_offset: 0, length: 1048576 }), undefined, 'application/json', 'multipart/form-data');
    if (res.status === 404) return undefined;
    if (res.status >= 400) {
      try {
        this.raise(what, res);
      } catch (e) {
        if (e instanceof OntapError && e.code === '4') return undefined;
        throw e;
      }
    }
    return firstPart(res.text);
  }

  private raise(what: string, res: { status: number; text: string }): never {
    let err: Rec = {};
    try {
      err = JSON.parse(res.text).error ?? {};
    } catch {
      // not JSON: the status says enough
    }
    throw new OntapError({ what, code: err.code ?? res.status, message: err.message ?? `HTTP ${res.status}`, status: res.status });
  }

  async deleteFile(vol: VolumeInfo, path: string): Promise<void> {
    await this.job(`delete file ${path} in volume ${vol.name}`, 'DELETE', this.filePath(vol, path));
  }
}
