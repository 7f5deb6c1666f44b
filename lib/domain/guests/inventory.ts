// The guest inventory: one GET /cluster/resources?type=vm for the whole cluster, plus one
// GET /pools?poolid=X per pool the selector names. Everything else is pure (selector.ts).
import { AppError, EXIT, UsageError } from '../../core/errors.ts';
import type { ClusterVm, PveClient } from '../../clients/pve/types.ts';
import { callerOf } from '../../clients/pve/caller.ts';
import { parseSelector, poolsOf, selectGuests, type Selector } from './selector.ts';
import type { GuestInfo } from './types.ts';

export type { GuestInfo } from './types.ts';

/** PVE writes tags `;`-separated; older configs and hand edits use `,` or spaces. */
export function splitTags(tags: string | undefined | null): string[] {
  return String(tags ?? '')
    .split(/[;, ]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

export function guestsFromResources(resources: ClusterVm[]): GuestInfo[] {
  const out: GuestInfo[] = [];
  for (const r of resources) {
    if (r.type !== 'qemu' && r.type !== 'lxc') continue;
    const vmid = Number(r.vmid ?? String(r.id ?? '').split('/')[1]);
    if (!Number.isInteger(vmid)) continue;
    const g: GuestInfo = {
      vmid,
      node: r.node,
      type: r.type,
      name: r.name ?? '',
      status: r.status ?? 'unknown',
      template: Number(r.template ?? 0) === 1,
      tags: splitTags(r.tags),
    };
    if (r.lock) g.lock = r.lock;
    if (r.pool) g.pool = r.pool;
    out.push(g);
  }
  return out.sort((a, b) => a.vmid - b.vmid);
}

interface PoolEntry {
  poolid?: string;
  members?: { id?: string; vmid?: number; type?: string }[];
}

/** Members (vmids) of one pool through `GET /pools?poolid=` (the only form that knows nested pools). */
async function poolMembers(client: PveClient, pool: string): Promise<Set<number>> {
  let data: PoolEntry[] | PoolEntry;
  try {
    data = await client.get<PoolEntry[] | PoolEntry>('/pools', { poolid: pool });
  } catch (e) {
    const msg = String((e as { pveMessage?: string }).pveMessage ?? (e as Error).message ?? e);
    if (/does not exist/i.test(msg)) throw new UsageError(`selector: pool '${pool}' does not exist`);
    throw e;
  }
  const entries = Array.isArray(data) ? data : [data];
  const entry = entries.find((p) => p?.poolid === pool) ?? entries[0];
  const set = new Set<number>();
  for (const m of entry?.members ?? []) {
    if (m.type !== undefined && m.type !== 'qemu' && m.type !== 'lxc') continue;
    const vmid = Number(m.vmid ?? String(m.id ?? '').split('/')[1]);
    if (Number.isInteger(vmid)) set.add(vmid);
  }
  return set;
}

export interface ResolveOptions {
  /** templates are left out unless asked for */
  includeTemplates?: boolean;
}

export const TEMPLATE_REASON = 'template (templates are never snapshotted)';

/** A selector that matched nothing; `hint` says why when it is known (templates, a blind token). */
export class NoGuestError extends UsageError {
  constructor(
    readonly selector: string,
    readonly hint?: string,
  ) {
    super(`selector '${selector}' matched no guest${hint ? `; ${hint}` : ''}`);
  }
}

/**
 * Why an API token may not see the guests it names. Proxmox filters /cluster/resources by
 * VM.Audit without an error, and a privilege-separated token has only the ACLs given to
 * the token itself (intersected with its user's): a new token sees nothing at all, and the
 * user's own ACL does not help. Undefined when the caller is no token or sees what it named.
 */
function tokenBlindHint(caller: string | undefined, visible: GuestInfo[], sel: Selector): string | undefined {
  if (!caller?.includes('!')) return undefined;
  if (visible.length === 0) return `the token sees no guests: a privilege-separated token needs its own VM.Audit (pveum acl modify / --tokens '${caller}' --roles ROLE)`;
  // the token sees others: the vmid may simply not exist, so say only what is known
  const named = sel.include.flatMap((t) => (t.kind === 'vmid' ? [t.vmid] : []));
  if (named.length !== 1) return undefined;
  const v = named[0];
  return `the token sees no guest ${v}; if it exists, a privilege-separated token needs its own VM.Audit on it (pveum acl modify /vms/${v} --tokens '${caller}' --roles ROLE)`;
}

/** The templates a selector names by vmid or name (not through @all, a pool or a tag). */
export function namedTemplates(sel: Selector, all: GuestInfo[], byPool: Map<string, Set<number>> = new Map()): GuestInfo[] {
  const explicit: Selector = { ...sel, include: sel.include.filter((t) => t.kind === 'vmid' || t.kind === 'name') };
  if (!explicit.include.length) return [];
  return selectGuests(explicit, all, byPool, { includeTemplates: true }).filter((g) => g.template);
}

export interface Selection {
  guests: GuestInfo[];
  /** templates the selector names explicitly and that were left out (each deserves a line) */
  templates: GuestInfo[];
}

/**
 * Guests a selector names, sorted by vmid, and the templates it names explicitly but
 * leaves out. A selector that matches nothing is a usage error (exit 2), because running a
 * job on nothing is almost always a typo; the error says why when it can.
 */
/**
 * A node that cannot list the cluster's guests or storages (a 500 left after the retries)
 * makes the cluster unusable for this run, as an unreachable one does: exit 3, not "some
 * guest failed". Anything else is returned as it is.
 */
export function unusable(e: unknown, what: string): unknown {
  if (e instanceof AppError && ((e as { status?: number }).status ?? 0) >= 500) return new AppError(`cannot read ${what}: ${e.message}`, EXIT.UNREACHABLE, { cause: e });
  return e;
}

export async function resolveSelection(client: PveClient, selectorText: string, opts: ResolveOptions = {}): Promise<Selection> {
  const sel = parseSelector(selectorText);
  const pools = poolsOf(sel);
  let resources: ClusterVm[];
  let members: Set<number>[];
  try {
    [resources, ...members] = (await Promise.all([
      client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' }),
      ...pools.map((p) => poolMembers(client, p)),
    ])) as [ClusterVm[], ...Set<number>[]];
  } catch (e) {
    // the credentials cannot even see what to work on: no guest was touched, so this is
    // not "some guest failed" (1) but the credentials' problem, like a refused login (3)
    if (e instanceof AppError && (e as { status?: number }).status === 403) throw new AppError(e.message, EXIT.UNREACHABLE, { cause: e });
    throw unusable(e, 'the guest list');
  }
  const byPool = new Map<string, Set<number>>();
  pools.forEach((p, i) => byPool.set(p, members[i] as Set<number>));
  const all = guestsFromResources((resources as ClusterVm[]) ?? []);
  const guests = selectGuests(sel, all, byPool, opts);
  const templates = opts.includeTemplates ? [] : namedTemplates(sel, all, byPool);
  if (guests.length === 0) {
    if (templates.length) {
      const ids = templates.map((g) => g.vmid).join(', ');
      throw new NoGuestError(selectorText, `${ids} ${templates.length > 1 ? 'are templates' : 'is a template'} (templates are never snapshotted)`);
    }
    throw new NoGuestError(selectorText, tokenBlindHint(callerOf(client), all, sel));
  }
  return { guests, templates };
}

/** The guests of resolveSelection alone. */
export async function resolveGuests(client: PveClient, selectorText: string, opts: ResolveOptions = {}): Promise<GuestInfo[]> {
  return (await resolveSelection(client, selectorText, opts)).guests;
}
