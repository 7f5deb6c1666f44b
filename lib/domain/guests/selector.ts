// The guest selector grammar (cv4pve-autosnap's `--vmid`, without its bugs).
//
//   100            one vmid                 100:105     inclusive range
//   web1           guest name (exact, case-insensitive)
//   %web%  web%  %01   name contains / starts with / ends with (case-insensitive)
//   @all  all      every guest              @all-pve1   every guest on node pve1
//                                           @node-pve1, all-pve1   the same (cv4pve 2.x)
//   @pool-prod     members of pool prod (nested: @pool-prod/db)
//   @tag-backup    guests carrying tag backup (case-insensitive)
//   -TOKEN         exclusion of any of the above; `-150:200` excludes a range
//
// Tokens are comma separated without blanks. Exclusions apply after all inclusions.
// A token that starts with a digit must be a vmid or a range: `10x` is an error, not a
// guest name (to select such a name use a wildcard, e.g. `%10x`).
//
// As cv4pve-autosnap 2.x documents them (Corsinvest/cv4pve-autosnap
// docs/src/content/docs/guests.mdx): `text%` starts with, `%text` ends with, `%text%`
// contains; `@node-x`, `@all-x` and `all-x` all mean the guests on node x. (Its code,
// cv4pve-api-dotnet Utils/VmHelper.cs, matches `%text` and `text%` the other way round;
// the documented meaning, the usual one, is the one kept here.)
import { UsageError } from '../../core/errors.ts';
import type { GuestInfo } from './types.ts';

type SelectorTerm =
  | { kind: 'all' }
  | { kind: 'node'; node: string }
  | { kind: 'pool'; pool: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'vmid'; vmid: number }
  | { kind: 'range'; from: number; to: number }
  | { kind: 'name'; name: string }
  | { kind: 'pattern'; pattern: string; regex: RegExp };

export interface Selector {
  text: string;
  include: SelectorTerm[];
  exclude: SelectorTerm[];
}

const VMID_MIN = 100;
const VMID_MAX = 999999999;
const NODE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const POOL = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){0,2}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;
const NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;
const PATTERN = /^[A-Za-z0-9._%-]+$/;

function bad(token: string, why?: string): UsageError {
  return new UsageError(`selector: bad token '${token}'${why ? ` (${why})` : ''}`);
}

function vmidOf(text: string, token: string): number {
  if (!/^\d+$/.test(text)) throw bad(token);
  const n = Number(text);
  if (n < VMID_MIN || n > VMID_MAX) throw bad(token, `vmid must be ${VMID_MIN}..${VMID_MAX}`);
  return n;
}

function parseTerm(body: string, token: string): SelectorTerm {
  const lower = body.toLowerCase();
  if (lower === '@all' || lower === 'all') return { kind: 'all' };
  // cv4pve's `all-<node>` without the @ (ClientExtension.cs GetVmsAsync); a guest named
  // all-something is still reachable as %all-something
  const bareNode = /^all-(.+)$/i.exec(body);
  if (bareNode) {
    if (!NODE.test(bareNode[1])) throw bad(token, 'not a node name');
    return { kind: 'node', node: bareNode[1] };
  }
  if (body.startsWith('@')) {
    const m = /^@(all|node|pool|tag)-(.*)$/i.exec(body);
    if (!m) throw bad(token, 'expected @all, @node-<node>, @all-<node>, @pool-<pool> or @tag-<tag>');
    const [, kind, arg] = m;
    switch (kind.toLowerCase()) {
      case 'all':
      case 'node':
        if (!NODE.test(arg)) throw bad(token, 'not a node name');
        return { kind: 'node', node: arg };
      case 'pool':
        if (!POOL.test(arg)) throw bad(token, 'not a pool id');
        return { kind: 'pool', pool: arg };
      default:
        if (!TAG.test(arg)) throw bad(token, 'not a tag');
        return { kind: 'tag', tag: arg.toLowerCase() };
    }
  }
  if (/^\d/.test(body)) {
    const range = /^(\d+):(\d+)$/.exec(body);
    if (range) {
      const from = vmidOf(range[1], token);
      const to = vmidOf(range[2], token);
      if (from > to) throw bad(token, 'range is reversed');
      return { kind: 'range', from, to };
    }
    return { kind: 'vmid', vmid: vmidOf(body, token) };
  }
  if (body.includes('%')) {
    if (!PATTERN.test(body) || body.replace(/%/g, '') === '') throw bad(token);
    const re = body
      .split('%')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return { kind: 'pattern', pattern: body, regex: new RegExp(`^${re}$`, 'i') };
  }
  if (!NAME.test(body)) throw bad(token);
  return { kind: 'name', name: body.toLowerCase() };
}

/** Parse a selector; throws a UsageError naming the first bad token. */
export function parseSelector(text: unknown): Selector {
  if (text === undefined || text === null || text === true || String(text).trim() === '') {
    throw new UsageError('selector: empty (use e.g. --vmid @all or --vmid 100,101)');
  }
  const src = String(text);
  const sel: Selector = { text: src, include: [], exclude: [] };
  for (const token of src.split(',')) {
    if (token === '' || token === '-') throw new UsageError(`selector: empty token in '${src}'`);
    if (/\s/.test(token)) throw bad(token, 'no blanks allowed');
    const exclude = token.startsWith('-');
    const term = parseTerm(exclude ? token.slice(1) : token, token);
    (exclude ? sel.exclude : sel.include).push(term);
  }
  if (sel.include.length === 0) throw new UsageError(`selector '${src}': only exclusions (start with @all to exclude from every guest)`);
  return sel;
}

/** Pool ids the selector needs resolved (through GET /pools?poolid=), without duplicates. */
export function poolsOf(sel: Selector): string[] {
  const out = new Set<string>();
  for (const t of [...sel.include, ...sel.exclude]) if (t.kind === 'pool') out.add(t.pool);
  return [...out];
}

function matches(t: SelectorTerm, g: GuestInfo, poolMembers: Map<string, Set<number>>): boolean {
  switch (t.kind) {
    case 'all':
      return true;
    case 'node':
      return g.node.toLowerCase() === t.node.toLowerCase();
    case 'pool': {
      // members are compared by vmid; without a resolved member list fall back to the
      // guest's own pool field from /cluster/resources
      const members = poolMembers.get(t.pool);
      return members ? members.has(g.vmid) : g.pool === t.pool;
    }
    case 'tag':
      return g.tags.some((tag) => tag.toLowerCase() === t.tag);
    case 'vmid':
      return g.vmid === t.vmid;
    case 'range':
      return g.vmid >= t.from && g.vmid <= t.to;
    case 'name':
      return (g.name ?? '').toLowerCase() === t.name;
    case 'pattern':
      return t.regex.test(g.name ?? '');
  }
}

/**
 * The guests a selector picks, sorted by vmid. Templates are left out unless
 * `includeTemplates` (they cannot be snapshotted, and their snapshots must stay).
 */
export function selectGuests(
  sel: Selector,
  guests: GuestInfo[],
  poolMembers: Map<string, Set<number>> = new Map(),
  opts: { includeTemplates?: boolean } = {},
): GuestInfo[] {
  return guests
    .filter((g) => opts.includeTemplates || !g.template)
    .filter((g) => sel.include.some((t) => matches(t, g, poolMembers)))
    .filter((g) => !sel.exclude.some((t) => matches(t, g, poolMembers)))
    .sort((a, b) => a.vmid - b.vmid);
}
