// `ontap-snapshot storage mount` and `unmount`: a FlexClone of a volume snapshot, mounted
// at its own junction and added to Proxmox as an NFS storage of its own; unmount removes
// both (and a clone whose storage is already gone). A mount that fails half-way removes
// the clone it made. findSnapshot is shared with the snapshot commands (storage.ts).
import { AppError, UsageError } from '../../core/errors.ts';
import { info, warn } from '../../core/log.ts';
import { print, render, type Column } from '../../core/output.ts';
import { pvePath, storage as storageSeg } from '../../clients/pve/path.ts';
import type { Params } from '../../clients/pve/types.ts';
import { confirm } from './confirm.ts';
import type { Ctx } from './context.ts';
import { isNotFound } from '../../clients/ontap/errors.ts';
import { joinPath } from '../../domain/ontap/disks.ts';
import { normJunction, type Mapped } from '../../domain/ontap/mapping.ts';
import { cloneJunction, cloneStorageId, cloneVolumeName, madeByMount } from '../../domain/ontap/names.ts';
import type { Ontap, SnapshotInfo, VolumeInfo } from '../../clients/ontap/types.ts';
import { describeGuests, readManifest } from './manifest.ts';

export async function findSnapshot(ontap: Ontap, vol: VolumeInfo, name: string): Promise<SnapshotInfo> {
  const snap = (await ontap.snapshots(vol)).find((s) => s.name === name);
  if (!snap) throw new AppError(`snapshot '${name}' of volume ${vol.name} does not exist`);
  return snap;
}

async function storageExists(ctx: Ctx, id: string): Promise<boolean> {
  return (await ctx.storageList(true)).some((s) => s.storage === id);
}

interface MountRow {
  storage: string;
  clone_storage: string;
  volume: string;
  snapshot: string;
  junction: string;
  export: string;
  /** the guests the snapshot's manifest lists */
  guests?: string;
}
const mountColumns: Column<MountRow>[] = [
  { header: 'Storage', get: (r) => r.clone_storage },
  { header: 'Volume', get: (r) => r.volume },
  { header: 'Snapshot', get: (r) => r.snapshot },
  { header: 'Export', get: (r) => r.export },
  { header: 'Guests', get: (r) => r.guests ?? '' },
];

/** Remove a clone volume, whatever state a failed step left it in. */
async function removeClone(ontap: Ontap, mapped: Mapped, name: string): Promise<void> {
  const [vol] = await ontap.volumes(mapped.svm, { name });
  if (!vol) return;
  if (!vol.isClone) throw new AppError(`volume ${name} is not a FlexClone; not deleting it`);
  if (vol.path) await ontap.unmountVolume(vol);
  await ontap.deleteVolume({ ...vol, path: undefined });
}

export async function mount(ctx: Ctx, storage: string, snapshot: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const parent = mapped.volume;
  if (parent.isClone) throw new UsageError(`storage '${storage}' is itself a mounted clone; mount the snapshot from its parent storage`);
  await findSnapshot(ontap, parent, snapshot);
  const volName = cloneVolumeName(parent.name, snapshot);
  const storageId = cloneStorageId(storage, snapshot);
  const junction = cloneJunction(parent.path, volName);
  const exportPath = normJunction(joinPath(junction, mapped.subdir));
  const taken = (await ctx.storageList(true)).find((s) => s.storage === storageId);
  if (taken) {
    const same = taken.type === 'nfs' && String(taken.server ?? '') === mapped.storage.server && normJunction(String(taken.export ?? '')) === exportPath;
    if (same) throw new AppError(`snapshot ${snapshot} is already mounted as storage '${storageId}'`);
    // a storage of that name that is something else: say what it is, touch nothing
    const what = taken.type === 'nfs' ? `nfs ${taken.server ?? '?'}:${taken.export ?? '?'}` : `${taken.type ?? 'unknown type'}${taken.path ? ` at ${taken.path}` : ''}`;
    throw new AppError(`storage '${storageId}' already exists and is ${what}, not snapshot ${snapshot} of ${parent.name} (${mapped.storage.server}:${exportPath}); remove or rename it first`);
  }
  const [existing] = await ontap.volumes(mapped.svm, { name: volName });
  if (existing) {
    // left behind by an unmount that removed the storage but not the clone (or a failed
    // mount): unmount finds it by the storage id alone
    const held = existing.isClone && existing.parentVolume === parent.name && existing.parentSnapshot === snapshot;
    throw new AppError(`volume ${volName} already exists in SVM ${mapped.svm}${held ? ` (a FlexClone of ${parent.name}@${snapshot} without its storage)` : ''}; ` +
      `${held ? `remove it with: ontap-snapshot storage unmount --storage ${storageId}` : 'it is not a clone of this snapshot; rename or remove it on the cluster'}`);
  }
  const row: MountRow = { storage, clone_storage: storageId, volume: volName, snapshot, junction, export: exportPath };
  if (ctx.args['dry-run']) {
    info(`would create FlexClone ${volName} of ${parent.name}@${snapshot} at ${junction} and add storage '${storageId}'`);
    return 0;
  }
  try {
    await ontap.createFlexClone({ svm: mapped.svm, name: volName, parent, snapshot, path: junction, exportPolicy: parent.exportPolicy });
  } catch (e) {
    await undo(`FlexClone ${volName}`, () => removeClone(ontap, mapped, volName));
    throw e;
  }
  const st = mapped.storage;
  const params: Params = { storage: storageId, type: 'nfs', server: st.server, export: exportPath, content: st.content, options: st.options, nodes: st.nodes };
  try {
    const pve = await ctx.pve();
    await pve.post('/storage', params);
  } catch (e) {
    await undo(`FlexClone ${volName}`, () => removeClone(ontap, mapped, volName));
    throw new AppError(`add storage '${storageId}': ${(e as Error).message}; the FlexClone was removed again`);
  }
  try {
    const m = await readManifest(ontap, parent, snapshot);
    if (m) {
      row.guests = describeGuests(m);
      info(`snapshot ${snapshot} holds guests ${row.guests} (manifest of ${m.created})`);
    } else info(`snapshot ${snapshot} has no manifest: which guests it holds is not recorded`);
  } catch (e) {
    // the clone is there and usable; only the description is missing
    warn(`snapshot ${snapshot}: manifest not read (${(e as Error).message})`);
  }
  print(render(ctx.format, [row], mountColumns));
  return 0;
}

