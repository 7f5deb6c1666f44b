// Who is calling and what they may do: API tokens, tickets with CSRF tokens, and PVE's
// privilege check (ACLs propagate to sub-paths; a privilege-separated token has the
// intersection of its own and its user's privileges; root@pam has everything).
import crypto from 'node:crypto';
import { PveError, permError } from './errors.ts';
import type { SeedUser } from './seed.ts';

export type PrivMap = Map<string, Set<string>>;

export interface Principal {
  /** user@realm */
  userid: string;
  /** token id, for API tokens */
  tokenid?: string;
  /** everything allowed (root@pam, --token) */
  all: boolean;
  privs: PrivMap;
  /** the token's own grants (privilege separation) */
  tokenPrivs?: PrivMap;
  /** true when authenticated by ticket: non-GET requests need the CSRF token */
  ticket?: boolean;
}

/** user@realm or user@realm!token, as written into UPIDs and task lists */
export const principalName = (p: Principal) => (p.tokenid ? `${p.userid}!${p.tokenid}` : p.userid);

export function privMap(grants: Record<string, string[]> | undefined): PrivMap {
  const m: PrivMap = new Map();
  for (const [path, privs] of Object.entries(grants ?? {})) m.set(normPath(path), new Set(privs));
  return m;
}

function normPath(p: string): string {
  const s = ('/' + p).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return s;
}

/** The ACL paths whose grants reach `path`: itself and every ancestor. */
function ancestors(path: string): string[] {
  const segs = normPath(path).split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= segs.length; i++) out.push('/' + segs.slice(0, i).join('/'));
  return out;
}

function hasIn(map: PrivMap, paths: string[], priv: string): boolean {
  for (const p of paths) if (map.get(p)?.has(priv)) return true;
  return false;
}

export interface PermContext {
  /** extra ACL paths that also reach a VM: its pool and the pool's parents */
  poolPathsOf(vmid: number): string[];
}

export function hasPriv(p: Principal, path: string, priv: string, ctx?: PermContext): boolean {
  if (p.all) return true;
  const paths = ancestors(path);
  const m = /^\/vms\/(\d+)$/.exec(normPath(path));
  if (m && ctx) for (const pp of ctx.poolPathsOf(Number(m[1]))) paths.push(...ancestors(pp));
  if (!hasIn(p.privs, paths, priv)) return false;
  if (p.tokenPrivs && !hasIn(p.tokenPrivs, paths, priv)) return false;
  return true;
}

/** Throw PVE's 403 naming the first missing privilege (or all of them for `any`). */
export function checkPerm(p: Principal, path: string, privs: string[], any = false, ctx?: PermContext): void {
  if (any) {
    if (!privs.some((pr) => hasPriv(p, path, pr, ctx))) throw permError(path, privs.join('|'));
    return;
  }
  for (const pr of privs) if (!hasPriv(p, path, pr, ctx)) throw permError(path, pr);
}

/**
 * Evaluate a schema `permissions.check` expression. Returns normally when allowed.
 * Forms not modelled (userid-param, userid-group) are allowed only to full principals.
 */
