// What a rollback will do, worked out before anything is touched: which snapshots are
// newer than the target, and whether a disk of the guest sits on storage that refuses to
// roll back past newer snapshots (ZFS keeps a linear history per volume; volume-chain
// storages too). qcow2 on dir/NFS, LVM-thin, RBD and btrfs allow it.
import type { SnapshotEntry } from '../../clients/pve/types.ts';
import type { GuestType } from '../guests/types.ts';

export interface Volume {
  key: string;
  storage: string;
  volume: string;
}

export interface StorageInfo {
  storage: string;
  type: string;
  'snapshot-as-volume-chain'?: number | string | boolean;
}

const QEMU_DISK = /^(ide|sata|scsi|virtio)\d+$|^efidisk\d+$|^tpmstate\d+$/;
const LXC_DISK = /^rootfs$|^mp\d+$/;

/** The storage volumes of a guest config (snapshots cover these; CD-ROMs and bind mounts are not volumes). */
export function configVolumes(config: Record<string, unknown>, type: GuestType): Volume[] {
  const out: Volume[] = [];
  for (const [key, raw] of Object.entries(config)) {
    if (!(type === 'qemu' ? QEMU_DISK : LXC_DISK).test(key) || typeof raw !== 'string') continue;
    const parts = raw.split(',');
    if (parts.some((p) => p === 'media=cdrom')) continue;
    let volid = parts[0];
    const named = parts.find((p) => p.startsWith('file=') || p.startsWith('volume='));
    // the volume is the first part, unless it is written as `file=`/`volume=` (then anywhere)
    if (named && (volid === named || !volid.includes(':'))) volid = named.slice(named.indexOf('=') + 1);
    const m = /^([A-Za-z][A-Za-z0-9.\-_]*):(.+)$/.exec(volid);
    if (!m) continue; // `none`, a device path, a bind mount: not on a storage
    out.push({ key, storage: m[1], volume: volid });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Snapshots taken after `target`: later snaptime, or below it in the tree. */
export function newerSnapshots(target: SnapshotEntry, entries: SnapshotEntry[]): string[] {
  const real = entries.filter((e) => e.name !== 'current' && e.name !== target.name);
  const below = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const e of real) {
      if (!below.has(e.name) && e.parent !== undefined && (e.parent === target.name || below.has(e.parent))) {
        below.add(e.name);
        grew = true;
      }
    }
  }
  const later = real.filter((e) => below.has(e.name) || (target.snaptime !== undefined && e.snaptime !== undefined && e.snaptime > target.snaptime));
  return later.sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0) || a.name.localeCompare(b.name)).map((e) => e.name);
}

function linearHistory(s: StorageInfo | undefined): boolean {
  if (!s) return false;
  const chain = s['snapshot-as-volume-chain'];
  return s.type === 'zfspool' || s.type === 'zfs' || chain === 1 || chain === '1' || chain === true;
}

export interface RollbackAssessment {
  newer: string[];
  /** volumes on storages that refuse to roll back past `newer` (empty when none are newer) */
  blocking: { volume: Volume; type: string }[];
  /** storage types per storage id, for the explanation */
  storages: { storage: string; type: string }[];
}

export function assessRollback(target: SnapshotEntry, entries: SnapshotEntry[], volumes: Volume[], storages: StorageInfo[]): RollbackAssessment {
  const newer = newerSnapshots(target, entries);
  const byId = new Map(storages.map((s) => [s.storage, s]));
  const used = [...new Set(volumes.map((v) => v.storage))].sort();
  const blocking = newer.length
    ? volumes.filter((v) => linearHistory(byId.get(v.storage))).map((v) => ({ volume: v, type: byId.get(v.storage)!.type }))
    : [];
  return { newer, blocking, storages: used.map((s) => ({ storage: s, type: byId.get(s)?.type ?? 'unknown' })) };
}
