// ZAPI (ONTAPI over XML) for systems without REST: one POST endpoint, the API named by
// the element inside <netapp>, `vfiler` scoping calls to an SVM, iterators with query,
// max-records and next-tag, failures as <results status="failed" errno reason>.
import { XMLParser } from 'fast-xml-parser';
import { matchRule } from './faults.ts';
import { getPath, matchesExpr, type Json, type Obj } from './query.ts';
import { ERR, SimError, type SimVolume } from './records.ts';
import type { OntapState } from './state.ts';
import type { RestContext } from './rest-common.ts';

export const ZAPI_PATH = '/servlets/netapp.servlets.admin.XMLrequest_filer';

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@_' });

type XmlValue = string | number | boolean | XmlObj | XmlValue[] | undefined;
interface XmlObj {
  [k: string]: XmlValue;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

/** Objects become elements; arrays repeat their element; undefined is left out. */
function toXml(obj: XmlObj): string {
  let out = '';
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === undefined) continue;
      out += typeof item === 'object' ? `<${k}>${toXml(item as XmlObj)}</${k}>` : `<${k}>${esc(String(item))}</${k}>`;
    }
  }
  return out;
}

const envelope = (inner: string) =>
  `<?xml version='1.0' encoding='UTF-8' ?>\n<!DOCTYPE netapp SYSTEM 'file:/etc/netapp_gx.dtd'>\n<netapp version='1.21' xmlns='http://www.netapp.com/filer/admin'>\n${inner}</netapp>\n`;

function xmlResponse(inner: string, status = 200): Response {
  return new Response(envelope(inner), { status, headers: { 'content-type': 'text/xml; charset=utf-8' } });
}

function zapiPassed(results: XmlObj = {}): Response {
  return xmlResponse(`<results status="passed">${toXml(results)}</results>\n`);
}
function zapiFailed(errno: number, reason: string): Response {
  return xmlResponse(`<results status="failed" errno="${errno}" reason="${esc(reason)}"/>\n`);
}

function str(args: Obj, key: string, required = true): string {
  const v = args[key];
  if ((v === undefined || v === '' || typeof v === 'object') && required) throw new SimError('13115', `Missing input: ${key}`, 400, 13115);
  return v === undefined || typeof v === 'object' ? '' : String(v);
}

/** Leaf paths of a query element, e.g. volume-id-attributes.name = "x". */
function queryLeaves(q: Json | undefined, prefix = ''): [string, string][] {
  if (q === undefined || q === null) return [];
  if (typeof q !== 'object') return prefix ? [[prefix, String(q)]] : [];
  if (Array.isArray(q)) return q.flatMap((x) => queryLeaves(x, prefix));
  return Object.entries(q).flatMap(([k, v]) => (k.startsWith('@_') ? [] : queryLeaves(v, prefix ? `${prefix}.${k}` : k)));
}

function iterate(st: OntapState, args: Obj, recordName: string, records: Obj[]): Response {
  const queryRoot = getPath(args, `query.${recordName}`);
  const leaves = queryLeaves(queryRoot);
  const hits = records.filter((r) => leaves.every(([path, expr]) => matchesExpr(getPath(r, path), expr)));
  const max = args['max-records'] ? Math.max(1, Number(args['max-records'])) : st.pageSize;
  const start = args.tag ? Number(args.tag) : 0;
  const page = hits.slice(start, start + max);
  const result: XmlObj = { 'num-records': page.length };
  if (page.length) result['attributes-list'] = { [recordName]: page as unknown as XmlValue[] };
  if (start + max < hits.length) result['next-tag'] = String(start + max);
  return zapiPassed(result);
}

function volumeAttrs(v: SimVolume): Obj {
  return {
    'volume-id-attributes': {
      name: v.name,
      'owning-vserver-name': v.svm,
      'instance-uuid': v.uuid,
      ...(v.path ? { 'junction-path': v.path } : {}),
      type: 'rw',
      'style-extended': v.style,
    },
    'volume-export-attributes': { policy: v.exportPolicy },
    'volume-state-attributes': { state: v.state },
    ...(v.clone ? { 'volume-clone-attributes': { 'volume-clone-parent-attributes': { name: v.clone.parentVolume, 'snapshot-name': v.clone.parentSnapshot } } } : {}),
  };
}

/** `/vol/<volume>/<path>` as ZAPI file calls take it. */
function volPath(st: OntapState, svm: string | undefined, p: string): { vol: SimVolume; rel: string } {
  const m = /^\/vol\/([^/]+)(?:\/(.*))?$/.exec(p);
  if (!m) throw new SimError('13115', `Invalid path "${p}": expected /vol/<volume>/<path>`, 400, 13115);
  return { vol: st.volume(svm, m[1]), rel: m[2] ?? '' };
}

