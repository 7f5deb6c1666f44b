// The ONTAP REST API (base /api) over the simulated state: collections with `fields=`,
// filters and `_links.next` paging, asynchronous calls answered 202 + job (or waited on
// with return_timeout), errors as {"error":{"message","code","target"}}.
import { matchRule, type Faults } from './faults.ts';
import crypto from 'node:crypto';
import { badParameter, fieldsOf, filtersOf, matchesAll, project, unflatten, getPath, withParents, type Json, type Obj } from './query.ts';
import { ERR, SimError, type OntapState, type SimJob, type SimMirror, type SimSnapshot, type SimVolume } from './state.ts';

export interface RestContext {
  state: OntapState;
  faults: Faults;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/hal+json', ...headers } });
}

// The fields of each resource: what `fields=` may name and what a query may filter on.
const FIELDS = {
  cluster: withParents(['name', 'uuid', 'version.full', 'version.generation', 'version.major', 'version.minor']),
  job: withParents(['uuid', 'description', 'state', 'message', 'code', 'start_time', 'end_time', 'error.code', 'error.message', '_links.self.href']),
  svm: withParents(['uuid', 'name', 'state']),
  lif: withParents(['uuid', 'name', 'svm.name', 'svm.uuid', 'ip.address', 'ip.netmask', 'ip.family', 'services', 'state', 'enabled', 'scope']),
  volume: withParents([
    'uuid', 'name', 'svm.name', 'svm.uuid', 'state', 'style', 'type', 'size', 'create_time', 'nas.path', 'nas.export_policy.name', 'clone.is_flexclone',
    'clone.parent_volume.name', 'clone.parent_volume.uuid', 'clone.parent_snapshot.name', 'clone.parent_snapshot.uuid', 'clone.parent_svm.name', 'snapshot_count',
  ]),
  snapshot: withParents(['uuid', 'name', 'create_time', 'comment', 'volume.name', 'volume.uuid', 'svm.name', 'owners', 'snapmirror_label', 'expiry_time', 'size', 'state']),
  file: withParents(['name', 'type', 'size', 'path', 'volume.uuid', 'volume.name']),
  mirror: withParents(['uuid', 'source.path', 'destination.path', 'state', 'healthy']),
  cg: withParents(['uuid', 'name', 'svm.name', 'svm.uuid', 'volumes.name', 'volumes.uuid']),
  cgSnapshot: withParents(['uuid', 'name', 'comment', 'snapmirror_label', 'create_time', 'consistency_type']),
};

/**
 * ONTAP refuses what it does not know rather than ignoring it, so a client typo or a
 * parameter of a newer release (`force` before 9.12) fails here as on a cluster. The
 * codes are assumptions: NetApp's common error table has code 2 for "an extra field was
 * provided" (https://docs.netapp.com/us-en/ontap-automation/rest/interpret_api_response.html);
 * clusters are reported to answer an unknown query parameter with 262179 "Unexpected
 * argument" and an unknown `fields=` name with 262197 "Invalid field", which are used here.
 */
function checkQuery(url: URL, known: Set<string>, extra: string[] = [], filters = true): void {
  const bad = badParameter(url.searchParams, known, extra, filters);
  if (!bad) return;
  if (bad.field !== undefined) throw new SimError('262197', `Invalid field "${bad.field}" in "fields"`, 400);
  throw new SimError('262179', `Unexpected argument "${bad.param}".`, 400);
}

export function restError(status: number, code: string, message: string, target?: string): Response {
  return json(status, { error: { message, code, ...(target ? { target } : {}) } });
}

function volumeRecord(st: OntapState, v: SimVolume): Obj {
  const svm = st.svms.find((s) => s.name === v.svm)!;
  return {
    uuid: v.uuid,
    name: v.name,
    svm: { name: svm.name, uuid: svm.uuid },
    state: v.state,
    style: v.style,
    type: 'rw',
    size: v.size,
    create_time: iso(v.createTime),
    nas: { ...(v.path ? { path: v.path } : {}), export_policy: { name: v.exportPolicy } },
    clone: {
      is_flexclone: Boolean(v.clone),
      ...(v.clone
        ? { parent_volume: { name: v.clone.parentVolume, uuid: v.clone.parentVolumeUuid }, parent_snapshot: { name: v.clone.parentSnapshot, uuid: v.clone.parentSnapshotUuid }, parent_svm: { name: v.svm } }
        : {}),
    },
    snapshot_count: v.snapshots.length,
  };
}

