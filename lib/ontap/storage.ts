// `ontap-snapshot storage ...`: volume snapshots of the ONTAP volume behind a Proxmox NFS
// storage, restore, and FlexClone mounts that appear in Proxmox as storages of their own.
import { AppError, UsageError } from '../cli/errors.ts';
import { info, warn } from '../cli/log.ts';
import { print, render, type Column } from '../cli/output.ts';
import { pvePath, storage as storageSeg } from '../pve/path.ts';
import type { Params } from '../pve/types.ts';
import { confirm } from './confirm.ts';
import type { Ctx } from './context.ts';
import { isBusy, isNotFound } from './errors.ts';
import { joinPath } from './disks.ts';
import { normJunction, type Mapped } from './mapping.ts';
import { checkSnapshotName, cloneJunction, cloneStorageId, cloneVolumeName, defaultSnapshotName, madeByMount, SNAPSHOT_COMMENT } from './names.ts';
import type { Ontap, SnapshotInfo, VolumeInfo } from './types.ts';

function need(ctx: Ctx, name: 'storage' | 'snapshot', cmd: string): string {
  const v = ctx.args[name];
  if (typeof v !== 'string' || !v) throw new UsageError(`storage ${cmd}: --${name} is required`);
  return v;
}

async function findSnapshot(ontap: Ontap, vol: VolumeInfo, name: string): Promise<SnapshotInfo> {
  const snap = (await ontap.snapshots(vol)).find((s) => s.name === name);
  if (!snap) throw new AppError(`snapshot '${name}' of volume ${vol.name} does not exist`);
  return snap;
}

async function storageExists(ctx: Ctx, id: string): Promise<boolean> {
  return (await ctx.storageList(true)).some((s) => s.storage === id);
}

const snapColumns: Column<SnapshotRow>[] = [
  { header: 'Snapshot', get: (r) => r.name },
  { header: 'Created', get: (r) => r.created },
  { header: 'Comment', get: (r) => r.comment },
  { header: 'Held by', get: (r) => r.clones.join(', ') },
];
interface SnapshotRow {
  storage: string;
  volume: string;
  name: string;
  created?: string;
  comment?: string;
  clones: string[];
}

function out<R>(ctx: Ctx, rows: R[], cols: Column<R>[]): void {
  print(render(ctx.format, rows, cols));
}

