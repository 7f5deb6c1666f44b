// The manifest inside each snapshot: before a volume snapshot, a small JSON file at the
// volume's root lists the guests with disks on the volume's storages and their configs,
// so the snapshot itself tells which guests it holds (`storage show --snapshot`, `mount`),
// even after the guests were changed or removed in Proxmox.
//
// Written and read through ONTAP's REST files API (lib/clients/ontap/rest.ts writeFile/readFile);
// ZAPI has no call that writes file data, so snapshots over ZAPI carry no manifest.
import { debug, warn } from '../../core/log.ts';
import { guestBase } from '../../clients/pve/path.ts';
import type { ClusterVm } from '../../clients/pve/types.ts';
import type { Ctx } from './context.ts';
import { imageFile } from '../../domain/ontap/disks.ts';
import { normJunction, type Mapped } from '../../domain/ontap/mapping.ts';
import type { Ontap, VolumeInfo } from '../../clients/ontap/types.ts';

export const MANIFEST_FILE = '.autosnap-manifest.json';
const MANIFEST_FORMAT = 'autosnap-ontap-manifest/1';

/** Config keys that hold a guest's disks and volumes (QEMU and LXC). */
const GUEST_DISK_KEY = /^((ide|sata|scsi|virtio|unused|mp)\d+|efidisk\d+|tpmstate\d+|rootfs)$/;
/** Config keys not worth keeping: the digest changes with every edit, a password never belongs in a file */
const DROPPED_KEYS = new Set(['digest', 'cipassword']);

export interface GuestOn {
  vmid: number;
  type: string;
  node: string;
  name?: string;
  status: string;
  storages: string[];
  config: Record<string, unknown>;
}

export interface Manifest {
  format: string;
  snapshot: string;
  volume: string;
  svm: string;
  created: string;
  storages: string[];
  /**
   * Where each storage's files are inside the volume ('' at its root, `sub` for an export
   * below the junction), so a guest's disks can be found in the snapshot even after the
   * storage was changed or removed. Absent in the first manifests.
   */
  dirs?: Record<string, string>;
  guests: { vmid: number; type: string; node: string; name?: string; status: string; storages: string[]; config: Record<string, unknown> }[];
}

/**
 * The Proxmox storages a volume snapshot holds: NFS storages on the same server whose
 * export is the volume's junction or a directory below it (nfs1 and nfs-sub alike).
 */
export async function storagesOnVolume(ctx: Ctx, mapped: Mapped): Promise<string[]> {
  return Object.keys(await storageDirs(ctx, mapped));
}

/** storagesOnVolume with each storage's directory inside the volume ('' for its root). */
export async function storageDirs(ctx: Ctx, mapped: Mapped): Promise<Record<string, string>> {
  const j = normJunction(mapped.volume.path ?? '');
  const out: Record<string, string> = {};
  for (const s of await ctx.storageList()) {
    if (s.type !== 'nfs' || String(s.server ?? '') !== mapped.storage.server) continue;
    const e = normJunction(String(s.export ?? ''));
    if (e === j) out[String(s.storage)] = '';
    else if (j === '/' ? e.startsWith('/') : e.startsWith(j + '/')) out[String(s.storage)] = e.slice(j === '/' ? 1 : j.length + 1);
  }
  return out;
}

