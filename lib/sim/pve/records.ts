// The records of the simulated cluster (guests, snapshots, storages, tasks, injected task
// failures), the default task durations, and the rules of which disks and storages can
// be snapshotted, shared by the model (model.ts), its snapshot tasks (snapshots.ts) and
// the API views (views.ts).

export type GuestType = 'qemu' | 'lxc';

export interface Snap {
  name: string;
  snaptime: number;
  description: string;
  parent?: string;
  vmstate: boolean;
  snapstate?: 'prepare' | 'delete';
  /** creation order, for "most recent snapshot" on ZFS */
  seq: number;
  config: Record<string, unknown>;
  disks: Record<string, string>;
}

export interface Guest {
  vmid: number;
  type: GuestType;
  node: string;
  name: string;
  status: 'running' | 'stopped';
  paused: boolean;
  template: boolean;
  tags: string[];
  pool?: string;
  lock?: string;
  agent?: string;
  agentRunning: boolean;
  /** file systems frozen through the guest agent (fsfreeze-freeze until fsfreeze-thaw) */
  frozen?: boolean;
  disks: Record<string, string>;
  config: Record<string, unknown>;
  snapshots: Map<string, Snap>;
  /** the snapshot `current` descends from */
  parent?: string;
  digest: string;
  startedAt?: number;
}

export interface Storage {
  storage: string;
  type: string;
  content: string;
  shared: boolean;
  nodes?: string[];
  total: number;
  used: number;
  disable?: boolean;
  extra: Record<string, unknown>;
}

export interface Task {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  starttime: number;
  endtime?: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
  /** the order tasks ended in: the archive index lists the last ended first */
  endSeq?: number;
  /** performance.now() at its start and end, for traces (/_sim/stats) */
  startedMs?: number;
  endedMs?: number;
}

export interface TaskFail {
  vmid: number;
  type: string;
  message: string;
}

export const DEFAULT_DURATIONS: Record<string, number> = {
  qmsnapshot: 1.0, qmdelsnapshot: 0.5, qmrollback: 1.0,
  vzsnapshot: 1.0, vzdelsnapshot: 0.5, vzrollback: 1.0,
  qmsuspend: 1.0, qmpause: 0.2, qmresume: 0.5, qmstart: 1.0, qmshutdown: 2.0, qmstop: 0.5,
  vzstart: 1.0, vzshutdown: 1.0, vzstop: 0.5, vzsuspend: 0.5, vzresume: 0.5,
};

export const QEMU_DISK_RE = /^(ide|sata|scsi|virtio|efidisk|tpmstate)\d+$/;
export const LXC_DISK_RE = /^(rootfs|mp\d+)$/;
/** storage types whose volumes can always be snapshotted */
export const SNAP_ANY = new Set(['zfspool', 'zfs', 'lvmthin', 'rbd', 'btrfs', 'cephfs']);
/** file storages: only qcow2 (QEMU) can be snapshotted */
export const SNAP_QCOW2 = new Set(['dir', 'nfs', 'cifs', 'glusterfs']);
/** storages where a rollback past newer snapshots is refused */
export const ROLLBACK_MOST_RECENT = new Set(['zfspool', 'zfs']);

export function confPath(node: string, type: GuestType, vmid: number): string {
  return `nodes/${node}/${type === 'qemu' ? 'qemu-server' : 'lxc'}/${vmid}.conf`;
}
