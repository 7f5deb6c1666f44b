// The ONTAP REST API (base /api) over the simulated state: collections with `fields=`,
// filters and `_links.next` paging, asynchronous calls answered 202 + job (or waited on
// with return_timeout), errors as {"error":{"message","code","target"}}. The routes are
// grouped by the resources they serve; rest-common.ts holds what they share.
import crypto from 'node:crypto';
import { getPath, type Obj } from './query.ts';
import { accepted, checkQuery, collection, FIELDS, job, jobRecord, json, mirrorRecord, need, readBody, restError, single, snapshotRecord, volumeRecord, type RestContext } from './rest-common.ts';
import { ERR, SimError, type SimVolume } from './records.ts';

export { json, restError, type RestContext } from './rest-common.ts';

/** A group of routes: its answer, or undefined when the request is none of its routes. */
type Routes = (ctx: RestContext, req: Request, url: URL, method: string, p: string) => Promise<Response | undefined>;

export async function handleRest(ctx: RestContext, req: Request, url: URL): Promise<Response> {
  const method = req.method.toUpperCase();
  const p = url.pathname.replace(/\/+$/, '');
  try {
    for (const routes of [clusterRoutes, volumeRoutes, fileRoutes, protectionRoutes]) {
      const r = await routes(ctx, req, url, method, p);
      if (r) return r;
    }
    if (/^\/api\//.test(p)) return restError(404, '3', `API not found: ${method} ${p}`);
    return restError(404, '3', `not found: ${p}`);
  } catch (e) {
    if (e instanceof SimError) return restError(e.status, e.code, e.message);
    throw e;
  }
}

/** The cluster, its jobs, SVMs and network interfaces (read only). */
const clusterRoutes: Routes = async (ctx, _req, url, method, p) => {
  const st = ctx.state;
  let m: RegExpExecArray | null;
  if (p === '/api/cluster' && method === 'GET') {
    checkQuery(url, FIELDS.cluster, [], false);
    const [maj, min, micro] = st.version.split('.').map(Number);
    return single(url, { name: st.cluster, uuid: '00000000-0000-4000-8000-000000000001', version: { full: `NetApp Release ${st.version}: simulated`, generation: maj, major: min, minor: micro ?? 0 } });
  }
  if (p === '/api/cluster/jobs' && method === 'GET') {
    checkQuery(url, FIELDS.job);
    return collection(url, [...st.jobs.values()].map(jobRecord), st.pageSize, ['uuid']);
  }
  if ((m = /^\/api\/cluster\/jobs\/([^/]+)$/.exec(p)) && method === 'GET') {
    checkQuery(url, FIELDS.job, [], false);
    const j = st.jobs.get(m[1]);
    if (!j) throw ERR.noEntry(`job "${m[1]}"`);
    return single(url, jobRecord(j));
  }
  if (p === '/api/svm/svms' && method === 'GET') return checkQuery(url, FIELDS.svm), collection(url, st.svms.map((s) => ({ uuid: s.uuid, name: s.name, state: 'running' })), st.pageSize);
  if (p === '/api/network/ip/interfaces' && method === 'GET') {
    checkQuery(url, FIELDS.lif);
    const recs = st.lifs.map((l) => {
      const svm = st.svms.find((s) => s.name === l.svm)!;
      return { uuid: l.uuid, name: l.name, svm: { name: svm.name, uuid: svm.uuid }, ip: { address: l.ip, netmask: '24', family: 'ipv4' }, services: l.services, state: l.state, enabled: true, scope: 'svm' } as Obj;
    });
    return collection(url, recs, st.pageSize);
  }
  return undefined;
};

/** Volumes and their snapshots: list, create, modify (or restore), delete. */
const volumeRoutes: Routes = async (ctx, req, url, method, p) => {
  const st = ctx.state;
  let m: RegExpExecArray | null;
  if (p === '/api/storage/volumes') {
    if (method === 'GET') return checkQuery(url, FIELDS.volume), collection(url, st.volumes.map((v) => volumeRecord(st, v)), st.pageSize);
    if (method === 'POST') return checkQuery(url, FIELDS.volume, [], false), await createVolume(ctx, req, url);
  }
  if ((m = /^\/api\/storage\/volumes\/([^/]+)$/.exec(p))) {
    const vol = st.volume(undefined, m[1]);
    if (method === 'GET') return checkQuery(url, FIELDS.volume, [], false), single(url, volumeRecord(st, vol));
    if (method === 'PATCH') return checkQuery(url, FIELDS.volume, ['restore_to.snapshot.name', 'restore_to.snapshot.uuid'], false), await patchVolume(ctx, req, url, vol);
    if (method === 'DELETE') {
      // `force` exists from 9.12 on, with the recovery queue it bypasses
      checkQuery(url, FIELDS.volume, st.hasRecoveryQueue() ? ['force'] : [], false);
      const force = url.searchParams.get('force') === 'true';
      const j = job(ctx, method, p, 'volume_delete', `DELETE /api/storage/volumes/${vol.uuid}`, () => st.deleteVolume(st.volume(undefined, vol.uuid), force));
      return await accepted(url, j);
    }
  }
  if ((m = /^\/api\/storage\/volumes\/([^/]+)\/snapshots$/.exec(p))) {
    const vol = st.volume(undefined, m[1]);
    if (method === 'GET') return checkQuery(url, FIELDS.snapshot), collection(url, vol.snapshots.map((s) => snapshotRecord(st, vol, s)), st.pageSize);
    if (method === 'POST') return createSnapshot(ctx, req, url, p, vol);
  }
  if ((m = /^\/api\/storage\/volumes\/([^/]+)\/snapshots\/([^/]+)$/.exec(p))) {
    const vol = st.volume(undefined, m[1]);
    const snap = st.snapshot(vol, decodeURIComponent(m[2]));
    if (method === 'GET') return checkQuery(url, FIELDS.snapshot, [], false), single(url, snapshotRecord(st, vol, snap));
    if (method === 'DELETE') {
      checkQuery(url, FIELDS.snapshot, [], false);
      const j = job(ctx, method, p, 'snapshot_delete', `DELETE /api/storage/volumes/${vol.uuid}/snapshots/${snap.uuid}`, () => st.deleteSnapshot(vol, snap.uuid));
      return await accepted(url, j);
    }
  }
  return undefined;
};

async function createSnapshot(ctx: RestContext, req: Request, url: URL, p: string, vol: SimVolume): Promise<Response> {
  const st = ctx.state;
  checkQuery(url, FIELDS.snapshot, [], false);
  const body = await readBody(req);
  const name = need(body, 'name');
  const comment = getPath(body, 'comment');
  const label = getPath(body, 'snapmirror_label');
  const expiry = getPath(body, 'expiry_time');
  const expiryTime = expiry === undefined || expiry === null ? undefined : Date.parse(String(expiry));
  if (expiryTime !== undefined && Number.isNaN(expiryTime)) throw new SimError('2', `"${String(expiry)}" is an invalid value for field "expiry_time"`, 400);
  if (vol.snapshots.some((s) => s.name === name)) throw ERR.duplicate(`Snapshot copy "${name}" of volume "${vol.name}"`);
  const id = crypto.randomUUID();
  const j = job(ctx, 'POST', p, 'snapshot_create', `POST /api/storage/volumes/${vol.uuid}/snapshots`, () => {
    st.createSnapshot(vol, name, comment === undefined ? undefined : String(comment), { uuid: id, snapmirrorLabel: label === undefined || label === null ? undefined : String(label), expiryTime });
  });
  return await accepted(url, j, true, `/api/storage/volumes/${vol.uuid}/snapshots/${id}`);
}

/** Files inside a volume (list, read, write, delete) and file clones. */
const fileRoutes: Routes = async (ctx, req, url, method, p) => {
  const st = ctx.state;
  const m = /^\/api\/storage\/volumes\/([^/]+)\/files(?:\/(.*))?$/.exec(p);
  if (m) {
    const vol = st.volume(undefined, m[1]);
    const rel = decodeURIComponent(m[2] ?? '');
    if (method === 'GET' && url.searchParams.has('length')) return readFileData(ctx, req, url, vol, rel);
    if (method === 'POST') {
      // POST /storage/volumes/{volume.uuid}/files/{path}: "data" in formData, "overwrite"
      // (https://docs.netapp.com/us-en/ontap-restapi-97/ontap/post-storage-volumes-files-.html)
      checkQuery(url, new Set(), ['overwrite', 'byte_offset'], false);
      if (!/multipart\/form-data/.test(req.headers.get('content-type') ?? '')) throw new SimError('2', 'file data must be sent as multipart/form-data', 400);
      const form = await req.formData();
      const data = form.get('data');
      if (data === null) throw new SimError('2', '"data" is a required field', 400);
      const text = typeof data === 'string' ? data : await data.text();
      if (Buffer.byteLength(text) > 1048576) throw new SimError('2', 'more than 1 MB of data in one request', 400);
      st.writeFile(vol, rel, text, url.searchParams.get('overwrite') === 'true');
      return json(201, {});
    }
    if (method === 'GET') {
      checkQuery(url, FIELDS.file);
      const entries = st.listDir(vol, rel).map((e) => ({ name: e.name, type: e.type, size: e.size, path: st.isDir(vol, rel) ? [rel, e.name].filter(Boolean).join('/') : rel, volume: { uuid: vol.uuid, name: vol.name } }) as Obj);
      // a directory is a collection like any other: pages and _links.next
      return collection(url, entries, st.pageSize, ['name', 'path'], 'path');
    }
    if (method === 'DELETE') {
      st.deleteFile(vol, rel);
      return json(200, {});
    }
  }
  if (p === '/api/storage/file/clone' && method === 'POST') {
    const body = await readBody(req);
    const src = need(body, 'source_path');
    const dst = need(body, 'destination_path');
    const volRef = (getPath(body, 'volume.uuid') ?? getPath(body, 'volume.name')) as string | undefined;
    if (!volRef) throw new SimError('2', '"volume.uuid" is a required field', 400);
    const vol = st.volume(getPath(body, 'svm.name') as string | undefined, String(volRef));
    const overwrite = getPath(body, 'overwrite_destination') === true;
    const j = job(ctx, method, p, 'file_clone', `POST /api/storage/file/clone`, () => st.fileClone(vol, src, dst, overwrite));
    return await accepted(url, j, true);
  }
  return undefined;
};

/**
 * File data: "the Accept request HTTP header must be specified as multipart/form-data,
 * and a value for the length query property ... must be specified. The API will fail if
 * the length of data being read/written exceeds 1 MB"
 * (https://docs.netapp.com/us-en/ontap-restapi-97/ontap/storage_volumes_volume.uuid_files_path_endpoint_overview.html).
 */
function readFileData(ctx: RestContext, req: Request, url: URL, vol: SimVolume, rel: string): Response {
  checkQuery(url, new Set(), ['byte_offset', 'length'], false);
  // Assumption (NetApp does not document the refusals): a missing Accept header and
  // an oversized length are plain 400s with code 2.
  if (!/multipart\/form-data/.test(req.headers.get('accept') ?? '')) throw new SimError('2', 'reading file data needs "Accept: multipart/form-data"', 400);
  const length = Number(url.searchParams.get('length'));
  const offset = Number(url.searchParams.get('byte_offset') ?? 0);
  if (!Number.isInteger(length) || length < 0 || length > 1048576) throw new SimError('2', `"length" must be 0..1048576`, 400);
  if (!Number.isInteger(offset) || offset < 0) throw new SimError('2', `"byte_offset" must be >= 0`, 400);
  const data = ctx.state.readFile(vol, rel, offset, length);
  // Assumption: the answer is one form-data part named "data" (the name of the
  // field a write takes); NetApp's reference shows no example answer.
  const boundary = `simboundary${crypto.randomBytes(8).toString('hex')}`;
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n${data}\r\n--${boundary}--\r\n`;
  return new Response(body, { status: 200, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
}

/** Consistency groups (list, group snapshot) and SnapMirror relationships (list, transfer). */
const protectionRoutes: Routes = async (ctx, req, url, method, p) => {
  const st = ctx.state;
  let m: RegExpExecArray | null;
  if (p === '/api/application/consistency-groups' && method === 'GET') {
    checkQuery(url, FIELDS.cg);
    return collection(url, st.groups.map((g) => ({
      uuid: g.uuid, name: g.name, svm: { name: g.svm, uuid: st.svm(g.svm).uuid }, volumes: g.volumes.map((v) => ({ name: v, uuid: st.volume(g.svm, v).uuid })),
    }) as Obj), st.pageSize);
  }
  if ((m = /^\/api\/application\/consistency-groups\/([^/]+)\/snapshots$/.exec(p)) && method === 'POST') {
    checkQuery(url, FIELDS.cgSnapshot, [], false);
    const g = st.groups.find((x) => x.uuid === m![1]);
    if (!g) throw ERR.noEntry(`consistency group "${m[1]}"`);
    const body = await readBody(req);
    const name = need(body, 'name');
    const comment = getPath(body, 'comment');
    const label = getPath(body, 'snapmirror_label');
    const j = job(ctx, method, p, 'cg_snapshot', `POST /api/application/consistency-groups/${g.uuid}/snapshots`, () =>
      st.groupSnapshot(g, name, comment === undefined ? undefined : String(comment), { snapmirrorLabel: label === undefined || label === null ? undefined : String(label) }));
    return await accepted(url, j, true);
  }
  if (p === '/api/snapmirror/relationships' && method === 'GET') {
    checkQuery(url, FIELDS.mirror, ['list_destinations_only']);
    // a switch, not a filter: every relationship here has its source in this cluster
    const u = new URL(url);
    u.searchParams.delete('list_destinations_only');
    return collection(u, st.mirrors.map(mirrorRecord), st.pageSize, ['uuid']);
  }
  if ((m = /^\/api\/snapmirror\/relationships\/([^/]+)\/transfers$/.exec(p)) && method === 'POST') {
    checkQuery(url, FIELDS.mirror, [], false);
    const mirror = st.mirrors.find((x) => x.uuid === m![1]);
    if (!mirror) throw ERR.noEntry(`SnapMirror relationship "${m[1]}"`);
    const j = job(ctx, method, p, 'snapmirror_transfer', `POST /api/snapmirror/relationships/${mirror.uuid}/transfers`, () => st.updateMirror(mirror));
    return await accepted(url, j, true);
  }
  return undefined;
};

async function createVolume(ctx: RestContext, req: Request, url: URL): Promise<Response> {
  const st = ctx.state;
  const body = await readBody(req);
  const name = need(body, 'name');
  const svm = String(getPath(body, 'svm.name') ?? st.svms.find((s) => s.uuid === getPath(body, 'svm.uuid'))?.name ?? need(body, 'svm.name'));
  const path = getPath(body, 'nas.path') as string | undefined;
  const exportPolicy = getPath(body, 'nas.export_policy.name') as string | undefined;
  const parentRef = (getPath(body, 'clone.parent_volume.name') ?? getPath(body, 'clone.parent_volume.uuid')) as string | undefined;
  st.checkNewVolume(svm, name, path || undefined);
  if (getPath(body, 'clone.is_flexclone') === true || parentRef) {
    if (!parentRef) throw new SimError('2', '"clone.parent_volume.name" is a required field', 400);
    const parent = st.volume(svm, parentRef);
    const snapRef = (getPath(body, 'clone.parent_snapshot.name') ?? getPath(body, 'clone.parent_snapshot.uuid')) as string | undefined;
    if (!snapRef) throw new SimError('2', '"clone.parent_snapshot.name" is a required field', 400);
    const snap = st.snapshot(parent, snapRef);
    const o = { svm, name, parentVolume: parent.name, parentSnapshot: snap.name, path: path || undefined, exportPolicy, uuid: crypto.randomUUID() };
    const j = job(ctx, 'POST', url.pathname, 'volume_create', 'POST /api/storage/volumes', () => st.createClone(o),
      // a failed mount step leaves the clone behind, unmounted, as ONTAP does
      () => st.createClone({ ...o, path: undefined }));
    return await accepted(url, j, true, `/api/storage/volumes/${o.uuid}`);
  }
  const id = crypto.randomUUID();
  const j = job(ctx, 'POST', url.pathname, 'volume_create', 'POST /api/storage/volumes', () =>
    st.createVolume({ svm, name, path: path || undefined, exportPolicy, style: getPath(body, 'style') === 'flexgroup' ? 'flexgroup' : 'flexvol', uuid: id }));
  return await accepted(url, j, true, `/api/storage/volumes/${id}`);
}

async function patchVolume(ctx: RestContext, req: Request, url: URL, vol: SimVolume): Promise<Response> {
  const st = ctx.state;
  const body = await readBody(req);
  const q = url.searchParams;
  const restoreTo = q.get('restore_to.snapshot.name') ?? q.get('restore_to.snapshot.uuid') ?? getPath(body, 'restore_to.snapshot.name') ?? getPath(body, 'restore_to.snapshot.uuid');
  if (restoreTo !== undefined && restoreTo !== null) {
    const snap = st.snapshot(vol, String(restoreTo));
    const j = job(ctx, 'PATCH', url.pathname, 'snapshot_restore', `PATCH /api/storage/volumes/${vol.uuid}`, () => st.restore(vol, snap.uuid));
    return await accepted(url, j);
  }
  const path = getPath(body, 'nas.path');
  const exportPolicy = getPath(body, 'nas.export_policy.name');
  const state = getPath(body, 'state');
  const o = {
    path: path === undefined || path === null ? undefined : String(path),
    exportPolicy: exportPolicy === undefined ? undefined : String(exportPolicy),
    state: state === undefined ? undefined : (String(state) as 'online' | 'offline'),
  };
  if (o.path === undefined && o.exportPolicy === undefined && o.state === undefined) throw new SimError('2', 'nothing to modify', 400);
  const j = job(ctx, 'PATCH', url.pathname, 'volume_modify', `PATCH /api/storage/volumes/${vol.uuid}`, () => st.modifyVolume(vol, o));
  return await accepted(url, j);
}
