// The clusters the ontap-snapshot end-to-end tests run against: an ONTAP cluster with
// two SVMs that both have a volume at /vol/pve_nfs (only the LIF tells them apart), and a
// Proxmox cluster whose NFS storages point at them.
import os from 'node:os';
import { run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';
import { startOntapSim, writeConfig, type OntapSimHandle, type OntapSimOptions } from '../helpers/ontap.ts';

export const ONTAP_SEED = {
  cluster: 'e2e',
  pageSize: 2,
  svms: [
    {
      name: 'svm1',
      lifs: [
        { name: 'svm1_nfs', ip: '10.0.0.5', services: ['data_core', 'data_nfs'] },
        { name: 'svm1_mgmt', ip: '10.0.0.4', services: ['management_https'] },
      ],
      volumes: [
        { name: 'svm1_root', path: '/', exportPolicy: 'default' },
        { name: 'vols', path: '/vol', exportPolicy: 'default' },
        {
          name: 'pve_data', path: '/vol/pve_nfs', exportPolicy: 'pve_hosts',
          files: [
            'images/100/vm-100-disk-0.qcow2', 'images/100/vm-100-disk-1.raw', 'images/100/vm-100-disk-2.vmdk',
            'images/100/vm-100-disk-3.qcow2', 'images/100/vm-100-disk-4.raw', 'images/100/vm-100-disk-5.raw',
            'images/101/vm-101-disk-0.qcow2', 'sub/images/102/vm-102-disk-0.raw', 'images/105/vm-105-disk-0.qcow2',
          ],
          snapshots: [{ name: 'nightly.0', comment: 'schedule' }],
        },
        { name: 'held', path: '/vol/held', exportPolicy: 'pve_hosts', snapshots: [{ name: 'base', comment: 'made by ontap-snapshot' }] },
        { name: 'held_child', path: '/vol/held_child', clone: { parentVolume: 'held', parentSnapshot: 'base' } },
      ],
    },
    {
      name: 'svm2',
      lifs: [{ name: 'svm2_nfs', ip: '10.0.1.5', services: ['data_nfs'] }],
      volumes: [{ name: 'other_data', path: '/vol/pve_nfs', exportPolicy: 'svm2_policy', files: ['images/103/vm-103-disk-0.qcow2'] }],
    },
  ],
  // volume held is mirrored to svm2 (restore warns about it and can update it)
  snapmirrors: [{ source: 'svm1:held', destination: 'svm2:held_dr' }],
  // pve_data and held can be snapshotted at one instant
  consistencyGroups: [{ name: 'pve_cg', svm: 'svm1', volumes: ['pve_data', 'held'] }],
};

const nfs = (storage: string, server: string, exp: string) => ({
  storage, type: 'nfs', server, export: exp, content: 'images,iso', options: 'vers=4.2,soft', nodes: ['pve1', 'pve2'], shared: true, path: `/mnt/pve/${storage}`,
});

/** the node the tests run on, as Proxmox would name it (qm rescan works only there) */
export const LOCAL_NODE = os.hostname().split('.')[0];

/** the read-only token of audit@pve */
export const AUDIT_TOKEN = 'audit@pve!ro';
export const AUDIT_SECRET = '5b0e6a52-4f6e-4d1c-9a61-0c2f3d7e8a91';

export const PVE_SEED = {
  cluster: 'e2e',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }, { node: LOCAL_NODE }],
  storages: [
    nfs('nfs1', '10.0.0.5', '/vol/pve_nfs'),
    nfs('nfs2', '10.0.1.5', '/vol/pve_nfs'),
    nfs('nfs-sub', '10.0.0.5', '/vol/pve_nfs/sub'),
    nfs('nfs-held', '10.0.0.5', '/vol/held'),
    nfs('nfs-held-child', '10.0.0.5', '/vol/held_child'),
    nfs('nfs-missing', '10.0.0.5', '/vol/nowhere'),
    nfs('nfs-foreign', '10.9.9.9', '/export/x'),
    { storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1', 'pve2'] },
  ],
  users: [
    { userid: 'ontap@pve', password: 'pve-secret-pw', privileges: { '/': ['VM.Audit', 'VM.PowerMgmt', 'Datastore.Audit', 'Datastore.Allocate', 'Sys.Audit'] } },
    // read-only: may look at storages and guests, not change or configure them
    {
      userid: 'audit@pve', password: 'audit-secret-pw', privileges: { '/': ['VM.Audit', 'Datastore.Audit', 'Sys.Audit'] },
      tokens: [{ id: 'ro', secret: AUDIT_SECRET, privsep: true, privileges: { '/': ['VM.Audit', 'Datastore.Audit', 'Sys.Audit'] } }],
    },
  ],
  guests: [
    {
      vmid: 100, type: 'qemu', node: 'pve1', name: 'every-bus', status: 'running',
      disks: {
        scsi0: 'nfs1:100/vm-100-disk-0.qcow2,size=32G',
        virtio1: 'nfs1:100/vm-100-disk-1.raw,size=8G',
        sata2: 'nfs1:100/vm-100-disk-2.vmdk,size=8G',
        ide0: 'nfs1:100/vm-100-disk-3.qcow2,size=8G',
        efidisk0: 'nfs1:100/vm-100-disk-4.raw,efitype=4m,size=528K',
        tpmstate0: 'nfs1:100/vm-100-disk-5.raw,size=4M,version=v2.0',
        ide2: 'nfs1:iso/debian.iso,media=cdrom',
        scsi3: 'local-zfs:vm-100-disk-9,size=4G',
        scsi4: 'nfs-foreign:100/vm-100-disk-7.qcow2,size=4G',
      },
    },
    { vmid: 101, type: 'qemu', node: 'pve2', name: 'stopped-one', status: 'stopped', disks: { scsi0: 'nfs1:101/vm-101-disk-0.qcow2,size=8G' } },
    { vmid: 102, type: 'qemu', node: 'pve1', name: 'in-a-subdir', status: 'running', disks: { virtio0: 'nfs-sub:102/vm-102-disk-0.raw,size=8G' } },
    { vmid: 103, type: 'qemu', node: 'pve2', name: 'svm2-guest', status: 'running', disks: { scsi0: 'nfs2:103/vm-103-disk-0.qcow2,size=8G' } },
    { vmid: 104, type: 'qemu', node: 'pve1', name: 'zfs-only', status: 'running', disks: { scsi0: 'local-zfs:vm-104-disk-0,size=8G' } },
    { vmid: 105, type: 'qemu', node: LOCAL_NODE, name: 'on-this-node', status: 'stopped', disks: { scsi0: 'nfs1:105/vm-105-disk-0.qcow2,size=8G' } },
    { vmid: 200, type: 'lxc', node: 'pve1', name: 'ct', status: 'running', disks: { rootfs: 'nfs1:subvol-200-disk-0,size=8G' } },
  ],
};