export function evalCheck(p: Principal, check: unknown[], params: Record<string, unknown>, ctx?: PermContext): void {
  const [op, ...rest] = check as [string, ...unknown[]];
  const subst = (path: string) => path.replace(/\{([^}]+)\}/g, (_m, k) => String(params[k] ?? ''));
  if (op === 'perm') {
    const [path, privs, ...flags] = rest as [string, string[], ...unknown[]];
    const any = flags.includes('any');
    checkPerm(p, subst(path), privs, any, ctx);
    return;
  }
  if (op === 'and') {
    for (const c of rest) evalCheck(p, c as unknown[], params, ctx);
    return;
  }
  if (op === 'or') {
    let first: unknown;
    for (const c of rest) {
      try {
        evalCheck(p, c as unknown[], params, ctx);
        return;
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }
  if (!p.all) throw new PveError(403, 'Permission check failed');
}

// ---------------------------------------------------------------------------------------

interface TokenRec {
  userid: string;
  tokenid: string;
  secret: string;
  all: boolean;
  privsep: boolean;
  privs?: PrivMap;
}

interface UserRec {
  userid: string;
  password?: string;
  all: boolean;
  privs: PrivMap;
}

/** Parse `USER@REALM!TOKENID=SECRET` (the --token form). */
function parseFullToken(text: string): { userid: string; tokenid: string; secret: string } | undefined {
  const m = /^([^\s!:/]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)=(\S+)$/.exec(text.trim());
  return m ? { userid: m[1], tokenid: m[2], secret: m[3] } : undefined;
}

const TICKET_LIFETIME = 7200;

export class AuthDb {
  private users = new Map<string, UserRec>();
  private tokens = new Map<string, TokenRec>();
  private key = crypto.randomBytes(32);

  constructor(users: SeedUser[], fullTokens: string[]) {
    this.users.set('root@pam', { userid: 'root@pam', all: true, privs: new Map() });
    for (const u of users) {
      const all = u.userid === 'root@pam';
      this.users.set(u.userid, { userid: u.userid, password: u.password, all, privs: privMap(u.privileges) });
      for (const t of u.tokens ?? []) {
        this.tokens.set(`${u.userid}!${t.id}`, { userid: u.userid, tokenid: t.id, secret: t.secret, all: false, privsep: t.privsep ?? true, privs: privMap(t.privileges) });
      }
    }
    for (const text of fullTokens) {
      const t = parseFullToken(text);
      if (!t) throw new Error(`--token '${text.replace(/=.*/, '=***')}' is not USER@REALM!TOKENID=SECRET`);
      if (!this.users.has(t.userid)) this.users.set(t.userid, { userid: t.userid, all: true, privs: new Map() });
      this.tokens.set(`${t.userid}!${t.tokenid}`, { ...t, all: true, privsep: false });
    }
  }

  /** `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` (or a blank after PVEAPIToken) */
  fromTokenHeader(header: string): Principal {
    const m = /^PVEAPIToken[= ](.+)$/.exec(header.trim());
    const t = m ? parseFullToken(m[1]) : undefined;
    const rec = t ? this.tokens.get(`${t.userid}!${t.tokenid}`) : undefined;
    if (!t || !rec || !safeEqual(rec.secret, t.secret)) throw new PveError(401, 'authentication failure');
    const user = this.users.get(rec.userid);
    if (!user) throw new PveError(401, 'authentication failure');
    if (rec.all || (user.all && !rec.privsep)) return { userid: rec.userid, tokenid: rec.tokenid, all: true, privs: new Map() };
    if (user.all) return { userid: rec.userid, tokenid: rec.tokenid, all: false, privs: rec.privs ?? new Map() };
    return { userid: rec.userid, tokenid: rec.tokenid, all: false, privs: user.privs, tokenPrivs: rec.privsep ? rec.privs ?? new Map() : undefined };
  }

  private sign(data: string): string {
    return crypto.createHmac('sha256', this.key).update(data).digest('base64').replace(/=+$/, '');
  }

  /** username + password (or a still valid ticket, which PVE accepts to renew it) */
  login(username: string, password: string, realm: string | undefined, nowSec: number): { ticket: string; csrf: string; userid: string } {
    const userid = username.includes('@') ? username : `${username}@${realm ?? 'pam'}`;
    const user = this.users.get(userid);
    let ok = false;
    if (user && password.startsWith('PVE:')) ok = this.verifyTicket(password, nowSec)?.userid === userid;
    else if (user?.password !== undefined) ok = safeEqual(user.password, password);
    if (!ok) throw new PveError(401, 'authentication failure');
    const hex = nowSec.toString(16).toUpperCase().padStart(8, '0');
    const plain = `PVE:${userid}:${hex}`;
    return { ticket: `${plain}::${this.sign(plain)}`, csrf: this.csrfFor(userid, hex), userid };
  }

  private csrfFor(userid: string, hex: string): string {
    return `${hex}:${this.sign(`${hex}:${userid}`)}`;
  }

  private verifyTicket(ticket: string, nowSec: number): { userid: string } | undefined {
    const m = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket);
    if (!m || !safeEqual(this.sign(m[1]), m[4])) return undefined;
    const age = nowSec - parseInt(m[3], 16);
    if (age < -300 || age > TICKET_LIFETIME) return undefined;
    return { userid: m[2] };
  }

  fromTicket(ticket: string, csrf: string | undefined, needCsrf: boolean, nowSec: number): Principal {
    const v = this.verifyTicket(ticket, nowSec);
    const user = v && this.users.get(v.userid);
    if (!v || !user) throw new PveError(401, 'authentication failure');
    if (needCsrf) {
      const m = /^([0-9A-F]{8}):/.exec(csrf ?? '');
      const age = m ? nowSec - parseInt(m[1], 16) : Infinity;
      if (!m || !safeEqual(this.csrfFor(v.userid, m[1]), csrf ?? '') || age > TICKET_LIFETIME || age < -300) {
        throw new PveError(401, 'Permission denied - invalid csrf token');
      }
    }
    return { userid: user.userid, all: user.all, privs: user.privs, ticket: true };
  }

  /**
   * Capabilities returned with a ticket, as PVE computes them (proxmox/pve-access-control
   * src/PVE/RPCEnvironment.pm, compute_api_permission): one entry per area (vms, storage,
   * nodes, access, dc, sdn, mapping), holding the privileges of that area the user has on
   * some path of it (`/` counts as dc). root@pam has them all.
   */
  caps(userid: string): Record<string, Record<string, number>> {
    const user = this.users.get(userid);
    const out: Record<string, Record<string, number>> = {};
    for (const area of Object.keys(CAP_AREAS)) out[area] = {};
    const grants: [string, Iterable<string>][] = user?.all ? [...Object.keys(CAP_AREAS).map((a): [string, string[]] => [a === 'dc' ? '/' : `/${a}`, ALL_PRIVS])] : [...(user?.privs ?? [])];
    for (const [path, privs] of grants) {
      const area = /^\/(\w+)/.exec(path)?.[1] ?? 'dc';
      const re = CAP_AREAS[area];
      if (!re) continue;
      for (const pr of privs) if (re.test(pr)) out[area][pr] = 1;
    }
    return out;
  }

  /** The users (with their tokens) for GET /access/users. */
  listUsers(): { userid: string; tokens: { tokenid: string; privsep: boolean }[] }[] {
    return [...this.users.values()].map((u) => ({
      userid: u.userid,
      tokens: [...this.tokens.values()].filter((t) => t.userid === u.userid).map((t) => ({ tokenid: t.tokenid, privsep: t.privsep })),
    }));
  }
}