export async function storageCommand(ctx: Ctx, cmd: string): Promise<number> {
  const storage = need(ctx, 'storage', cmd);
  switch (cmd) {
    case 'show':
      return show(ctx, storage);
    case 'list':
      return list(ctx, storage);
    case 'create':
      return create(ctx, storage);
    case 'delete':
      return del(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'restore':
      return restore(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'mount':
      return mount(ctx, storage, need(ctx, 'snapshot', cmd));
    case 'unmount':
      return unmount(ctx, storage);
    default:
      throw new UsageError(`unknown storage command '${cmd}' (expected create, list, delete, restore, mount, unmount, show)`);
  }
}

async function show(ctx: Ctx, storage: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const row = {
    storage,
    server: mapped.storage.server,
    export: mapped.storage.export,
    cluster: ontap.host,
    api: ontap.api,
    svm: mapped.svm,
    volume: v.name,
    uuid: v.uuid,
    junction: v.path,
    subdir: mapped.subdir || undefined,
    export_policy: v.exportPolicy,
    flexclone: v.isClone ? `${v.parentVolume}@${v.parentSnapshot}` : undefined,
    snapshots: (await ontap.snapshots(v)).length,
    clones: (await ontap.clonesOf(v)).map((c) => c.name),
  };
  const pairs = Object.entries(row).filter(([, val]) => val !== undefined).map(([key, val]) => ({ key, value: Array.isArray(val) ? val.join(', ') : String(val) }));
  print(render(ctx.format, pairs, [{ header: 'Field', get: (r) => r.key }, { header: 'Value', get: (r) => r.value }], row));
  return 0;
}

async function list(ctx: Ctx, storage: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const [snaps, clones] = await Promise.all([ontap.snapshots(v), ontap.clonesOf(v)]);
  const rows: SnapshotRow[] = snaps
    .sort((a, b) => String(a.createTime ?? '').localeCompare(String(b.createTime ?? '')))
    .map((s) => ({ storage, volume: v.name, name: s.name, created: s.createTime, comment: s.comment, clones: clones.filter((c) => c.parentSnapshot === s.name).map((c) => c.name) }));
  out(ctx, rows, snapColumns);
  return 0;
}

async function create(ctx: Ctx, storage: string): Promise<number> {
  const name = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : defaultSnapshotName(ctx.now);
  const bad = checkSnapshotName(name);
  if (bad) throw new UsageError(bad);
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  if (ctx.args['dry-run']) {
    info(`would create snapshot ${name} of volume ${v.name} (SVM ${mapped.svm})`);
    return 0;
  }
  await ontap.createSnapshot(v, name, SNAPSHOT_COMMENT);
  const made = (await ontap.snapshots(v)).find((s) => s.name === name);
  out(ctx, [{ storage, volume: v.name, name, created: made?.createTime, comment: made?.comment ?? SNAPSHOT_COMMENT, clones: [] }], snapColumns);
  return 0;
}

async function del(ctx: Ctx, storage: string, name: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const snap = await findSnapshot(ontap, v, name);
  const holder = (await ontap.clonesOf(v)).find((c) => c.parentSnapshot === name);
  if (holder) {
    throw new AppError(`snapshot '${name}' of volume ${v.name} is held by FlexClone volume ${holder.name}${holder.path ? ` (mounted at ${holder.path})` : ''}; unmount it first`);
  }
  if (snap.comment !== SNAPSHOT_COMMENT) {
    await confirm(ctx, `snapshot '${name}' of volume ${v.name} was not made by ontap-snapshot (comment: ${snap.comment ?? 'none'})`, 'delete it anyway');
  }
  if (ctx.args['dry-run']) {
    info(`would delete snapshot ${name} of volume ${v.name}`);
    return 0;
  }
  try {
    await ontap.deleteSnapshot(v, snap);
  } catch (e) {
    // a clone made between the check and the delete: ONTAP's own message names it
    if (isBusy(e)) throw new AppError(`snapshot '${name}' of volume ${v.name} is busy: ${(e as Error).message}`);
    throw e;
  }
  info(`deleted snapshot ${name} of volume ${v.name}`);
  return 0;
}

async function restore(ctx: Ctx, storage: string, name: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const v = mapped.volume;
  const snaps = await ontap.snapshots(v);
  const snap = snaps.find((s) => s.name === name);
  if (!snap) throw new AppError(`snapshot '${name}' of volume ${v.name} does not exist`);
  const newer = snaps.filter((s) => s.createTime && snap.createTime && s.createTime > snap.createTime).map((s) => s.name);
  await confirm(
    ctx,
    `restoring volume ${v.name} (storage ${storage}) to snapshot ${name} loses everything written to it since ${snap.createTime ?? 'then'}` +
      `${newer.length ? `, and the newer snapshots ${newer.join(', ')}` : ''}; stop the guests that use it first`,
    'restore',
  );
  if (ctx.args['dry-run']) {
    info(`would restore volume ${v.name} to snapshot ${name}`);
    return 0;
  }
  await ontap.restoreSnapshot(v, name);
  info(`restored volume ${v.name} to snapshot ${name}`);
  return 0;
}

interface MountRow {
  storage: string;
  clone_storage: string;
  volume: string;
  snapshot: string;
  junction: string;
  export: string;
}
const mountColumns: Column<MountRow>[] = [
  { header: 'Storage', get: (r) => r.clone_storage },
  { header: 'Volume', get: (r) => r.volume },
  { header: 'Snapshot', get: (r) => r.snapshot },
  { header: 'Export', get: (r) => r.export },
];

/** Remove a clone volume, whatever state a failed step left it in. */
async function removeClone(ontap: Ontap, mapped: Mapped, name: string): Promise<void> {
  const [vol] = await ontap.volumes(mapped.svm, { name });
  if (!vol) return;
  if (!vol.isClone) throw new AppError(`volume ${name} is not a FlexClone; not deleting it`);
  if (vol.path) await ontap.unmountVolume(vol);
  await ontap.deleteVolume({ ...vol, path: undefined });
}

async function mount(ctx: Ctx, storage: string, snapshot: string): Promise<number> {
  const { ontap, mapped } = await ctx.map(storage);
  const parent = mapped.volume;
  if (parent.isClone) throw new UsageError(`storage '${storage}' is itself a mounted clone; mount the snapshot from its parent storage`);
  await findSnapshot(ontap, parent, snapshot);
  const volName = cloneVolumeName(parent.name, snapshot);
  const storageId = cloneStorageId(storage, snapshot);
  const junction = cloneJunction(parent.path, volName);
  const exportPath = normJunction(joinPath(junction, mapped.subdir));
  if (await storageExists(ctx, storageId)) throw new AppError(`snapshot ${snapshot} is already mounted as storage '${storageId}'`);
  if ((await ontap.volumes(mapped.svm, { name: volName })).length) {
    throw new AppError(`volume ${volName} already exists in SVM ${mapped.svm}; unmount it first (ontap-snapshot storage unmount --storage ${storageId})`);
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
  out(ctx, [row], mountColumns);
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

async function unmount(ctx: Ctx, storage: string): Promise<number> {
  // --storage is the clone's storage; --storage PARENT --snapshot S names it too
  const snap = typeof ctx.args.snapshot === 'string' && ctx.args.snapshot ? ctx.args.snapshot : undefined;
  const id = snap && !/-CLONE(-|$)/i.test(storage) ? cloneStorageId(storage, snap) : storage;
  const { ontap, mapped } = await ctx.map(id);
  const vol = mapped.volume;
  if (!vol.isClone) throw new UsageError(`storage '${id}' is on volume ${vol.name}, which is not a FlexClone; unmount removes only clones`);
  if (!madeByMount(id, vol)) {
    await confirm(
      ctx,
      `storage '${id}' and FlexClone ${vol.name} (${vol.parentVolume ?? '?'}@${vol.parentSnapshot ?? '?'}) were not made by ontap-snapshot mount; ` +
        `unmount removes the storage and deletes the clone with everything written to it`,
      'unmount it anyway',
    );
  }
  if (ctx.args['dry-run']) {
    info(`would remove storage '${id}' and delete FlexClone ${vol.name}`);
    return 0;
  }
  const pve = await ctx.pve();
  await pve.delete(pvePath('storage', storageSeg(id)));
  try {
    if (vol.path) await ontap.unmountVolume(vol);
    await ontap.deleteVolume({ ...vol, path: undefined });
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw new AppError(`storage '${id}' was removed, but deleting FlexClone ${vol.name} failed: ${(e as Error).message}`);
  }
  info(`removed storage '${id}' and deleted FlexClone ${vol.name} (${vol.parentVolume}@${vol.parentSnapshot})`);
  return 0;
}