/** The guests with a disk or volume on one of these storages, from their configs. */
export async function guestsOn(ctx: Ctx, storages: string[]): Promise<GuestOn[]> {
  const pve = await ctx.pve();
  const all = (await pve.get<ClusterVm[]>('/cluster/resources', { type: 'vm' })) ?? [];
  const out: GuestOn[] = [];
  for (const g of all) {
    const cfg = (await pve.get<Record<string, unknown>>(guestBase({ node: g.node, type: g.type, vmid: Number(g.vmid) }, 'config'))) ?? {};
    const on = new Set<string>();
    for (const [k, v] of Object.entries(cfg)) {
      if (!GUEST_DISK_KEY.test(k)) continue;
      const m = /^([A-Za-z][\w.-]*):/.exec(String(v));
      if (m && storages.includes(m[1])) on.add(m[1]);
    }
    const config = Object.fromEntries(Object.entries(cfg).filter(([k]) => !DROPPED_KEYS.has(k)));
    if (on.size) out.push({ vmid: Number(g.vmid), type: g.type, node: g.node, name: g.name, status: String(g.status), storages: [...on], config });
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

/**
 * Write the manifest of the snapshot about to be made. A manifest that cannot be written
 * costs a warning, never the snapshot: the snapshot is what protects the data.
 */
export async function writeManifest(ctx: Ctx, ontap: Ontap, mapped: Mapped, snapshot: string): Promise<void> {
  if (!ontap.writeFile) {
    // every snapshot over ZAPI would say it: a debug line, the docs say it once
    debug(`volume ${mapped.volume.name}: ZAPI cannot write files, so snapshot ${snapshot} carries no manifest`);
    return;
  }
  try {
    const all = await storageDirs(ctx, mapped);
    const storages = Object.keys(all);
    // Proxmox takes any path as an NFS export (pve-storage-path), but a directory the
    // reader would not look up (safeDir) makes it refuse the whole manifest: such a
    // directory is left out of the record (that storage's disks then read as not found)
    const dirs = Object.fromEntries(Object.entries(all).filter(([, d]) => safeDir(d)));
    const guests = await guestsOn(ctx, storages);
    const m: Manifest = {
      format: MANIFEST_FORMAT, snapshot, volume: mapped.volume.name, svm: mapped.svm, created: ctx.now.toISOString(), storages, dirs,
      guests: guests.map((g) => ({ vmid: g.vmid, type: g.type, node: g.node, name: g.name, status: g.status, storages: g.storages, config: g.config })),
    };
    await ontap.writeFile(mapped.volume, MANIFEST_FILE, JSON.stringify(m, null, 1) + '\n');
  } catch (e) {
    warn(`volume ${mapped.volume.name}: manifest not written (${(e as Error).message}); snapshot ${snapshot} is made without it`);
  }
}

/** The manifest a snapshot holds: undefined when it has none (older, ZAPI, by hand). */
export async function readManifest(ontap: Ontap, vol: VolumeInfo, snapshot: string): Promise<Manifest | undefined> {
  if (!ontap.readFile) return undefined;
  const text = await ontap.readFile(vol, `.snapshot/${snapshot}/${MANIFEST_FILE}`);
  if (text === undefined) return undefined;
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    warn(`snapshot ${snapshot} of volume ${vol.name}: ${MANIFEST_FILE} is unreadable; ignored`);
    return undefined;
  }
  if (m?.format !== MANIFEST_FORMAT || !Array.isArray(m.guests)) {
    warn(`snapshot ${snapshot} of volume ${vol.name}: ${MANIFEST_FILE} is unreadable; ignored`);
    return undefined;
  }
  // a snapshot made without writing one (over ZAPI, or when the write failed) holds the
  // previous snapshot's manifest: that one describes another moment, not this snapshot
  if (m.snapshot !== snapshot) return undefined;
  const bad = manifestProblem(m);
  if (bad) {
    warn(`snapshot ${snapshot} of volume ${vol.name}: ${MANIFEST_FILE} ignored: ${bad}`);
    return undefined;
  }
  const guests: Manifest['guests'] = [];
  for (const [i, g] of m.guests.entries()) {
    const why = guestProblem(g);
    if (why) warn(`snapshot ${snapshot} of volume ${vol.name}: ${MANIFEST_FILE}: guest entry ${i + 1} skipped: ${why}`);
    else guests.push(g);
  }
  return { ...m, guests };
}

// The manifest lies in the volume, where anyone with write access to the NFS export can
// change it before a snapshot captures it: everything in it is checked before it names a
// path, and a path is only ever looked up inside the volume it was read from.

/** Proxmox storage ids (pve-common, PVE/JSONSchema.pm parse_id: [a-z][a-z0-9\-\_\.]*[a-z0-9], any case). */
const STORAGE_ID = /^[A-Za-z](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9])?$/;
/** Guest and node names: host names (Proxmox's dns-name and pve-node formats), 253 at most. */
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const CONFIG_KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** One directory of a storage's path in the volume: no `.`, `..` or `.snapshot`. */
const DIR_PART = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$/;
/** A disk image's file name: no separator, no leading dot. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,254}$/;
const MAX_CONFIG_KEYS = 1000;
const MAX_VALUE = 65536;
/** QEMU has 59 disk slots (ide 4, sata 6, scsi 31, virtio 16, efidisk, tpmstate), a container 256 mount points */
const MAX_DISKS = 300;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Is this a directory inside a volume that may be looked up ('' is its root)? */
export function safeDir(d: unknown): d is string {
  if (d === '') return true;
  if (typeof d !== 'string' || d.length > 1024) return false;
  const parts = d.split('/');
  return parts.length <= 32 && parts.every((p) => DIR_PART.test(p));
}