/** One ZAPI call: its arguments, the SVM it is scoped to (`vfiler`), and the state. */
interface ZapiCall {
  st: OntapState;
  args: Obj;
  vfiler: string | undefined;
  /** the volume named by argument `key`, in the call's SVM */
  vol(key?: string): SimVolume;
}

// The iterators: records in ZAPI's shape, then query, max-records and next-tag (iterate).
const READS: Record<string, (c: ZapiCall) => Response> = {
  'system-get-version': ({ st }) => zapiPassed({ version: `NetApp Release ${st.version}: simulated`, 'is-clustered': 'true' }),
  'net-interface-get-iter': ({ st, args, vfiler }) =>
    iterate(st, args, 'net-interface-info', st.lifs.filter((l) => !vfiler || l.svm === vfiler).map((l) => ({
      'interface-name': l.name, vserver: l.svm, address: l.ip, netmask: '255.255.255.0',
      'data-protocols': { 'data-protocol': l.services.filter((s) => s.startsWith('data_') && s !== 'data_core').map((s) => s.slice(5)) },
      'operational-status': l.state, role: l.services.some((s) => s.startsWith('data_')) ? 'data' : 'node_mgmt',
    }))),
  'volume-get-iter': ({ st, args, vfiler }) => iterate(st, args, 'volume-attributes', st.volumes.filter((v) => !vfiler || v.svm === vfiler).map(volumeAttrs)),
  'snapshot-get-iter': ({ st, args, vfiler }) => {
    const recs = st.volumes.filter((v) => !vfiler || v.svm === vfiler).flatMap((v) => v.snapshots.map((s) => {
      const holders = st.ownersOf(v, s.name);
      return {
        name: s.name, volume: v.name, vserver: v.svm, 'snapshot-instance-uuid': s.uuid, 'access-time': String(Math.floor(s.createTime / 1000)),
        ...(s.comment !== undefined ? { comment: s.comment } : {}), busy: holders.length ? 'true' : 'false',
        ...(s.snapmirrorLabel !== undefined ? { 'snapmirror-label': s.snapmirrorLabel } : {}),
        ...(s.expiryTime !== undefined ? { 'expiry-time': String(Math.floor(s.expiryTime / 1000)) } : {}),
        ...(holders.length ? { dependency: 'vclone' } : {}),
      } as Obj;
    }));
    return iterate(st, args, 'snapshot-info', recs);
  },
  'snapmirror-get-destination-iter': ({ st, args }) => {
    const recs = st.mirrors.map((x) => ({
      'source-location': x.source, 'destination-location': x.destination, 'relationship-id': x.uuid, 'relationship-status': x.state === 'snapmirrored' ? 'idle' : x.state,
    }) as Obj);
    return iterate(st, args, 'snapmirror-destination-info', recs);
  },
};

