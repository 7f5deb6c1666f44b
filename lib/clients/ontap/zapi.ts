// ONTAP over ZAPI (ONTAPI XML) for clusters without REST. Calls scoped to an SVM carry
// `vfiler`; iterators are followed through next-tag. parseTagValue stays off so values
// like "0010" keep their text, and list children are always arrays.
import { XMLParser } from 'fast-xml-parser';
import { AppError } from '../../core/errors.ts';
import { OntapError } from './errors.ts';
import type { OntapHttp } from './http.ts';
import type { DataLif, FileEntry, FlexCloneSpec, MirrorInfo, Ontap, SnapshotInfo, SnapshotOptions, VolumeInfo } from './types.ts';

const ZAPI_PATH = '/servlets/netapp.servlets.admin.XMLrequest_filer';

const LIST_CHILDREN = new Set(['volume-attributes', 'snapshot-info', 'net-interface-info', 'file-info', 'data-protocol', 'snapmirror-destination-info']);

const zapiParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name, jpath) => LIST_CHILDREN.has(name) && (String(jpath).includes('attributes-list') || name === 'data-protocol'),
});

export type ZapiArgs = { [k: string]: string | number | ZapiArgs | undefined };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

function argsXml(args: ZapiArgs): string {
  let out = '';
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    out += typeof v === 'object' ? `<${k}>${argsXml(v)}</${k}>` : `<${k}>${esc(String(v))}</${k}>`;
  }
  return out;
}

/** The request document for one API call. */
export function zapiRequest(api: string, args: ZapiArgs = {}, vfiler?: string): string {
  const v = vfiler ? ` vfiler="${esc(vfiler)}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<netapp xmlns="http://www.netapp.com/filer/admin" version="1.21"${v}><${api}>${argsXml(args)}</${api}></netapp>`;
}

type Rec = Record<string, any>;

/** Parse an answer: the results element, or OntapError with errno and reason. */
export function parseZapiResponse(xml: string, what: string): Rec {
  let doc: Rec;
  try {
    doc = zapiParser.parse(xml);
  } catch {
    throw new AppError(`${what}: unreadable ZAPI answer`);
  }
  const results = doc?.netapp?.results;
  if (!results || typeof results !== 'object') throw new AppError(`${what}: ZAPI answer without <results>`);
  if (results['@_status'] !== 'passed') {
    throw new OntapError({ what, code: results['@_errno'] ?? '?', message: results['@_reason'] ?? 'failed' });
  }
  return results;
}

const text = (v: unknown): string | undefined => (v === undefined || v === null || typeof v === 'object' ? undefined : String(v));

function zapiVolume(r: Rec): VolumeInfo {
  const id = r['volume-id-attributes'] ?? {};
  const parent = r['volume-clone-attributes']?.['volume-clone-parent-attributes'];
  return {
    uuid: text(id['instance-uuid']) ?? text(id.name)!,
    name: text(id.name)!,
    svm: text(id['owning-vserver-name'])!,
    path: text(id['junction-path']) || undefined,
    exportPolicy: text(r['volume-export-attributes']?.policy),
    isClone: Boolean(parent),
    parentVolume: text(parent?.name),
    parentSnapshot: text(parent?.['snapshot-name']),
    style: text(id['style-extended']),
    state: text(r['volume-state-attributes']?.state),
  };
}

export class ZapiOntap implements Ontap {
  readonly api = 'zapi' as const;
  readonly host: string;

  constructor(private readonly http: OntapHttp) {
    this.host = http.host;
  }

  requests(): number {
    return this.http.requests;
  }

  async call(what: string, api: string, args: ZapiArgs = {}, vfiler?: string): Promise<Rec> {
    const res = await this.http.send('POST', ZAPI_PATH, zapiRequest(api, args, vfiler), 'text/xml');
    if (res.status === 404) throw new OntapError({ what, code: 404, message: 'ZAPI is not available on this cluster (HTTP 404); use api = rest', status: 404 });
    if (res.status >= 400) throw new OntapError({ what, code: res.status, message: `HTTP ${res.status}`, status: res.status });
    return parseZapiResponse(res.text, what);
  }

