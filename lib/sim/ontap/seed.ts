// The seed of the ONTAP simulator: the cluster a run starts from (SVMs, LIFs, volumes with
// files and snapshots, clones, consistency groups, SnapMirror relationships), the demo
// cluster used by default, and the structural check of a seed file.
import { UsageError } from '../../core/errors.ts';
import type { SimMirror } from './records.ts';

export interface SeedVolume {
  name: string;
  path?: string;
  exportPolicy?: string;
  style?: 'flexvol' | 'flexgroup';
  size?: number;
  files?: (string | { path: string; size?: number })[];
  snapshots?: { name: string; comment?: string; createTime?: string }[];
  clone?: { parentVolume: string; parentSnapshot: string };
}
export interface Seed {
  cluster?: string;
  version?: string;
  /** records per page of a collection (REST) or iteration (ZAPI); small pages test paging */
  pageSize?: number;
  svms: { name: string; lifs?: { name?: string; ip: string; services?: string[]; state?: 'up' | 'down' }[]; volumes?: SeedVolume[] }[];
  /** consistency groups: volumes of one SVM snapshotted together */
  consistencyGroups?: { name: string; svm: string; volumes: string[] }[];
  /** SnapMirror relationships, `svm:volume` at both ends */
  snapmirrors?: { source: string; destination: string; state?: SimMirror['state'] }[];
}

/** The demo cluster: matches the NFS storage of the Proxmox simulator's contract example. */
export const DEMO_SEED: Seed = {
  cluster: 'sim-cluster',
  pageSize: 5,
  svms: [
    {
      name: 'svm1',
      lifs: [
        { name: 'svm1_nfs_1', ip: '10.0.0.5', services: ['data_core', 'data_nfs'] },
        { name: 'svm1_mgmt', ip: '10.0.0.4', services: ['management_https'] },
      ],
      volumes: [
        { name: 'vol_root_svm1', path: '/', exportPolicy: 'default' },
        { name: 'vols', path: '/vol', exportPolicy: 'default' },
        {
          name: 'pve_nfs', path: '/vol/pve_nfs', exportPolicy: 'pve',
          // VM 301 of the Proxmox simulator's demo cluster lives here (storage nas-nfs)
          files: ['images/301/vm-301-disk-0.qcow2', 'images/100/vm-100-disk-0.qcow2', 'images/101/vm-101-disk-0.raw', 'images/101/vm-101-disk-1.vmdk'],
          snapshots: [{ name: 'hourly.2024-01-01_0105', comment: 'schedule' }],
        },
        { name: 'pve_archive', path: '/vols/archive', exportPolicy: 'pve' },
      ],
    },
    {
      name: 'svm2',
      lifs: [{ name: 'svm2_nfs_1', ip: '10.0.1.5', services: ['data_nfs'] }],
      // same junction path in another SVM: only the LIF tells them apart
      volumes: [{ name: 'other_nfs', path: '/vol/pve_nfs', exportPolicy: 'default' }],
    },
  ],
};

/** Structural checks, so a bad seed fails with one line instead of odd behaviour later. */
export function checkSeed(doc: unknown, where = 'seed'): asserts doc is Seed {
  const fail = (msg: string): never => {
    throw new UsageError(`${where}: ${msg}`);
  };
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) fail('must be a JSON object');
  const d = doc as Record<string, any>;
  for (const k of Object.keys(d)) if (!['cluster', 'version', 'pageSize', 'svms', 'snapmirrors', 'consistencyGroups', 'comment', '$schema'].includes(k)) fail(`unknown key '${k}'`);
  if (d.version !== undefined && (typeof d.version !== 'string' || !/^\d+\.\d+(\.\d+)?$/.test(d.version))) fail("'version' must be like 9.14.1");
  if (!Array.isArray(d.svms) || d.svms.length === 0) fail("'svms' must be a non-empty array");
  if (d.pageSize !== undefined && !(Number.isInteger(d.pageSize) && d.pageSize > 0)) fail("'pageSize' must be a positive integer");
  const svmNames = new Set<string>();
  d.svms.forEach((svm: any, i: number) => {
    if (!svm || typeof svm.name !== 'string' || !svm.name) fail(`svms[${i}]: needs a 'name'`);
    if (svmNames.has(svm.name)) fail(`svms[${i}]: SVM '${svm.name}' is listed twice`);
    svmNames.add(svm.name);
    (svm.lifs ?? []).forEach((l: any, j: number) => {
      if (!l || typeof l.ip !== 'string') fail(`svms[${i}].lifs[${j}]: needs an 'ip'`);
    });
    const vols = new Set<string>();
    (svm.volumes ?? []).forEach((v: any, j: number) => {
      if (!v || typeof v.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) fail(`svms[${i}].volumes[${j}]: 'name' must be a volume name ([A-Za-z_][A-Za-z0-9_]*)`);
      if (vols.has(v.name)) fail(`svms[${i}].volumes[${j}]: volume '${v.name}' is listed twice`);
      vols.add(v.name);
      if (v.path !== undefined && (typeof v.path !== 'string' || !v.path.startsWith('/'))) fail(`svms[${i}].volumes[${j}]: 'path' must start with /`);
    });
  });
}
