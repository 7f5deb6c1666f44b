// `ontap-snapshot vm snapshots --vm ID`: the volume snapshots whose manifest (manifest.ts)
// lists a guest, and where its disk images are inside each of them. Apart from the clone
// commands (vm.ts) because it works from the manifests alone, not from the VM Proxmox has now.
import { AppError, errorLine } from '../../core/errors.ts';
import { error, info, warn } from '../../core/log.ts';
import { print, render, type Column } from '../../core/output.ts';
import type { Ctx } from './context.ts';
import { joinPath } from '../../domain/ontap/disks.ts';
import { isNotFound } from '../../clients/ontap/errors.ts';
import { MANIFEST_FILE, readManifest, recordedDisks, storageDirs } from './manifest.ts';
import { NotServedError, type Mapped } from '../../domain/ontap/mapping.ts';
import { cloneStorageId, snapshotOrigin } from '../../domain/ontap/names.ts';
import type { Ontap, SnapshotInfo } from '../../clients/ontap/types.ts';
import { vmidOf } from './vm-target.ts';

interface SnapDisk {
  key: string;
  storage: string;
  /** path inside the volume, as it was when the snapshot was taken */
  file?: string;
  /** the same file inside the snapshot: .snapshot/<name>/<file> */
  path?: string;
  size?: number;
  found: boolean;
  /** the storage Proxmox has now at the same place in the volume: `storage mount` takes it */
  mount_storage?: string;
  /** the Proxmox volume id the disk has once `storage mount` made the snapshot a storage */
  after_mount?: string;
}
interface SnapRow {
  vmid: number;
  snapshot: string;
  created?: string;
  volume: string;
  svm: string;
  cluster: string;
  type: string;
  name?: string;
  node: string;
  /** the guest's status when the snapshot was taken */
  status: string;
  storages: string[];
  disks: SnapDisk[];
  /** the guest's Proxmox config as the manifest recorded it */
  config: Record<string, unknown>;
}
const snapRowColumns: Column<SnapRow>[] = [
  { header: 'Snapshot', get: (r) => r.snapshot },
  { header: 'Created', get: (r) => r.created ?? '' },
  { header: 'Volume', get: (r) => r.volume },
  { header: 'Guest', get: (r) => `${r.type}${r.name ? ` ${r.name}` : ''}, ${r.status} on ${r.node}` },
  { header: 'Disks', get: (r) => r.disks.map((d) => (d.found ? d.key : `${d.key} (${d.file ? 'missing' : 'not located'})`)).join(' ') },
];

interface SearchVolume {
  ontap: Ontap;
  mapped: Mapped;
  /** the storages Proxmox has now on this volume, with their directories in it */
  dirs: Record<string, string>;
}

/**
 * The volumes to search: those of --storage, else of every NFS storage an ONTAP cluster
 * of the config serves (a mounted snapshot's FlexClone is left out: its snapshots are not
 * the ones `storage create` made). Each volume once.
 */
async function volumesToSearch(ctx: Ctx): Promise<SearchVolume[]> {
  const given = ctx.args.storage === undefined ? [] : (Array.isArray(ctx.args.storage) ? ctx.args.storage : [ctx.args.storage]).map(String).filter(Boolean);
  const out: SearchVolume[] = [];
  const add = async (ontap: Ontap, mapped: Mapped) => {
    if (out.some((v) => v.ontap === ontap && v.mapped.volume.uuid === mapped.volume.uuid)) return;
    out.push({ ontap, mapped, dirs: await storageDirs(ctx, mapped) });
  };
  if (given.length) {
    for (const storage of given) {
      const { ontap, mapped } = await ctx.map(storage);
      await add(ontap, mapped);
    }
    return out;
  }
  const nfs = (await ctx.storageList()).filter((s) => s.type === 'nfs').map((s) => String(s.storage));
  for (const storage of nfs) {
    if (!(await ctx.ontapFor(storage))) continue;
    try {
      const { ontap, mapped } = await ctx.map(storage);
      if (!mapped.volume.isClone) await add(ontap, mapped);
    } catch (e) {
      // the [ontap] defaults cover every NFS storage; one on another NFS server is not ours
      if (e instanceof NotServedError && !ctx.namedInConfig(storage)) continue;
      warn(`storage ${storage}: not searched (${errorLine(e)})`);
    }
  }
  return out;
}

/**
 * `vm snapshots --vm ID`: the volume snapshots whose manifest lists the guest, found
 * through the manifests alone, so also for a guest Proxmox no longer has or whose disks
 * moved to another storage since. For each, the guest as recorded then and where its disk
 * images are inside the snapshot (checked to be there).
 */