  /** Every record of an iterator, following next-tag. */
  async iterate(what: string, api: string, recordName: string, args: ZapiArgs, vfiler?: string): Promise<Rec[]> {
    const out: Rec[] = [];
    let tag: string | undefined;
    for (let pages = 0; ; pages++) {
      if (pages > 10_000) throw new AppError(`${what}: more than 10000 pages; giving up`);
      const r = await this.call(what, api, { ...args, 'max-records': 100, ...(tag ? { tag } : {}) }, vfiler);
      out.push(...(r['attributes-list']?.[recordName] ?? []));
      tag = text(r['next-tag']);
      if (!tag) return out;
    }
  }

  async version(): Promise<string> {
    return text((await this.call('read cluster version', 'system-get-version')).version) ?? 'unknown';
  }

  async nfsLifs(): Promise<DataLif[]> {
    const recs = await this.iterate('list NFS data LIFs', 'net-interface-get-iter', 'net-interface-info', { query: { 'net-interface-info': { 'data-protocols': { 'data-protocol': 'nfs' } } } });
    return recs.map((r) => ({ svm: text(r.vserver)!, ip: text(r.address)!, name: text(r['interface-name']), state: text(r['operational-status']) }));
  }

  async volumes(svm: string, filter: { path?: string; name?: string } = {}): Promise<VolumeInfo[]> {
    const recs = await this.iterate(`list volumes of SVM ${svm}`, 'volume-get-iter', 'volume-attributes', {
      query: { 'volume-attributes': { 'volume-id-attributes': { 'owning-vserver-name': svm, 'junction-path': filter.path, name: filter.name } } },
    }, svm);
    return recs.map(zapiVolume);
  }

  async clonesOf(vol: VolumeInfo): Promise<VolumeInfo[]> {
    const recs = await this.iterate(`list clones of volume ${vol.name}`, 'volume-get-iter', 'volume-attributes', {
      query: { 'volume-attributes': { 'volume-clone-attributes': { 'volume-clone-parent-attributes': { name: vol.name } } } },
    }, vol.svm);
    return recs.map(zapiVolume).filter((v) => v.isClone && v.parentVolume === vol.name);
  }

  async snapshots(vol: VolumeInfo): Promise<SnapshotInfo[]> {
    const recs = await this.iterate(`list snapshots of volume ${vol.name}`, 'snapshot-get-iter', 'snapshot-info', { query: { 'snapshot-info': { volume: vol.name, vserver: vol.svm } } }, vol.svm);
    return recs.map((r) => {
      const t = Number(text(r['access-time']));
      const exp = Number(text(r['expiry-time']));
      return {
        name: text(r.name)!, uuid: text(r['snapshot-instance-uuid']), createTime: t > 0 ? new Date(t * 1000).toISOString() : undefined, comment: text(r.comment),
        snapmirrorLabel: text(r['snapmirror-label']) || undefined, expiryTime: exp > 0 ? new Date(exp * 1000).toISOString() : undefined,
      };
    });
  }

  // snapshot-create takes snapmirror-label and expiry-time (seconds since the epoch)
  async createSnapshot(vol: VolumeInfo, name: string, o: SnapshotOptions = {}): Promise<void> {
    await this.call(`create snapshot ${name} of volume ${vol.name}`, 'snapshot-create', {
      volume: vol.name, snapshot: name, comment: o.comment, 'snapmirror-label': o.snapmirrorLabel,
      'expiry-time': o.expiryTime ? String(Math.floor(Date.parse(o.expiryTime) / 1000)) : undefined,
    }, vol.svm);
  }

  /** Consistency groups are a REST feature: over ZAPI the snapshots are made one by one. */
  async groupSnapshot(): Promise<string | false> {
    return false;
  }

  /** The source side's view: snapmirror-get-destination-iter lists where a volume goes. */
  async mirrorsOf(vol: VolumeInfo): Promise<MirrorInfo[]> {
    const recs = await this.iterate(`list SnapMirror relationships of volume ${vol.name}`, 'snapmirror-get-destination-iter', 'snapmirror-destination-info', {
      query: { 'snapmirror-destination-info': { 'source-location': `${vol.svm}:${vol.name}` } },
    });
    return recs.map((r) => ({ uuid: text(r['relationship-id']) ?? '', source: text(r['source-location'])!, destination: text(r['destination-location'])!, state: text(r['relationship-status']) }));
  }