/** What is wrong with a manifest's storages and their directories, if anything. */
export function manifestProblem(m: { storages?: unknown; dirs?: unknown }): string | undefined {
  if (!Array.isArray(m.storages) || m.storages.length > 1000) return 'its storages are not a list';
  const badId = m.storages.find((s) => typeof s !== 'string' || !STORAGE_ID.test(s));
  if (badId !== undefined) return `${JSON.stringify(badId).slice(0, 80)} is not a storage id`;
  if (m.dirs === undefined) return undefined;
  if (!isObject(m.dirs)) return 'its storage directories are not a map';
  for (const [st, d] of Object.entries(m.dirs)) {
    if (!STORAGE_ID.test(st)) return `${JSON.stringify(st).slice(0, 80)} is not a storage id`;
    if (!safeDir(d)) return `the directory of storage ${st}, ${JSON.stringify(d).slice(0, 80)}, is not a path inside the volume`;
  }
  return undefined;
}

/** A config value as Proxmox gives it: text, a number, or (a container's raw lxc.* lines) a list of [key, value] pairs. */
function configValue(v: unknown, depth = 0): boolean {
  if (typeof v === 'string') return v.length <= MAX_VALUE;
  if (typeof v === 'number' || typeof v === 'boolean') return true;
  return depth < 2 && Array.isArray(v) && v.length <= MAX_CONFIG_KEYS && v.every((x) => configValue(x, depth + 1));
}

/** What is wrong with one guest entry, if anything. */
export function guestProblem(g: unknown): string | undefined {
  if (!isObject(g)) return 'not an object';
  const id = g.vmid;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 100 || id > 999_999_999) return `vmid ${JSON.stringify(id)?.slice(0, 40)} is not a guest id (100..999999999)`;
  if (g.type !== 'qemu' && g.type !== 'lxc') return `guest ${id}: type ${JSON.stringify(g.type)?.slice(0, 40)} is neither qemu nor lxc`;
  if (typeof g.node !== 'string' || !HOST_NAME.test(g.node)) return `guest ${id}: node ${JSON.stringify(g.node)?.slice(0, 80)} is not a node name`;
  if (g.name !== undefined && (typeof g.name !== 'string' || !HOST_NAME.test(g.name))) return `guest ${id}: name ${JSON.stringify(g.name).slice(0, 80)} is not a guest name`;
  if (typeof g.status !== 'string' || !/^[a-z]{1,20}$/.test(g.status)) return `guest ${id}: status ${JSON.stringify(g.status)?.slice(0, 40)} is not a status`;
  if (!Array.isArray(g.storages) || g.storages.some((s) => typeof s !== 'string' || !STORAGE_ID.test(s))) return `guest ${id}: its storages are not storage ids`;
  if (!isObject(g.config)) return `guest ${id}: its config is not an object`;
  const keys = Object.keys(g.config);
  if (keys.length > MAX_CONFIG_KEYS) return `guest ${id}: its config has ${keys.length} keys (at most ${MAX_CONFIG_KEYS})`;
  for (const k of keys) {
    const v = g.config[k];
    if (!CONFIG_KEY.test(k)) return `guest ${id}: config key ${JSON.stringify(k).slice(0, 80)} is not a Proxmox config key`;
    if (!configValue(v)) return `guest ${id}: config ${k} is not a string or number of at most ${MAX_VALUE} characters`;
  }
  return undefined;
}