/** Roll back one step of a failed mount; a failure here is reported, not hidden. */
async function undo(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    warn(`could not remove ${what} after the failure: ${(e as Error).message}; remove it by hand`);
  }
}

/**
 * A clone whose Proxmox storage is gone already (an unmount that stopped half-way): the
 * storage id <parent>-CLONE-<snapshot> still names the parent storage, whose volume's
 * clones tell which one mount made for it.
 */
async function orphanClone(ctx: Ctx, id: string): Promise<{ ontap: Ontap; mapped: Mapped; vol: VolumeInfo } | undefined> {
  const m = /^(.+?)-CLONE-/i.exec(id);
  if (!m) return undefined;
  const parents = (await ctx.storageList()).map((s) => String(s.storage)).filter((s) => id.startsWith(`${s}-CLONE-`));
  for (const parent of parents.sort((a, b) => b.length - a.length)) {
    const { ontap, mapped } = await ctx.map(parent);
    const vol = (await ontap.clonesOf(mapped.volume)).find((c) => madeByMount(id, c) && cloneStorageId(parent, c.parentSnapshot!) === id);
    if (vol) return { ontap, mapped, vol };
  }
  return undefined;
}

export async function unmount(ctx: Ctx, storage: string): Promise<number> {
  // --storage is the clone's storage; --storage PARENT --snapshot S names it too
  const snap = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : undefined;
  const id = snap && !/-CLONE(-|$)/i.test(storage) ? cloneStorageId(storage, snap) : storage;
  if (!(await storageExists(ctx, id))) {
    const orphan = await orphanClone(ctx, id);
    if (!orphan) throw new UsageError(`storage '${id}' does not exist`);
    const { ontap, vol } = orphan;
    if (ctx.args['dry-run']) {
      info(`storage '${id}' is gone already; would delete its FlexClone ${vol.name}`);
      return 0;
    }
    if (vol.path) await ontap.unmountVolume(vol);
    await ontap.deleteVolume({ ...vol, path: undefined });
    info(`storage '${id}' was gone already; deleted its FlexClone ${vol.name} (${vol.parentVolume}@${vol.parentSnapshot})`);
    return 0;
  }
  const { ontap, mapped } = await ctx.map(id);
  const vol = mapped.volume;
  if (!vol.isClone) throw new UsageError(`storage '${id}' is on volume ${vol.name}, which is not a FlexClone; unmount removes only clones`);
  const ours = madeByMount(id, vol);
  if (ctx.args['dry-run']) {
    info(`would remove storage '${id}' and delete FlexClone ${vol.name}${ours ? '' : ' (not made by ontap-snapshot mount: needs --yes)'}`);
    return 0;
  }
  if (!ours) {
    await confirm(
      ctx,
      `storage '${id}' and FlexClone ${vol.name} (${vol.parentVolume ?? '?'}@${vol.parentSnapshot ?? '?'}) were not made by ontap-snapshot mount; ` +
        `unmount removes the storage and deletes the clone with everything written to it`,
      'unmount it anyway',
    );
  }
  const pve = await ctx.pve();
  await pve.delete(pvePath('storage', storageSeg(id)));
  try {
    if (vol.path) await ontap.unmountVolume(vol);
    await ontap.deleteVolume({ ...vol, path: undefined });
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw new AppError(`storage '${id}' was removed, but deleting FlexClone ${vol.name} failed: ${(e as Error).message}; ` +
      `run the same unmount again to finish`);
  }
  info(`removed storage '${id}' and deleted FlexClone ${vol.name} (${vol.parentVolume}@${vol.parentSnapshot})`);
  return 0;
}