  async updateMirror(m: MirrorInfo): Promise<void> {
    await this.call(`update SnapMirror ${m.source} -> ${m.destination}`, 'snapmirror-update', { 'destination-location': m.destination });
  }

  async deleteSnapshot(vol: VolumeInfo, snap: SnapshotInfo): Promise<void> {
    await this.call(`delete snapshot ${snap.name} of volume ${vol.name}`, 'snapshot-delete', { volume: vol.name, snapshot: snap.name }, vol.svm);
  }

  async restoreSnapshot(vol: VolumeInfo, name: string): Promise<void> {
    await this.call(`restore volume ${vol.name} to snapshot ${name}`, 'snapshot-restore-volume', { volume: vol.name, snapshot: name }, vol.svm);
  }

  async createFlexClone(s: FlexCloneSpec): Promise<void> {
    const what = `create FlexClone ${s.name} of ${s.parent.name}@${s.snapshot}`;
    await this.call(what, 'volume-clone-create', { volume: s.name, 'parent-volume': s.parent.name, 'parent-snapshot': s.snapshot, 'junction-path': s.path }, s.svm);
    if (s.exportPolicy) {
      await this.call(`${what}: set export policy ${s.exportPolicy}`, 'volume-modify-iter', {
        query: { 'volume-attributes': { 'volume-id-attributes': { name: s.name } } },
        attributes: { 'volume-attributes': { 'volume-export-attributes': { policy: s.exportPolicy } } },
      }, s.svm);
    }
  }

  async unmountVolume(vol: VolumeInfo): Promise<void> {
    await this.call(`unmount volume ${vol.name}`, 'volume-unmount', { 'volume-name': vol.name }, vol.svm);
  }

  async deleteVolume(vol: VolumeInfo): Promise<void> {
    if (vol.state !== 'offline') await this.call(`take volume ${vol.name} offline`, 'volume-offline', { name: vol.name }, vol.svm);
    await this.call(`delete volume ${vol.name}`, 'volume-destroy', { name: vol.name }, vol.svm);
  }

  private volPath(vol: VolumeInfo, path: string): string {
    return ['/vol', vol.name, ...path.split('/').filter(Boolean)].join('/');
  }

  async fileInfo(vol: VolumeInfo, path: string): Promise<FileEntry | undefined> {
    try {
      const r = await this.call(`read ${path} in volume ${vol.name}`, 'file-get-file-info', { path: this.volPath(vol, path) }, vol.svm);
      const f = r['file-info'] ?? {};
      return { name: text(f.name) ?? path.split('/').pop()!, type: text(f['file-type']) === 'directory' ? 'directory' : 'file', size: Number(text(f['file-size']) ?? 0) };
    } catch (e) {
      if (e instanceof OntapError && ['2', '4', '15661'].includes(e.code)) return undefined;
      throw e;
    }
  }

  async listDir(vol: VolumeInfo, path: string): Promise<FileEntry[]> {
    const recs = await this.iterate(`list ${path || '/'} in volume ${vol.name}`, 'file-list-directory-iter', 'file-info', { path: this.volPath(vol, path) }, vol.svm);
    return recs
      .filter((r) => text(r.name) !== '.' && text(r.name) !== '..')
      .map((r) => ({ name: text(r.name)!, type: text(r['file-type']) === 'directory' ? 'directory' : 'file', size: Number(text(r['file-size']) ?? 0) }));
  }

  async cloneFile(vol: VolumeInfo, source: string, destination: string): Promise<void> {
    await this.call(`clone file ${source} to ${destination} in volume ${vol.name}`, 'clone-create', { volume: vol.name, 'source-path': source, 'destination-path': destination }, vol.svm);
  }

  async deleteFile(vol: VolumeInfo, path: string): Promise<void> {
    await this.call(`delete file ${path} in volume ${vol.name}`, 'file-delete-file', { path: this.volPath(vol, path) }, vol.svm);
  }
}
