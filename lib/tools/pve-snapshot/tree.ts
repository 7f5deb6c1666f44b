// The snapshot tree of one guest, drawn the way `qm listsnapshot` draws it: each snapshot
// under its parent, `current` (where the guest is now) under the snapshot it was taken
// after. Proxmox returns the list in no defined order, so the tree is rebuilt from `parent`.
import type { SnapshotEntry } from '../../clients/pve/types.ts';
import { formatLocal, resolveTimeZone } from '../../domain/retention/localtime.ts';

export interface TreeRow {
  entry: SnapshotEntry;
  depth: number;
  /** the parent as shown: the nearest ancestor that survived the filter */
  shownParent?: string;
}

let systemZone: string | undefined;
/**
 * The zone of the times shown without --tz: TZ, else the system's, as the C library
 * finds it; an unknown TZ shows UTC, as the runtime's own local time did.
 */
function localZone(): string {
  if (systemZone === undefined) {
    try {
      systemZone = resolveTimeZone();
    } catch {
      systemZone = 'UTC';
    }
  }
  return systemZone;
}

/** `2025-05-16 09:15:00`, in --tz or local time (offsets from the tz database: localtime.ts). */
export function formatTime(snaptime: number | undefined, tz?: string): string {
  if (snaptime === undefined || snaptime === null || !Number.isFinite(Number(snaptime))) return '';
  return formatLocal(Number(snaptime), tz ?? localZone()).slice(0, 19);
}

const byTime = (a: SnapshotEntry, b: SnapshotEntry) =>
  (a.name === 'current' ? 1 : 0) - (b.name === 'current' ? 1 : 0) ||
  (a.snaptime ?? 0) - (b.snaptime ?? 0) ||
  a.name.localeCompare(b.name);

/**
 * Order the entries depth-first, parents before children, siblings oldest first.
 * `keep` filters entries; a kept entry whose parent was filtered out hangs under its
 * nearest kept ancestor, so the drawing never claims a parent that is not shown.
 */
export function treeRows(entries: SnapshotEntry[], keep: (e: SnapshotEntry) => boolean = () => true): TreeRow[] {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const kept = entries.filter(keep);
  const keptNames = new Set(kept.map((e) => e.name));
  const shownParent = (e: SnapshotEntry): string | undefined => {
    const seen = new Set<string>([e.name]);
    let p = e.parent;
    while (p !== undefined && p !== '' && !seen.has(p)) {
      if (keptNames.has(p)) return p;
      seen.add(p);
      p = byName.get(p)?.parent;
    }
    return undefined;
  };
  const children = new Map<string | undefined, SnapshotEntry[]>();
  const parentOf = new Map<string, string | undefined>();
  for (const e of kept) {
    const p = shownParent(e);
    parentOf.set(e.name, p);
    const list = children.get(p) ?? [];
    list.push(e);
    children.set(p, list);
  }
  const rows: TreeRow[] = [];
  const placed = new Set<string>();
  const walk = (e: SnapshotEntry, depth: number) => {
    if (placed.has(e.name)) return;
    placed.add(e.name);
    rows.push({ entry: e, depth, shownParent: parentOf.get(e.name) });
    for (const c of (children.get(e.name) ?? []).sort(byTime)) walk(c, depth + 1);
  };
  for (const root of (children.get(undefined) ?? []).sort(byTime)) walk(root, 0);
  // a parent loop in a damaged config leaves entries unreachable: show them anyway
  for (const e of [...kept].sort(byTime)) walk(e, 0);
  return rows;
}

function descriptionOf(e: SnapshotEntry): string {
  const first = (e.description ?? '').split('\n')[0].trim();
  if (e.snapstate) return `[incomplete: snapstate=${e.snapstate}]${first ? ' ' + first : ''}`;
  return first;
}

/** Text lines of the tree: name column, local time, RAM mark, description. */
export function renderTree(rows: TreeRow[], tz?: string): string[] {
  const labels = rows.map((r) => `${'  '.repeat(r.depth)}\`-> ${r.entry.name}`);
  const width = Math.max(0, ...labels.map((l) => l.length));
  return rows.map((r, i) => {
    const e = r.entry;
    const time = e.name === 'current' ? '' : formatTime(e.snaptime, tz);
    const ram = e.vmstate ? 'RAM' : '';
    const desc = e.name === 'current' ? (e.description || 'You are here!') : descriptionOf(e);
    return `${labels[i].padEnd(width)}  ${time.padEnd(19)}  ${ram.padEnd(3)}  ${desc}`.trimEnd();
  });
}

export { descriptionOf };
