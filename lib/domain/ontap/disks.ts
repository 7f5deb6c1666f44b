// The disks of a QEMU VM as file paths on an NFS storage, and the names of their clones.
// Pure: the tests pin every disk key and format (the original tool missed virtio).

/** Every key under which QEMU keeps a disk image. unusedN is not attached, so not cloned. */
const DISK_KEY = /^(?:(?:ide|sata|scsi|virtio)\d+|efidisk\d+|tpmstate\d+)$/;
type DiskFormat = 'qcow2' | 'raw' | 'vmdk';

export interface VmDisk {
  key: string;
  storage: string;
  volname: string;
  /** path inside the storage, e.g. images/100/vm-100-disk-0.qcow2 */
  file: string;
  format: DiskFormat;
}

export interface SkippedDisk {
  key: string;
  value: string;
  reason: string;
}

/** `storage:volname[,opts]` disk entries of a VM config → image files; the rest skipped with a reason. */
export function vmDisks(config: Record<string, unknown>): { disks: VmDisk[]; skipped: SkippedDisk[] } {
  const disks: VmDisk[] = [];
  const skipped: SkippedDisk[] = [];
  for (const key of Object.keys(config).sort(diskOrder)) {
    if (!DISK_KEY.test(key)) continue;
    const value = String(config[key]);
    const [spec, ...opts] = value.split(',');
    if (opts.some((o) => o === 'media=cdrom')) {
      skipped.push({ key, value, reason: 'cd-rom' });
      continue;
    }
    if (spec === 'none' || spec === 'cdrom') {
      skipped.push({ key, value, reason: 'no medium' });
      continue;
    }
    const colon = spec.indexOf(':');
    if (colon <= 0 || spec.startsWith('/')) {
      skipped.push({ key, value, reason: 'not on a storage (device or path)' });
      continue;
    }
    const storage = spec.slice(0, colon);
    const volname = spec.slice(colon + 1);
    const file = imageFile(volname);
    const fmt = /\.(qcow2|raw|vmdk)$/.exec(volname)?.[1] as VmDisk['format'] | undefined;
    if (!file || !fmt) {
      skipped.push({ key, value, reason: 'not a qcow2, raw or vmdk image file' });
      continue;
    }
    disks.push({ key, storage, volname, file, format: fmt });
  }
  return { disks, skipped };
}

/** scsi0 < scsi1 < scsi10, grouped by bus. */
function diskOrder(a: string, b: string): number {
  const pa = /^([a-z]+)(\d+)$/.exec(a);
  const pb = /^([a-z]+)(\d+)$/.exec(b);
  if (pa && pb && pa[1] === pb[1]) return Number(pa[2]) - Number(pb[2]);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The image file of a directory-style volume name: `100/vm-100-disk-0.qcow2`, or a linked
 * clone's `101/base-101-disk-0.qcow2/100/vm-100-disk-0.qcow2` (the last two parts are the
 * VM's own file).
 */
export function imageFile(volname: string): string | undefined {
  const parts = volname.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  const [dir, file] = parts.slice(-2);
  if (!/^\d+$/.test(dir) || !file) return undefined;
  return `images/${dir}/${file}`;
}

const CLONE_RE = /^(.+)-snapshot-(\d{14})\.(qcow2|raw|vmdk)$/;
/** The original pve-ontap-snapshot.py's clones: <disk>-snapshot-%Y-%m-%d_%H:%M:%S+0000.<ext> */
const LEGACY_CLONE_RE = /^(.+)-snapshot-(\d{4})-(\d{2})-(\d{2})_(\d{2}):(\d{2}):(\d{2})\+0000\.(qcow2|raw|vmdk)$/;

/** UTC yyyyMMddHHmmss: the clone names sort by time and carry no zone ambiguity. */
function utcStamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** `images/100/vm-100-disk-0.qcow2` → `images/100/vm-100-disk-0-snapshot-20240101120000.qcow2` */
export function cloneFileName(file: string, when: Date): string {
  const m = /^(.*?)(\.(?:qcow2|raw|vmdk))$/.exec(file);
  if (!m) throw new Error(`not an image file: ${file}`);
  return `${m[1]}-snapshot-${utcStamp(when)}${m[2]}`;
}

/**
 * A clone made for this VM: ours, `vm-<vmid>-...-snapshot-<14 digits>.<fmt>`, or the
 * original tool's, `vm-<vmid>-...-snapshot-YYYY-MM-DD_HH:MM:SS+0000.<fmt>`.
 */
export function parseCloneName(name: string, vmid: number): { source: string; stamp: string; created: Date; legacy: boolean } | undefined {
  const ours = (disk: string) => disk.startsWith(`vm-${vmid}-`) || disk.startsWith(`base-${vmid}-`);
  const m = CLONE_RE.exec(name);
  if (m && ours(m[1])) {
    const s = m[2];
    const created = new Date(Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14)));
    return { source: `${m[1]}.${m[3]}`, stamp: s, created, legacy: false };
  }
  const l = LEGACY_CLONE_RE.exec(name);
  if (!l || !ours(l[1])) return undefined;
  const [y, mo, d, h, mi, se] = l.slice(2, 8).map(Number);
  const created = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (Number.isNaN(created.getTime()) || created.getUTCDate() !== d) return undefined;
  return { source: `${l[1]}.${l[8]}`, stamp: l.slice(2, 8).join(''), created, legacy: true };
}

/** Join volume-relative path parts, dropping empty ones. */
export function joinPath(...parts: string[]): string {
  return parts.flatMap((p) => p.split('/')).filter(Boolean).join('/');
}
