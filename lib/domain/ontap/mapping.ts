// From a Proxmox NFS storage to the ONTAP volume behind it. The storage's `server` names
// an NFS data LIF, which belongs to exactly one SVM; within that SVM the export path is
// matched against the volumes' junction paths. Guessing the volume name from the export
// (what the original tool did) breaks for junctions like /vols/x and for SVMs that share
// junction paths.
import dns from 'node:dns/promises';
import net from 'node:net';
import { AppError, UsageError } from '../../core/errors.ts';
import type { Ontap, VolumeInfo } from '../../clients/ontap/types.ts';

export interface NfsStorage {
  storage: string;
  type: string;
  server?: string;
  export?: string;
  content?: string;
  options?: string;
  nodes?: string;
  path?: string;
}

export interface Mapped {
  storage: NfsStorage;
  svm: string;
  volume: VolumeInfo;
  /** the export below the junction path ('' when the export is the junction itself) */
  subdir: string;
}

/** Normalise an export or junction path: one leading slash, no trailing one. */
export function normJunction(p: string): string {
  const parts = p.split('/').filter(Boolean);
  return '/' + parts.join('/');
}

/**
 * The volume whose junction path is the export, else the one mounted closest above it
 * (the export is then a directory or qtree inside that volume). Pure.
 */
export function pickVolume(volumes: VolumeInfo[], exportPath: string): { volume: VolumeInfo; subdir: string } | undefined {
  const want = normJunction(exportPath);
  let best: { volume: VolumeInfo; subdir: string; len: number } | undefined;
  for (const v of volumes) {
    if (!v.path) continue;
    const j = normJunction(v.path);
    let subdir: string | undefined;
    if (j === want) subdir = '';
    else if (j === '/') subdir = want.slice(1);
    else if (want.startsWith(j + '/')) subdir = want.slice(j.length + 1);
    if (subdir === undefined) continue;
    if (!best || j.length > best.len) best = { volume: v, subdir, len: j.length };
  }
  return best && { volume: best.volume, subdir: best.subdir };
}

async function addressesOf(server: string): Promise<string[]> {
  const bare = server.replace(/^\[(.*)\]$/, '$1');
  if (net.isIP(bare)) return [bare];
  try {
    return (await dns.lookup(bare, { all: true })).map((a) => a.address);
  } catch (e: any) {
    throw new AppError(`NFS server '${server}' does not resolve (${e?.code ?? e?.message})`);
  }
}

/** The storage's server is no NFS data LIF of the cluster: an NFS server of another make. */
export class NotServedError extends AppError {}

/** The SVM whose NFS data LIF answers at the storage's server address. */
async function svmOf(ontap: Ontap, server: string): Promise<string> {
  const addrs = await addressesOf(server);
  const lifs = await ontap.nfsLifs();
  const svms = [...new Set(lifs.filter((l) => addrs.includes(l.ip)).map((l) => l.svm))];
  if (svms.length === 0) {
    const known = lifs.map((l) => `${l.ip} (${l.svm})`).join(', ') || 'none';
    throw new NotServedError(`no NFS data LIF of ONTAP ${ontap.host} has the address ${server}${addrs[0] !== server ? ` (${addrs.join(', ')})` : ''}; NFS data LIFs: ${known}`);
  }
  if (svms.length > 1) throw new AppError(`NFS server ${server} matches data LIFs of several SVMs (${svms.join(', ')}); give the address of one`);
  return svms[0];
}

export async function mapStorage(ontap: Ontap, st: NfsStorage): Promise<Mapped> {
  if (st.type !== 'nfs') throw new UsageError(`storage '${st.storage}' is of type ${st.type}, not nfs`);
  if (!st.server || !st.export) throw new AppError(`storage '${st.storage}' has no server or export in its configuration`);
  const svm = await svmOf(ontap, st.server);
  const exact = await ontap.volumes(svm, { path: normJunction(st.export) });
  if (exact.length === 1) return { storage: st, svm, volume: exact[0], subdir: '' };
  const hit = pickVolume(await ontap.volumes(svm), st.export);
  if (!hit) throw new AppError(`no volume of SVM ${svm} is mounted at ${st.export} or above it (storage '${st.storage}')`);
  // a junction above the export only serves it when the directory exists in that volume
  const dir = await ontap.fileInfo(hit.volume, hit.subdir);
  if (dir?.type !== 'directory') {
    throw new AppError(`no volume of SVM ${svm} is mounted at ${st.export}, and volume ${hit.volume.name} (at ${hit.volume.path}) has no directory ${hit.subdir} (storage '${st.storage}')`);
  }
  return { storage: st, svm, volume: hit.volume, subdir: hit.subdir };
}