export async function snapshotsOfVm(ctx: Ctx): Promise<number> {
  const vmid = vmidOf(ctx);
  const only = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : undefined;
  const vols = await volumesToSearch(ctx);
  if (!vols.length) throw new AppError('no NFS storage served by a configured ONTAP cluster to search');
  const rest = vols.filter((v) => v.ontap.readFile);
  const zapi = vols.filter((v) => !v.ontap.readFile);
  // ZAPI has no call that reads or writes file data: manifests exist only over REST
  const zapiLine = (names: string) => `over ZAPI, volume snapshots carry no manifest (ZAPI cannot write or read files): ${names} not searched for VM ${vmid}`;
  if (!rest.length) throw new AppError(zapiLine(`volume${zapi.length === 1 ? '' : 's'} ${zapi.map((v) => v.mapped.volume.name).join(', ')}`));
  for (const v of zapi) warn(zapiLine(`volume ${v.mapped.volume.name}`));

  const rows: SnapRow[] = [];
  let failed = 0;
  for (const v of rest) {
    const vol = v.mapped.volume;
    let snaps: SnapshotInfo[];
    try {
      snaps = await v.ontap.snapshots(vol);
    } catch (e) {
      failed++;
      error(`volume ${vol.name}: ${errorLine(e)}`);
      continue;
    }
    // only this tool's snapshots carry a manifest of their own (storage create and snap)
    const ours = snaps
      .filter((s) => snapshotOrigin(s) === 'ontap-snapshot' && (!only || s.name === only))
      .sort((a, b) => String(a.createTime ?? '').localeCompare(String(b.createTime ?? '')));
    for (const s of ours) {
      try {
        const row = await guestInSnapshot(v, s, vmid);
        if (row) rows.push(row);
      } catch (e) {
        failed++;
        error(`snapshot ${s.name} of volume ${vol.name}: ${errorLine(e)}`);
      }
    }
  }
  print(render(ctx.format, rows, snapRowColumns));
  if (!rows.length) info(`no manifest of the ${only ? `snapshot ${only}` : 'volume snapshots'} searched (${rest.map((v) => v.mapped.volume.name).join(', ')}) lists guest ${vmid}`);
  else if (ctx.format === 'text') {
    const r = rows[rows.length - 1];
    const d = r.disks.find((x) => x.after_mount);
    if (d) {
      info(`the disks are files in .snapshot/<snapshot>/ of the volume; to use them, mount a snapshot as a storage, e.g. ontap-snapshot storage mount --storage ${d.mount_storage} --snapshot ${r.snapshot} (then ${d.key} is ${d.after_mount}); -o json shows the recorded configs`);
    }
  }
  return failed ? 1 : 0;
}

/** The guest as one snapshot's manifest recorded it, its disks looked up in the snapshot. */
async function guestInSnapshot(v: SearchVolume, s: SnapshotInfo, vmid: number): Promise<SnapRow | undefined> {
  const vol = v.mapped.volume;
  const m = await readManifest(v.ontap, vol, s.name);
  const g = m?.guests.find((x) => x.vmid === vmid);
  if (!m || !g) return undefined;
  const { disks, problem } = recordedDisks(g, m.storages, m.dirs, v.dirs);
  if (problem) {
    warn(`snapshot ${s.name} of volume ${vol.name}: ${MANIFEST_FILE}: ${problem}; skipped`);
    return undefined;
  }
  // one directory listing per images directory, not one request per disk
  const listings = new Map<string, Map<string, number | undefined>>();
  const out: SnapDisk[] = [];
  for (const d of disks) {
    if (d.dir === undefined) {
      out.push({ key: d.key, storage: d.storage, found: false });
      continue;
    }
    const file = joinPath(d.dir, d.file);
    const dir = joinPath(`.snapshot/${s.name}`, d.dir, `images/${vmid}`);
    let names = listings.get(dir);
    if (!names) {
      names = new Map();
      try {
        for (const e of await v.ontap.listDir(vol, dir)) if (e.type === 'file') names.set(e.name, e.size);
      } catch (e) {
        // no such directory in the snapshot: its disks are missing, which the row says
        if (!isNotFound(e)) throw e;
      }
      listings.set(dir, names);
    }
    const base = d.file.split('/').pop()!;
    // the storage Proxmox has now on this volume at the same directory: mount clones it
    const via = Object.entries(v.dirs).find(([, sd]) => sd === d.dir)?.[0];
    out.push({
      key: d.key, storage: d.storage, file, path: joinPath(`.snapshot/${s.name}`, file), size: names.get(base), found: names.has(base),
      mount_storage: via && names.has(base) ? via : undefined,
      after_mount: via && names.has(base) ? `${cloneStorageId(via, s.name)}:${vmid}/${base}` : undefined,
    });
  }
  return {
    vmid, snapshot: s.name, created: s.createTime, volume: vol.name, svm: v.mapped.svm, cluster: v.ontap.host, type: g.type, name: g.name,
    node: g.node, status: g.status, storages: g.storages, disks: out, config: g.config,
  };
}