// RPCEnvironment.pm's $priv_re_map: which privileges each capability area reports
const CAP_AREAS: Record<string, RegExp> = {
  vms: /^(VM\.|Permissions\.Modify)/,
  access: /^((User|Group)\.|Permissions\.Modify)/,
  storage: /^(Datastore\.|Permissions\.Modify)/,
  nodes: /^(Sys\.|Permissions\.Modify)/,
  sdn: /^(SDN\.|Permissions\.Modify)/,
  dc: /^(Sys\.Audit|Sys\.Modify|SDN\.)/,
  mapping: /^(Mapping\.|Permissions\.Modify)/,
};

// PVE 9's privileges (pve-access-control src/PVE/AccessControl.pm, $privgroups), for root@pam
const ALL_PRIVS = [
  'VM.Allocate', 'VM.Audit', 'VM.Backup', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk',
  'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Console', 'VM.Migrate', 'VM.PowerMgmt',
  'VM.Snapshot', 'VM.Snapshot.Rollback', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.AllocateTemplate', 'Datastore.Audit',
  'Sys.Audit', 'Sys.Console', 'Sys.Incoming', 'Sys.Modify', 'Sys.PowerMgmt', 'Sys.Syslog', 'Sys.AccessNetwork',
  'User.Modify', 'Group.Allocate', 'Permissions.Modify', 'Pool.Allocate', 'Pool.Audit', 'Realm.Allocate', 'Realm.AllocateUser',
  'SDN.Allocate', 'SDN.Audit', 'SDN.Use', 'Mapping.Audit', 'Mapping.Modify', 'Mapping.Use',
];

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
