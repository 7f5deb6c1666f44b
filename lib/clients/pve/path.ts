// Every Proxmox request path is built here, from segments checked against what PVE itself
// allows in that place. A name read from the API (a snapshot list, a node list) is data a
// broken or hostile server, or anyone on the path under --insecure, can choose: a snapshot
// named `..` would turn `DELETE .../snapshot/..` into `DELETE /nodes/N/qemu/VMID` (destroy
// the VM) once a URL parser collapses the dot segment, and encodeURIComponent leaves dots
// alone. So a segment is never encoded into shape: it either matches PVE's own format for
// that place or the request is refused before anything is sent.
//
// PVE's formats (pve-common, src/PVE/JSONSchema.pm, github.com/proxmox/pve-common):
//   pve-snapshot-name: format pve-configid (/^[a-z][a-z0-9_-]+$/i), maxLength 40
//   pve-node:          /^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$/
//   pve-vmid:          /^[1-9][0-9]{2,8}$/ (100 .. 999999999)
//   pve-storage-id:    /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i
// Storage replication makes snapshots PVE's own API could not: `__replicate_<job>_<time>__`
// (pve-guest-common, src/PVE/Replication.pm); they are listed, never touched, and are
// path-safe, so they are accepted as snapshot names too.
import { AppError } from '../../core/errors.ts';
import { isUpid } from './upid.ts';

/** A path segment PVE could not have made: refused before any request. */
export class PathError extends AppError {
  constructor(what: string, value: unknown) {
    super(`refusing a request: ${what} ${JSON.stringify(String(value)).slice(0, 120)} is not one Proxmox VE could have made`);
  }
}

const CONFIGID = /^[a-z][a-z0-9_-]+$/i;
const REPLICATION = /^__replicate_\d+-\d+_\d+__$/;
const NODE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const STORAGE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
export const SNAPSHOT_NAME_MAX = 40;

/** pve-configid, the format of a new snapshot's name (its length is checked apart). */
export const isConfigId = (s: unknown): s is string => typeof s === 'string' && CONFIGID.test(s);
export const isSnapshotName = (s: unknown): s is string =>
  typeof s === 'string' && ((s.length <= SNAPSHOT_NAME_MAX && CONFIGID.test(s)) || (s.length <= 64 && REPLICATION.test(s)));
export const isNodeName = (s: unknown): s is string => typeof s === 'string' && s.length <= 63 && NODE.test(s);
export const isVmid = (v: unknown): boolean => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[1-9]\d{2,8}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 100 && n <= 999_999_999;
};
export const isStorageId = (s: unknown): s is string => typeof s === 'string' && s.length <= 64 && STORAGE.test(s);

/** Typed segments for `pvePath`; a plain string is a fixed word of the path (never data). */
export type Segment =
  | { snapshot: string }
  | { node: string }
  | { vmid: number | string }
  | { storage: string }
  | { upid: string }
  | { guestType: string };

export const snap = (name: string): Segment => ({ snapshot: name });
export const node = (name: string): Segment => ({ node: name });
export const vmid = (id: number | string): Segment => ({ vmid: id });
export const storage = (id: string): Segment => ({ storage: id });
export const upid = (id: string): Segment => ({ upid: id });
export const guestType = (t: string): Segment => ({ guestType: t });

/** One checked segment as text; throws PathError for anything PVE could not have made. */
export function segment(s: Segment): string {
  if ('snapshot' in s) {
    if (!isSnapshotName(s.snapshot)) throw new PathError('snapshot name', s.snapshot);
    return s.snapshot;
  }
  if ('node' in s) {
    if (!isNodeName(s.node)) throw new PathError('node name', s.node);
    return s.node;
  }
  if ('vmid' in s) {
    if (!isVmid(s.vmid)) throw new PathError('VM ID', s.vmid);
    return String(Number(s.vmid));
  }
  if ('storage' in s) {
    if (!isStorageId(s.storage)) throw new PathError('storage ID', s.storage);
    return s.storage;
  }
  if ('upid' in s) {
    // a UPID's parts are a node name, hex, a task type, an id and a user: no slash, no dot
    // segment; PVE takes it as it is in the path (pvesh too), so it is not encoded
    if (!isUpid(s.upid) || !/^[A-Za-z0-9:@!._=-]+$/.test(s.upid)) throw new PathError('task id', s.upid);
    return s.upid;
  }
  if (s.guestType !== 'qemu' && s.guestType !== 'lxc') throw new PathError('guest type', s.guestType);
  return s.guestType;
}

/** A fixed word of a path, written in the code: letters, digits, `_`, `-`. */
const WORD = /^[A-Za-z0-9_-]+$/;

/**
 * Build a request path: `pvePath('nodes', node(n), guestType(t), vmid(id), 'snapshot', snap(s))`
 * gives `/nodes/N/T/ID/snapshot/S`. Fixed words may hold several words joined by `/`.
 */
export function pvePath(...parts: Array<string | Segment>): string {
  const out: string[] = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      for (const w of p.split('/')) {
        if (w === '') continue;
        if (!WORD.test(w)) throw new PathError('path word', w);
        out.push(w);
      }
    } else out.push(segment(p));
  }
  return '/' + out.join('/');
}

/** `/nodes/N/{qemu,lxc}/VMID` for a guest. */
export const guestBase = (g: { node: string; type: string; vmid: number }, ...rest: Array<string | Segment>) =>
  pvePath('nodes', node(g.node), guestType(g.type), vmid(g.vmid), ...rest);

/**
 * The last check before a transport sends: every segment of the path is one a path
 * builder could have made. No dot segments, no empty segments, nothing a URL parser or
 * a server would read as a different path (`%`, `?`, `#`, `\`, spaces, control characters).
 * Both transports call it, so a path built by hand elsewhere cannot slip through either.
 */
export function assertSafePath(path: string): void {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new PathError('request path', path);
  if (path === '/') return;
  for (const seg of path.slice(1).split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || !/^[A-Za-z0-9:@!._=-]+$/.test(seg)) throw new PathError('request path', path);
  }
}
