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
import { normJunction, type Mapped } from '../../domain/ontap/mapping.ts';
import type { Ontap, VolumeInfo } from '../../clients/ontap/types.ts';

const MANIFEST_FILE = '.autosnap-manifest.json';
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
  guests: { vmid: number; type: string; node: string; name?: string; status: string; storages: string[]; config: Record<string, unknown> }[];
}

/**
 * The Proxmox storages a volume snapshot holds: NFS storages on the same server whose
 * export is the volume's junction or a directory below it (nfs1 and nfs-sub alike).
 */
export async function storagesOnVolume(ctx: Ctx, mapped: Mapped): Promise<string[]> {
  const j = normJunction(mapped.volume.path ?? '');
  return (await ctx.storageList())
    .filter((s) => s.type === 'nfs' && String(s.server ?? '') === mapped.storage.server)
    .filter((s) => {
      const e = normJunction(String(s.export ?? ''));
      return e === j || (j === '/' ? e.startsWith('/') : e.startsWith(j + '/'));
    })
    .map((s) => String(s.storage));
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
    const storages = await storagesOnVolume(ctx, mapped);
    const guests = await guestsOn(ctx, storages);
    const m: Manifest = {
      format: MANIFEST_FORMAT, snapshot, volume: mapped.volume.name, svm: mapped.svm, created: ctx.now.toISOString(), storages,
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
  try {
    const m = JSON.parse(text) as Manifest;
    if (m?.format !== MANIFEST_FORMAT || !Array.isArray(m.guests)) throw new Error('not a manifest');
    // a snapshot made without writing one (over ZAPI, or when the write failed) holds the
    // previous snapshot's manifest: that one describes another moment, not this snapshot
    if (m.snapshot !== snapshot) return undefined;
    return m;
  } catch {
    warn(`snapshot ${snapshot} of volume ${vol.name}: ${MANIFEST_FILE} is unreadable; ignored`);
    return undefined;
  }
}

/** "100 (qemu web1), 101 (lxc)" */
export function describeGuests(m: Manifest): string {
  return m.guests.length ? m.guests.map((g) => `${g.vmid} (${g.type}${g.name ? ` ${g.name}` : ''})`).join(', ') : 'none';
}