/** Config keys of a guest's disk images on a storage: QEMU's disks (disks.ts DISK_KEY), a container's root and mount points. */
const IMAGE_KEY: Record<string, RegExp> = {
  qemu: /^(?:(?:ide|sata|scsi|virtio)\d+|efidisk\d+|tpmstate\d+)$/,
  lxc: /^(?:rootfs|mp\d+)$/,
};

export interface RecordedDisk {
  key: string;
  storage: string;
  /** the storage's directory in the volume, or undefined when no record or storage tells it */
  dir?: string;
  /** inside the storage: images/<vmid>/<name> */
  file: string;
}

/**
 * The image files of a manifest's guest that lie on the manifest's storages, as paths
 * inside the volume. `dirs` are the manifest's own storage directories (checked by
 * manifestProblem), `fallback` those of the storages Proxmox has now. A disk that names
 * a path outside its guest's images directory is a problem, never a path to look at.
 */
export function recordedDisks(
  g: { vmid: number; type: string; config: Record<string, unknown> },
  storages: string[],
  dirs: Record<string, string> | undefined,
  fallback: Record<string, string> = {},
): { disks: RecordedDisk[]; problem?: string } {
  const disks: RecordedDisk[] = [];
  const keyRe = IMAGE_KEY[g.type];
  if (!keyRe) return { disks, problem: `guest ${g.vmid}: type ${g.type} has no disks this tool knows` };
  for (const [key, raw] of Object.entries(g.config)) {
    if (!keyRe.test(key)) continue;
    // each disk costs a directory listing at most; no real guest comes near this
    if (disks.length >= MAX_DISKS) return { disks, problem: `guest ${g.vmid}: more than ${MAX_DISKS} disks` };
    const [spec, ...opts] = String(raw).split(',');
    if (opts.includes('media=cdrom')) continue;
    const colon = spec.indexOf(':');
    if (colon <= 0) continue; // none, cdrom, a device or a path: not a file of a storage
    const storage = spec.slice(0, colon);
    if (!storages.includes(storage)) continue; // on a storage outside this volume
    const volname = spec.slice(colon + 1);
    const parts = volname.split('/');
    if (volname.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p === '.snapshot')) {
      return { disks, problem: `guest ${g.vmid}: ${key} names ${JSON.stringify(volname).slice(0, 80)}, not a file of storage ${storage}` };
    }
    const file = imageFile(volname);
    if (!file) continue; // not an image file (a container's subvolume, an ISO)
    const [, dir, name] = file.split('/');
    if (dir !== String(g.vmid) || !FILE_NAME.test(name)) {
      return { disks, problem: `guest ${g.vmid}: ${key} names ${JSON.stringify(volname).slice(0, 80)}, not an image of guest ${g.vmid}` };
    }
    const d = dirs && Object.hasOwn(dirs, storage) ? dirs[storage] : Object.hasOwn(fallback, storage) ? fallback[storage] : undefined;
    disks.push({ key, storage, dir: d !== undefined && safeDir(d) ? d : undefined, file });
  }
  return { disks };
}

/** "100 (qemu web1), 101 (lxc)" */
export function describeGuests(m: Manifest): string {
  return m.guests.length ? m.guests.map((g) => `${g.vmid} (${g.type}${g.name ? ` ${g.name}` : ''})`).join(', ') : 'none';
}
