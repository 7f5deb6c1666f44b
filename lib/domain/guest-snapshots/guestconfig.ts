// What the snapshot run reads from a guest's config: the storages holding its disks (for
// the storage check) and whether a QEMU guest agent is configured (for the consistency
// warning). Pure functions over the config object GET .../config returns.
import type { GuestType } from '../guests/types.ts';
import { configVolumes } from './rollback.ts';
import { yesNo } from '../../core/yesno.ts';

/**
 * Storage ids of the volumes a snapshot covers: the volumes the rollback assessment reads
 * too (rollback.ts configVolumes: no CD-ROMs, `none`, unused disks, pass-through or
 * bind-mounted paths, which live on no PVE storage, so they cannot fill one).
 */
export function diskStorages(type: GuestType, config: Record<string, unknown>, opts: { vmstate?: boolean } = {}): string[] {
  const out = new Set(configVolumes(config, type).map((v) => v.storage));
  // the RAM image goes to vmstatestorage, or else to the first disk's storage
  if (opts.vmstate && type === 'qemu' && typeof config.vmstatestorage === 'string' && config.vmstatestorage) out.add(config.vmstatestorage);
  return [...out].sort();
}

/** `agent: 1`, `agent: 1,fstrim_cloned_disks=1`, `agent: enabled=1,type=virtio` → true. */
export function agentEnabled(config: Record<string, unknown>): boolean {
  const v = config.agent;
  if (v === undefined || v === null) return false;
  if (typeof v === 'number') return v === 1;
  for (const part of String(v).split(',')) {
    const p = part.trim();
    // the first key, `enabled`, may stand alone: `agent: 1`, `agent: on`
    const bare = yesNo(p);
    if (bare !== undefined) return bare;
    const m = /^enabled=(\w+)$/.exec(p);
    if (m) return yesNo(m[1]) === true;
  }
  return false;
}

/** One storage as `GET /cluster/resources?type=storage` lists it (one entry per node). */
export interface StorageResource {
  id?: string;
  storage: string;
  node: string;
  disk?: number;
  maxdisk?: number;
  status?: string;
  shared?: number;
}

export interface StorageUse {
  storage: string;
  percent: number;
}

export function storageUsage(resources: StorageResource[]): Map<string, StorageUse> {
  const m = new Map<string, StorageUse>();
  for (const r of resources) {
    if (!r.storage || !r.node || !r.maxdisk || r.maxdisk <= 0) continue;
    m.set(`${r.node}/${r.storage}`, { storage: r.storage, percent: ((r.disk ?? 0) / r.maxdisk) * 100 });
  }
  return m;
}

/**
 * The first storage of the guest's disks above the limit, or undefined. A percentage is
 * compared with a percentage (cv4pve compared a 0..1 fraction with 0..100, so its check
 * never fired). A storage missing from the usage list (inactive, no Datastore.Audit) is
 * not a reason to skip: the snapshot task will say if it really cannot proceed.
 */
export function storageOverLimit(node: string, storages: string[], usage: Map<string, StorageUse>, maxPercent: number): StorageUse | undefined {
  let worst: StorageUse | undefined;
  for (const s of storages) {
    const u = usage.get(`${node}/${s}`);
    if (u && u.percent > maxPercent && (!worst || u.percent > worst.percent)) worst = u;
  }
  return worst;
}
