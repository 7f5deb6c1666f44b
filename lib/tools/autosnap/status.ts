// `autosnap status [--label L]`: the snapshots of a label (all of ours without one), as
// cv4pve shows them, with the time in local time (cv4pve printed UTC).
import { print, printRows, type Column, type Format } from '../../core/output.ts';
import { stderrLine } from '../../core/log.ts';
import { resolveGuests, type GuestInfo } from '../../domain/guests/inventory.ts';
import { snapshotOps } from '../../domain/guest-snapshots/ops.ts';
import type { PveClient, SnapshotEntry } from '../../clients/pve/types.ts';
import { formatLocal } from '../../domain/retention/localtime.ts';
import { DEFAULT_TIMESTAMP_FORMAT, isIntradayName, isManaged, isMarker, isOriginalScriptSnapshot, labelOf, validateLabel } from '../../domain/retention/naming.ts';
import type { OptionSource } from './options.ts';
import { isoLocal, type StatusRow } from './report.ts';
import { runBounded } from '../../domain/guest-snapshots/schedule.ts';
import { nowDate } from '../../core/now.ts';
import { VERSION } from '../../core/version.ts';
import type { PageGuest } from '../../domain/report/html.ts';

/** Which of a guest's snapshots status shows. */
function statusFilter(label: string | undefined, format: string): (s: SnapshotEntry) => boolean {
  if (label !== undefined) return (s) => isManaged(s, { label, timestampFormat: format });
  // the original script's snapshots too: the intraday job adopts them
  return (s) => s.name !== 'current' && (isOriginalScriptSnapshot(s) || (isMarker(s.description) && (isIntradayName(s.name) || labelOf(s.name, format) !== undefined)));
}

function statusRows(g: GuestInfo, snaps: SnapshotEntry[], keep: (s: SnapshotEntry) => boolean, format: string): StatusRow[] {
  return snaps
    .filter(keep)
    .sort((a, b) => (a.snaptime ?? 0) - (b.snaptime ?? 0) || a.name.localeCompare(b.name))
    .map((s) => ({
      node: g.node,
      vmid: g.vmid,
      vmname: g.name,
      type: g.type,
      snapshot: s.name,
      snaptime: s.snaptime,
      parent: s.parent,
      description: (s.description ?? '').trim(),
      vmstate: Number(s.vmstate ?? 0) === 1,
      label: isIntradayName(s.name) ? 'intraday' : (labelOf(s.name, format) ?? null),
    }));
}

function statusColumns(tz: string): Column<StatusRow>[] {
  return [
    { header: 'NODE', get: (r) => r.node },
    { header: 'VM', get: (r) => r.vmid, align: 'right' },
    // not NAME: in cv4pve's status NAME is the snapshot, and scripts read it by that title
    { header: 'GUEST', get: (r) => r.vmname },
    { header: 'TIME', get: (r) => (r.snaptime === undefined ? '' : formatLocal(r.snaptime, tz).slice(0, 19)) },
    { header: 'PARENT', get: (r) => r.parent ?? '' },
    { header: 'SNAPSHOT', get: (r) => r.snapshot },
    { header: 'DESCRIPTION', get: (r) => r.description },
    { header: 'RAM', get: (r) => (r.vmstate ? 'X' : '') },
  ];
}

/**
 * JSON shape (documented in docs/autosnap.md): an array, guests by vmid, snapshots
 * oldest first, each `{node, vmid, vmname, type, snapshot, snaptime, time, parent,
 * description, vmstate, label}`; `time` is ISO 8601 in the local zone, `parent` null for
 * the first snapshot.
 */
export function statusJson(rows: StatusRow[], tz: string): unknown {
  return rows.map((r) => statusJsonRow(r, tz));
}

/** One element of statusJson. */
export function statusJsonRow(r: StatusRow, tz: string): unknown {
  return {
    node: r.node,
    vmid: r.vmid,
    vmname: r.vmname,
    type: r.type,
    snapshot: r.snapshot,
    snaptime: r.snaptime ?? null,
    time: r.snaptime === undefined ? null : isoLocal(r.snaptime, tz),
    parent: r.parent ?? null,
    description: r.description,
    vmstate: r.vmstate,
    label: r.label,
  };
}

