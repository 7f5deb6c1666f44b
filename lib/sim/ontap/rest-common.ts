// What every ONTAP REST route of the simulator shares: the context, the fields each
// resource has, the query check, the record shapes, collection paging, the error shape,
// and asynchronous calls (a job, answered 202 or waited on with return_timeout).
import { matchRule, type Faults } from './faults.ts';
import { badParameter, fieldsOf, filtersOf, matchesAll, project, unflatten, getPath, withParents, type Json, type Obj } from './query.ts';
import { SimError, type SimJob, type SimMirror, type SimSnapshot, type SimVolume } from './records.ts';
import type { OntapState } from './state.ts';

export interface RestContext {
  state: OntapState;
  faults: Faults;
}

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/hal+json', ...headers } });
}

// The fields of each resource: what `fields=` may name and what a query may filter on.
export const FIELDS = {
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
export function checkQuery(url: URL, known: Set<string>, extra: string[] = [], filters = true): void {
  const bad = badParameter(url.searchParams, known, extra, filters);
  if (!bad) return;
  if (bad.field !== undefined) throw new SimError('262197', `Invalid field "${bad.field}" in "fields"`, 400);
  throw new SimError('262179', `Unexpected argument "${bad.param}".`, 400);
}

export function restError(status: number, code: string, message: string, target?: string): Response {
  return json(status, { error: { message, code, ...(target ? { target } : {}) } });
}

export function volumeRecord(st: OntapState, v: SimVolume): Obj {
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

export function snapshotRecord(st: OntapState, v: SimVolume, s: SimSnapshot): Obj {
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

export function mirrorRecord(x: SimMirror): Obj {
  return { uuid: x.uuid, source: { path: x.source }, destination: { path: x.destination }, state: x.state, healthy: x.state === 'snapmirrored' };
}

export function jobRecord(j: SimJob): Obj {
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
export function collection(url: URL, records: Obj[], pageSize: number, keys = ['uuid', 'name'], cursor = 'uuid'): Response {
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

export function single(url: URL, record: Obj): Response {
  const fields = fieldsOf(url.searchParams);
  return json(200, fields ? project(record, fields) : record);
}

/**
 * Answer an asynchronous call: 202 + job, or wait up to return_timeout seconds.
 * `location`: the new record's path for a create. ONTAP answers a create with a Location
 * header naming it ("the location header contains the full URL of the new object",
 * https://docs.netapp.com/us-en/ontap-automation/rest/interpret_api_response.html).
 */
export async function accepted(url: URL, job: SimJob, created = false, location?: string): Promise<Response> {
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

export function need(body: Obj, field: string): string {
  const v = getPath(body, field);
  if (v === undefined || v === null || v === '') throw new SimError('2', `"${field}" is a required field`, 400);
  return String(v);
}

export async function readBody(req: Request): Promise<Obj> {
  const text = await req.text();
  if (!text.trim()) return {};
  try {
    return unflatten(JSON.parse(text) as Json);
  } catch {
    throw new SimError('262179', 'Unexpected argument: the request body is not valid JSON', 400);
  }
}

/** Start a job, or a job that fails as the fault spec says. */
export function job(ctx: RestContext, method: string, path: string, kind: string, description: string, action: () => void, partial?: () => void): SimJob {
  const f = matchRule(ctx.faults.jobfail, method, path);
  return ctx.state.startJob(kind, description, action, f ? { code: f.status, message: f.message ?? `injected failure of ${method} ${path}`, partial } : undefined);
}
