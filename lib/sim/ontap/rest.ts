// The ONTAP REST API (base /api) over the simulated state: collections with `fields=`,
// filters and `_links.next` paging, asynchronous calls answered 202 + job (or waited on
// with return_timeout), errors as {"error":{"message","code","target"}}.
import { matchRule, type Faults } from './faults.ts';
import { fieldsOf, filtersOf, matchesAll, project, unflatten, getPath, type Json, type Obj } from './query.ts';
import { ERR, SimError, type OntapState, type SimJob, type SimSnapshot, type SimVolume } from './state.ts';

export interface RestContext {
  state: OntapState;
  faults: Faults;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/hal+json' } });
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
  const holders = st.clonesOf(v, s.name).map((c) => c.name);
  return {
    uuid: s.uuid,
    name: s.name,
    create_time: iso(s.createTime),
    ...(s.comment !== undefined ? { comment: s.comment } : {}),
    volume: { name: v.name, uuid: v.uuid },
    svm: { name: v.svm },
    // ONTAP reports the owners that keep a snapshot from being deleted
    ...(holders.length ? { owners: holders.map(() => 'volume_clone') } : {}),
  };
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
function collection(url: URL, records: Obj[], pageSize: number, keys = ['uuid', 'name']): Response {
  const q = url.searchParams;
  const filtered = records.filter((r) => matchesAll(r, filtersOf(q)));
  const fields = fieldsOf(q);
  const max = q.get('max_records') ? Math.max(1, Number(q.get('max_records'))) : pageSize;
  const startUuid = q.get('start.uuid');
  let start = 0;
  if (startUuid) {
    start = filtered.findIndex((r) => r.uuid === startUuid);
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
    nq.set('start.uuid', String(next.uuid));
    (out._links as Obj).next = { href: `${url.pathname}?${nq}` };
  }
  return json(200, out);
}

function single(url: URL, record: Obj): Response {
  const fields = fieldsOf(url.searchParams);
  return json(200, fields ? project(record, fields) : record);
}

/** Answer an asynchronous call: 202 + job, or wait up to return_timeout seconds. */
async function accepted(url: URL, job: SimJob, created = false): Promise<Response> {
  const body = { job: { uuid: job.uuid, _links: { self: { href: `/api/cluster/jobs/${job.uuid}` } } } };
  const rt = Math.min(120, Number(url.searchParams.get('return_timeout') ?? 0) || 0);
  if (rt > 0) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([job.done, new Promise<void>((r) => (timer = setTimeout(r, rt * 1000)))]);
    clearTimeout(timer);
    if (job.state === 'failure') return restError(400, job.error!.code, job.error!.message);
    if (job.state === 'success') return json(created ? 201 : 200, body);
  }
  return json(202, body);
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
  const q = url.searchParams;
  let m: RegExpExecArray | null;
  try {
    if (p === '/api/cluster' && method === 'GET') {
      const [maj, min, micro] = st.version.split('.').map(Number);
      return single(url, { name: st.cluster, uuid: '00000000-0000-4000-8000-000000000001', version: { full: `NetApp Release ${st.version}: simulated`, generation: maj, major: min, minor: micro ?? 0 } });
    }
    if (p === '/api/cluster/jobs' && method === 'GET') return collection(url, [...st.jobs.values()].map(jobRecord), st.pageSize, ['uuid']);
    if ((m = /^\/api\/cluster\/jobs\/([^/]+)$/.exec(p)) && method === 'GET') {
      const j = st.jobs.get(m[1]);
      if (!j) throw ERR.noEntry(`job "${m[1]}"`);
      return single(url, jobRecord(j));
    }
    if (p === '/api/svm/svms' && method === 'GET') return collection(url, st.svms.map((s) => ({ uuid: s.uuid, name: s.name, state: 'running' })), st.pageSize);
    if (p === '/api/network/ip/interfaces' && method === 'GET') {
      const recs = st.lifs.map((l) => {
        const svm = st.svms.find((s) => s.name === l.svm)!;
        return { uuid: l.uuid, name: l.name, svm: { name: svm.name, uuid: svm.uuid }, ip: { address: l.ip, netmask: '24', family: 'ipv4' }, services: l.services, state: l.state, enabled: true, scope: 'svm' } as Obj;
      });
      return collection(url, recs, st.pageSize);
    }
    if (p === '/api/storage/volumes') {
      if (method === 'GET') return collection(url, st.volumes.map((v) => volumeRecord(st, v)), st.pageSize);
      if (method === 'POST') return await createVolume(ctx, req, url);
    }
    if ((m = /^\/api\/storage\/volumes\/([^/]+)$/.exec(p))) {
      const vol = st.volume(undefined, m[1]);
      if (method === 'GET') return single(url, volumeRecord(st, vol));
      if (method === 'PATCH') return await patchVolume(ctx, req, url, vol);
      if (method === 'DELETE') {
        const j = job(ctx, method, p, 'volume_delete', `DELETE /api/storage/volumes/${vol.uuid}`, () => st.deleteVolume(st.volume(undefined, vol.uuid)));
        return await accepted(url, j);
      }
    }
    if ((m = /^\/api\/storage\/volumes\/([^/]+)\/snapshots$/.exec(p))) {
      const vol = st.volume(undefined, m[1]);
      if (method === 'GET') return collection(url, vol.snapshots.map((s) => snapshotRecord(st, vol, s)), st.pageSize);
      if (method === 'POST') {
        const body = await readBody(req);
        const name = need(body, 'name');
        const comment = getPath(body, 'comment');
        if (vol.snapshots.some((s) => s.name === name)) throw ERR.duplicate(`Snapshot copy "${name}" of volume "${vol.name}"`);
        const j = job(ctx, method, p, 'snapshot_create', `POST /api/storage/volumes/${vol.uuid}/snapshots`, () => {
          st.createSnapshot(vol, name, comment === undefined ? undefined : String(comment));
        });
        return await accepted(url, j, true);
      }
    }
    if ((m = /^\/api\/storage\/volumes\/([^/]+)\/snapshots\/([^/]+)$/.exec(p))) {
      const vol = st.volume(undefined, m[1]);
      const snap = st.snapshot(vol, decodeURIComponent(m[2]));
      if (method === 'GET') return single(url, snapshotRecord(st, vol, snap));
      if (method === 'DELETE') {
        const j = job(ctx, method, p, 'snapshot_delete', `DELETE /api/storage/volumes/${vol.uuid}/snapshots/${snap.uuid}`, () => st.deleteSnapshot(vol, snap.uuid));
        return await accepted(url, j);
      }
    }
    if ((m = /^\/api\/storage\/volumes\/([^/]+)\/files(?:\/(.*))?$/.exec(p))) {
      const vol = st.volume(undefined, m[1]);
      const rel = decodeURIComponent(m[2] ?? '');
      if (method === 'GET') {
        const entries = st.listDir(vol, rel).map((e) => ({ name: e.name, type: e.type, size: e.size, path: st.isDir(vol, rel) ? [rel, e.name].filter(Boolean).join('/') : rel, volume: { uuid: vol.uuid, name: vol.name } }) as Obj);
        const fields = fieldsOf(q);
        const recs = entries.filter((r) => matchesAll(r, filtersOf(q))).map((r) => (fields ? project(r, fields, ['name', 'path']) : r));
        return json(200, { records: recs, num_records: recs.length });
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
    const o = { svm, name, parentVolume: parent.name, parentSnapshot: snap.name, path: path || undefined, exportPolicy };
    const j = job(ctx, 'POST', url.pathname, 'volume_create', 'POST /api/storage/volumes', () => st.createClone(o),
      // a failed mount step leaves the clone behind, unmounted, as ONTAP does
      () => st.createClone({ ...o, path: undefined }));
    return await accepted(url, j, true);
  }
  const j = job(ctx, 'POST', url.pathname, 'volume_create', 'POST /api/storage/volumes', () =>
    st.createVolume({ svm, name, path: path || undefined, exportPolicy, style: getPath(body, 'style') === 'flexgroup' ? 'flexgroup' : 'flexvol' }));
  return await accepted(url, j, true);
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