function snapshotRecord(st: OntapState, v: SimVolume, s: SimSnapshot): Obj {
  const holders = st.ownersOf(v, s.name).map((c) => c.name);
  // size: the blocks only this snapshot still holds; here 4 KiB per file that differs
  // from the active file system (enough for a client to show a number that moves)
  let differ = 0;
  for (const [k, f] of s.files) if (v.files.get(k) !== f) differ++;
  return {
    uuid: s.uuid,
    name: s.name,
    create_time: iso(s.createTime),
    state: 'valid',
    size: differ * 4096,
    ...(s.comment !== undefined ? { comment: s.comment } : {}),
    ...(s.snapmirrorLabel !== undefined ? { snapmirror_label: s.snapmirrorLabel } : {}),
    ...(s.expiryTime !== undefined ? { expiry_time: iso(s.expiryTime) } : {}),
    volume: { name: v.name, uuid: v.uuid },
    svm: { name: v.svm },
    // ONTAP reports the owners that keep a snapshot from being deleted
    ...(holders.length ? { owners: holders.map(() => 'volume_clone') } : {}),
  };
}

function mirrorRecord(x: SimMirror): Obj {
  return { uuid: x.uuid, source: { path: x.source }, destination: { path: x.destination }, state: x.state, healthy: x.state === 'snapmirrored' };
}

function jobRecord(j: SimJob): Obj {
  return {
    uuid: j.uuid,
    description: j.description,
    state: j.state,
    message: j.message,
    code: j.code,
    start_time: iso(j.startTime),
    ...(j.endTime !== undefined ? { end_time: iso(j.endTime) } : {}),
    ...(j.error ? { error: j.error } : {}),
    _links: { self: { href: `/api/cluster/jobs/${j.uuid}` } },
  };
}

/** A collection answer: filter, project, page; `_links.next` keeps the caller's query. */
function collection(url: URL, records: Obj[], pageSize: number, keys = ['uuid', 'name'], cursor = 'uuid'): Response {
  const q = url.searchParams;
  const filtered = records.filter((r) => matchesAll(r, filtersOf(q)));
  const fields = fieldsOf(q);
  const max = q.get('max_records') ? Math.max(1, Number(q.get('max_records'))) : pageSize;
  const startAt = q.get(`start.${cursor}`);
  let start = 0;
  if (startAt) {
    start = filtered.findIndex((r) => String(r[cursor]) === startAt);
    if (start < 0) start = filtered.length;
  }
  const page = filtered.slice(start, start + max);
  const out: Obj = {
    records: q.get('return_records') === 'false' ? [] : page.map((r) => project(r, fields, keys)),
    num_records: page.length,
    _links: { self: { href: url.pathname + url.search } },
  };
  const next = filtered[start + max];
  if (next) {
    const nq = new URLSearchParams(q);
    nq.set(`start.${cursor}`, String(next[cursor]));
    (out._links as Obj).next = { href: `${url.pathname}?${nq}` };
  }
  return json(200, out);
}

function single(url: URL, record: Obj): Response {
  const fields = fieldsOf(url.searchParams);
  return json(200, fields ? project(record, fields) : record);
}

/** Answer an asynchronous call: 202 + job, or wait up to return_timeout seconds. */
/**
 * `location`: the new record's path for a create. ONTAP answers a create with a Location
 * header naming it ("the location header contains the full URL of the new object",
 * https://docs.netapp.com/us-en/ontap-automation/rest/interpret_api_response.html).
 */