// Snapshots, volumes and clones.
const VOLUME_CALLS: Record<string, (c: ZapiCall) => Response> = {
  'snapshot-create': ({ st, args, vol }) => {
    const exp = str(args, 'expiry-time', false);
    st.createSnapshot(vol(), str(args, 'snapshot'), str(args, 'comment', false) || undefined, {
      snapmirrorLabel: str(args, 'snapmirror-label', false) || undefined, expiryTime: exp ? Number(exp) * 1000 : undefined,
    });
    return zapiPassed();
  },
  'snapshot-delete': ({ st, args, vol }) => {
    st.deleteSnapshot(vol(), str(args, 'snapshot'));
    return zapiPassed();
  },
  'snapshot-restore-volume': ({ st, args, vol }) => {
    st.restore(vol(), str(args, 'snapshot'));
    return zapiPassed();
  },
  'volume-clone-create': ({ st, args, vol }) => {
    // ZAPI has no export policy here: the clone inherits its parent's, like ONTAP does
    const parent = vol('parent-volume');
    st.createClone({ svm: parent.svm, name: str(args, 'volume'), parentVolume: parent.name, parentSnapshot: str(args, 'parent-snapshot'), path: str(args, 'junction-path', false) || undefined, exportPolicy: parent.exportPolicy });
    return zapiPassed();
  },
  'volume-modify-iter': ({ st, args, vfiler }) => {
    const name = getPath(args, 'query.volume-attributes.volume-id-attributes.name');
    if (!name) throw new SimError('13115', 'Missing input: query volume-id-attributes name', 400, 13115);
    const v = st.volume(vfiler, String(name));
    const policy = getPath(args, 'attributes.volume-attributes.volume-export-attributes.policy');
    if (policy !== undefined) st.modifyVolume(v, { exportPolicy: String(policy) });
    return zapiPassed({ 'num-succeeded': 1, 'num-failed': 0 });
  },
  'volume-mount': ({ st, args, vol }) => {
    st.modifyVolume(vol('volume-name'), { path: str(args, 'junction-path') });
    return zapiPassed();
  },
  'volume-unmount': ({ st, vol }) => {
    st.modifyVolume(vol('volume-name'), { path: '' });
    return zapiPassed();
  },
  'volume-offline': ({ st, vol }) => {
    st.modifyVolume(vol('name'), { state: 'offline' });
    return zapiPassed();
  },
  'volume-online': ({ st, vol }) => {
    st.modifyVolume(vol('name'), { state: 'online' });
    return zapiPassed();
  },
  'volume-destroy': ({ st, vol }) => {
    const v = vol('name');
    if (v.state !== 'offline') throw new SimError('13042', `Volume "${v.name}" must be offline before it can be destroyed`, 400, 13042);
    // ZAPI's volume-destroy is modelled as removing the volume at once (no recovery
    // queue): an assumption, the ZAPI reference names no queue for it
    st.deleteVolume(v, true);
    return zapiPassed();
  },
  'snapmirror-update': ({ st, args }) => {
    const dest = str(args, 'destination-location');
    const x = st.mirrors.find((y) => y.destination === dest);
    if (!x) throw new SimError('13102', `No SnapMirror relationship with destination ${dest}`, 404, 13102);
    st.updateMirror(x);
    return zapiPassed({ 'result-status': 'succeeded' });
  },
};

// Files inside a volume, by `/vol/<volume>/<path>`.
const FILE_CALLS: Record<string, (c: ZapiCall) => Response> = {
  'clone-create': ({ st, args, vol }) => {
    st.fileClone(vol(), str(args, 'source-path'), str(args, 'destination-path'), false);
    return zapiPassed();
  },
  'file-get-file-info': ({ st, args, vfiler }) => {
    const { vol: v, rel } = volPath(st, vfiler, str(args, 'path'));
    const f = v.files.get(rel);
    if (!f && !st.isDir(v, rel)) throw ERR.noFile(rel, v.name);
    return zapiPassed({ 'file-info': { name: rel.split('/').pop() ?? '', 'file-type': f ? 'file' : 'directory', 'file-size': f ? f.size : 4096 } });
  },
  'file-list-directory-iter': ({ st, args, vfiler }) => {
    const { vol: v, rel } = volPath(st, vfiler, str(args, 'path'));
    const entries = st.listDir(v, rel).map((e) => ({ name: e.name, 'file-type': e.type, 'file-size': String(e.size) }) as Obj);
    return iterate(st, args, 'file-info', entries);
  },
  'file-delete-file': ({ st, args, vfiler }) => {
    const { vol: v, rel } = volPath(st, vfiler, str(args, 'path'));
    st.deleteFile(v, rel);
    return zapiPassed();
  },
};

const APIS: Record<string, (c: ZapiCall) => Response> = { ...READS, ...VOLUME_CALLS, ...FILE_CALLS };

export async function handleZapi(ctx: RestContext, req: Request): Promise<Response> {
  const st = ctx.state;
  let doc: any;
  try {
    doc = parser.parse(await req.text());
  } catch {
    return zapiFailed(13001, 'Unable to parse the request');
  }
  const netapp = doc?.netapp;
  if (!netapp || typeof netapp !== 'object') return zapiFailed(13001, 'Missing <netapp> element');
  const vfiler: string | undefined = netapp['@_vfiler'] || undefined;
  const api = Object.keys(netapp).find((k) => !k.startsWith('@_') && k !== '#text');
  if (!api) return zapiFailed(13001, 'No API named in the request');
  const args: Obj = typeof netapp[api] === 'object' && netapp[api] !== null ? netapp[api] : {};
  const rule = matchRule(ctx.faults.fail, 'ZAPI', api);
  if (rule) return zapiFailed(rule.status, rule.message ?? `injected failure of ${api}`);
  try {
    if (vfiler) st.svm(vfiler);
    const run = Object.hasOwn(APIS, api) ? APIS[api] : undefined;
    if (!run) return zapiFailed(13005, `Unable to find API: ${api}`);
    return run({ st, args, vfiler, vol: (key = 'volume') => st.volume(vfiler, str(args, key)) });
  } catch (e) {
    if (e instanceof SimError) return zapiFailed(e.errno, e.message);
    throw e;
  }
}
