// Names ontap-snapshot gives to what it creates. Pure, documented in docs/ontap-snapshot.md.
import crypto from 'node:crypto';
import type { VolumeInfo } from '../../clients/ontap/types.ts';

/** Comment on every snapshot this tool makes: how `delete` tells ours from others'. */
export const SNAPSHOT_COMMENT = 'made by ontap-snapshot';

/** Who made a snapshot: this tool (by its comment), the original pve-ontap-snapshot.py
 * (its proxmox_snapshot_ names, without our comment), or someone else (undefined). */
export function snapshotOrigin(s: { name: string; comment?: string }): 'ontap-snapshot' | 'pve-ontap-snapshot.py' | undefined {
  if (s.comment === SNAPSHOT_COMMENT) return 'ontap-snapshot';
  if (s.name.startsWith('proxmox_snapshot_')) return 'pve-ontap-snapshot.py';
  return undefined;
}

/** proxmox_snapshot_YYYYMMDD_HHMMSS (UTC), the original tool's prefix. */
export function defaultSnapshotName(now: Date): string {
  const s = now.toISOString();
  return `proxmox_snapshot_${s.slice(0, 10).replace(/-/g, '')}_${s.slice(11, 19).replace(/:/g, '')}`;
}

const SNAPSHOT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,254}$/;
export function checkSnapshotName(name: string): string | undefined {
  return SNAPSHOT_NAME.test(name) ? undefined : `snapshot name '${name}' is not valid (letters, digits, _ . - : +, at most 255, not starting with . - : +)`;
}

const shortHash = (s: string) => crypto.createHash('sha1').update(s).digest('hex').slice(0, 6);

/**
 * Characters outside `allowed` become `repl`; when anything changed a short hash of the
 * original is appended, so two snapshots that differ only in such characters still get
 * different names.
 */
function sanitize(text: string, allowed: RegExp, repl: string): string {
  const clean = text.replace(new RegExp(`[^${allowed.source}]`, 'g'), repl);
  return clean === text ? clean : `${clean}${repl}${shortHash(text)}`;
}

/** FlexClone volume for a snapshot: <parent>_clone_<snapshot> (ONTAP names: [A-Za-z0-9_]). */
export function cloneVolumeName(parent: string, snapshot: string): string {
  return `${parent}_clone_${sanitize(snapshot, /A-Za-z0-9_/, '_')}`.slice(0, 203);
}

/** Proxmox storage id for a mounted snapshot: <storage>-CLONE-<snapshot>. */
export function cloneStorageId(storage: string, snapshot: string): string {
  let id = `${storage}-CLONE-${sanitize(snapshot, /A-Za-z0-9_.-/, '-')}`;
  // a storage id must end with a letter or digit
  if (!/[A-Za-z0-9]$/.test(id)) id += `-${shortHash(snapshot)}`;
  return id;
}

/** Junction of a clone: next to its parent's, so it lies in an already mounted namespace. */
export function cloneJunction(parentPath: string | undefined, cloneName: string): string {
  const parts = (parentPath ?? '/').split('/').filter(Boolean);
  return '/' + [...parts.slice(0, -1), cloneName].join('/');
}

/**
 * Did `mount` make this storage and volume? Only then may unmount delete them unasked: the
 * storage id is <parent storage>-CLONE-<snapshot> and the volume <parent>_clone_<snapshot>
 * for the parent and snapshot ONTAP records for the clone. A FlexClone someone made by
 * hand (under whatever name) holds their data, not a copy this tool can make again.
 */
export function madeByMount(storageId: string, vol: Pick<VolumeInfo, 'name' | 'isClone' | 'parentVolume' | 'parentSnapshot'>): boolean {
  if (!vol.isClone || !vol.parentVolume || !vol.parentSnapshot) return false;
  if (vol.name !== cloneVolumeName(vol.parentVolume, vol.parentSnapshot)) return false;
  const suffix = cloneStorageId('', vol.parentSnapshot);
  const parentStorage = storageId.endsWith(suffix) ? storageId.slice(0, -suffix.length) : '';
  return parentStorage !== '' && cloneStorageId(parentStorage, vol.parentSnapshot) === storageId;
}