export interface Clusters {
  ontap: OntapSimHandle;
  pve: SimHandle;
  /** config file (0600) with [pve] and [ontap] */
  config: string;
  /** run ontap-snapshot with the config and fast job polling */
  tool(args: string[], env?: Record<string, string | undefined>): Promise<RunResult>;
  stop(): Promise<void>;
}

export function configText(pve: SimHandle, ontap: OntapSimHandle, extraOntap = ''): string {
  return `[pve]\nhost = ${pve.hostPort}\nfingerprint = ${pve.fingerprint}\napi_token = ${pve.token}\n\n[ontap]\nhost = ${ontap.hostPort}\nuser = ${ontap.user}\npassword = ${ontap.password}\nfingerprint = ${ontap.fingerprint}\n${extraOntap}`;
}

export const FAST = { AUTOSNAP_ONTAP_POLL_SCALE: '0.01' };

export async function startClusters(o: { extraOntap?: string; pveFaults?: string; ontap?: OntapSimOptions } = {}): Promise<Clusters> {
  const [ontap, pve] = await Promise.all([startOntapSim({ seed: ONTAP_SEED, ...o.ontap }), startSim({ seed: PVE_SEED, timeScale: 0.01, faults: o.pveFaults })]);
  const config = writeConfig(configText(pve, ontap, o.extraOntap));
  return {
    ontap,
    pve,
    config,
    tool: (args, env = {}) => run(['ontap-snapshot', ...args, ...(args.includes('--config') ? [] : ['--config', config])], { env: { ...FAST, AUTOSNAP_CONFIG: undefined, ...env } }),
    stop: async () => {
      await Promise.all([ontap.stop(), pve.stop()]);
    },
  };
}

/** A volume of the simulated cluster by name. */
export function vol(state: any, name: string): any {
  return state.volumes.find((v: any) => v.name === name);
}

/** The error lines a run printed. */
export function errorLines(r: RunResult): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('error:'));
}