/** The options of status, checked before any connection is made. */
export function statusOptions(src: OptionSource): { label?: string; format: string } {
  const format = src.str('timestamp-format') ?? DEFAULT_TIMESTAMP_FORMAT;
  const label = src.args.label === undefined ? undefined : String(src.args.label);
  if (label !== undefined) validateLabel(label, format);
  return { label, format };
}

export async function statusCommand(client: PveClient, src: OptionSource, s: { tz: string; format: Format; maxParallel: number; maxPerNode: number; cv4pve?: boolean }): Promise<number> {
  const { label: labelOpt, format } = statusOptions(src);
  const guests = await resolveGuests(client, src.str('vmid') ?? '@all');
  const keep = statusFilter(labelOpt, format);
  // reads are cheap for the node; still bounded, so a big cluster is not hit all at once
  const ops = snapshotOps(client);
  // the page shows every snapshot; a table only its rows, so a guest's list is turned
  // into them as it arrives and 1,000 guests' lists are never held at once
  const asPage = s.format === 'html' && !s.cv4pve;
  const lists = await runBounded(guests, { maxParallel: s.maxParallel * 2, maxPerNode: s.maxPerNode * 2 }, (g) =>
    ops.list(g).then((l): SnapshotEntry[] | StatusRow[] => (asPage ? l.snapshots : statusRows(g, l.snapshots, keep, format))),
  );
  const rows: StatusRow[] = [];
  let failed = 0;
  guests.forEach((g, i) => {
    const r = lists[i];
    if (r.ok) {
      if (!asPage) rows.push(...(r.value as StatusRow[]));
    } else {
      failed++;
      stderrLine(`error: ${g.vmid}${g.name ? ` ${g.name}` : ''}: ${(r.error as Error)?.message ?? String(r.error)}`);
    }
  });
  // through the cv4pve-autosnap link, html is cv4pve's table (scripts read it), not the page
  if (asPage) {
    // the page shows every snapshot: ours in a row per label, the others in their own row
    // the page's code is loaded for the page alone
    const [{ applyRunState, guestFromStatus }, { renderPage }, { readRunState }] = await Promise.all([import('../../domain/report/facts.ts'), import('../../domain/report/html.ts'), import('../../domain/report/write.ts')]);
    const ours = (x: SnapshotEntry) => (keep(x) ? (isIntradayName(x.name) ? 'intraday' : (labelOf(x.name, format) ?? undefined)) : undefined);
    const state = readRunState(src.str('html') ?? src.str('report-file'));
    let page: PageGuest[] = guests.map((g, i) => {
      const r = lists[i];
      return guestFromStatus(g, r.ok ? (r.value as SnapshotEntry[]) : [], (x) => ours(x as SnapshotEntry));
    });
    if (state) page = applyRunState(page, state);
    // a guest whose list cannot be read now is shown so, whatever the last run said
    page = page.map((g, i) => {
      const r = lists[i];
      return r.ok ? g : { ...g, status: 'failed' as const, reason: `cannot read its snapshots: ${(r.error as Error)?.message ?? String(r.error)}` };
    });
    print(
      renderPage({
        kind: 'status',
        now: Math.floor(nowDate().getTime() / 1000),
        tz: s.tz,
        version: VERSION,
        jobs: [],
        guests: page,
        lastRun: state ? { at: state.at, totals: state.totals } : undefined,
      }),
    );
    return failed ? 1 : 0;
  }
  if (s.cv4pve) {
    // cv4pve prints nothing at all when the selection holds no guest (Commands.cs)
    if (guests.length) print((await import('./cv4pve.ts')).cv4pveStatus(rows, s.format));
  } else {
    // written a chunk at a time: 1,000 guests make ~700 kB of JSON, held whole and then
    // copied (escaped, redacted) before
    await printRows(s.format, rows, statusColumns(s.tz), (r) => statusJsonRow(r, s.tz));
  }
  return failed ? 1 : 0;
}