async function accepted(url: URL, job: SimJob, created = false, location?: string): Promise<Response> {
  const body = { job: { uuid: job.uuid, _links: { self: { href: `/api/cluster/jobs/${job.uuid}` } } } };
  const headers: Record<string, string> = location ? { Location: location } : {};
  const rt = Math.min(120, Number(url.searchParams.get('return_timeout') ?? 0) || 0);
  if (rt > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([job.done, new Promise<void>((r) => (timer = setTimeout(r, rt * 1000)))]);
    clearTimeout(timer);
    if (job.state === 'failure') return restError(400, job.error!.code, job.error!.message);
    if (job.state === 'success') return json(created ? 201 : 200, body, headers);
  }
  return json(202, body, headers);
}

function need(body: Obj, field: string): string {
  const v = getPath(body, field);
  if (v === undefined || v === null || v === '') throw new SimError('2', `"${field}" is a required field`, 400);
  return String(v);
}

async function readBody(req: Request): Promise<Obj> {
  const text = await req.text();
  if (!text.trim()) return {};
  try {
    return unflatten(JSON.parse(text) as Json);
  } catch {
    throw new SimError('262179', 'Unexpected argument: the request body is not valid JSON', 400);
  }
}

/** Start a job, or a job that fails as the fault spec says. */
function job(ctx: RestContext, method: string, path: string, kind: string, description: string, action: () => void, partial?: () => void): SimJob {
  const f = matchRule(ctx.faults.jobfail, method, path);
  return ctx.state.startJob(kind, description, action, f ? { code: f.status, message: f.message ?? `injected failure of ${method} ${path}`, partial } : undefined);
}

export async function handleRest(ctx: RestContext, req: Request, url: URL): Promise<Response> {
  const st = ctx.state;
  const method = req.method.toUpperCase();
  const p = url.pathname.replace(/\/+$/, '');
  let m: RegExpExecArray | null;
  try {
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
      if (method === 'POST') {
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
        const j = job(ctx, method, p, 'snapshot_create', `POST /api/storage/volumes/${vol.uuid}/snapshots`, () => {
          st.createSnapshot(vol, name, comment === undefined ? undefined : String(comment), { uuid: id, snapmirrorLabel: label === undefined || label === null ? undefined : String(label), expiryTime });
        });
        return await accepted(url, j, true, `/api/storage/volumes/${vol.uuid}/snapshots/${id}`);
      }
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
    if ((m = /^\/api\/storage\/volumes\/([^/]+)\/files(?:\/(.*))?$/.exec(p))) {
      const vol = st.volume(undefined, m[1]);
      const rel = decodeURIComponent(m[2] ?? '');
      if (method === 'GET' && url.searchParams.has('length')) {
        // File data: "the Accept request HTTP header must be specified as
        // multipart/form-data, and a value for the length query property ... must be
        // specified. The API will fail if the length of data being read/written exceeds
        // 1 MB" (https://docs.netapp.com/us-en/ontap-restapi-97/ontap/storage_volumes_volume.uuid_files_path_endpoint_overview.html).
        checkQuery(url, new Set(), ['byte_offset', 'length'], false);
        // Assumption (NetApp does not document the refusals): a missing Accept header and
        // an oversized length are plain 400s with code 2.
        if (!/multipart\/form-data/.test(req.headers.get('accept') ?? '')) throw new SimError('2', 'reading file data needs "Accept: multipart/form-data"', 400);
        const length = Number(url.searchParams.get('length'));
        const offset = Number(url.searchParams.get('byte_offset') ?? 0);
        if (!Number.isInteger(length) || length < 0 || length > 1048576) throw new SimError('2', `"length" must be 0..1048576`, 400);
        if (!Number.isInteger(offset) || offset < 0) throw new SimError('2', `"byte_offset" must be >= 0`, 400);
        const data = st.readFile(vol, rel, offset, length);
        // Assumption: the answer is one form-data part named "data" (the name of the
        // field a write takes); NetApp's reference shows no example answer.
        const boundary = `simboundary${crypto.randomBytes(8).toString('hex')}`;
        const body = `--${boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n${data}\r\n--${boundary}--\r\n`;
        return new Response(body, { status: 200, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` } });
      }
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
    if (/^\/api\//.test(p)) return restError(404, '3', `API not found: ${method} ${p}`);
    return restError(404, '3', `not found: ${p}`);
  } catch (e) {
    if (e instanceof SimError) return restError(e.status, e.code, e.message);
    throw e;
  }
}

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
