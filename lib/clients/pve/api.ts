// The HTTPS transport: https://HOST:8006/api2/json with an API token or a ticket, and
// host failover that lasts for the rest of the run. Certificates are checked by the one
// HTTPS client both clients share (lib/core/https.ts: system CAs, an extra CA, or a pinned
// node certificate, compared on each new connection before a byte is written). A node
// certificate is signed by the cluster CA (pve-ssl.pem by pve-root-ca), which is why a pin
// cannot simply be fetch's only CA: see lib/core/tls.ts.
import { ConnectionError } from '../../core/errors.ts';
import { debug, redact, registerSecret, warn } from '../../core/log.ts';
import { HttpsEndpoint, type Trust } from '../../core/https.ts';
import { AuthError, PveApiError, paramErrorsOf, pveMessageOf } from './errors.ts';
import { CertificateMismatchError, NetworkError } from '../../core/net-errors.ts';
import { formatHost, type HostPort } from '../../core/hosts.ts';
import { assertSafePath } from './path.ts';
import type { ClientStats, Method, Params } from './types.ts';

export type Auth =
  | { kind: 'token'; tokenId: string; secret: string }
  | { kind: 'password'; username: string; password: string; realm?: string; otp?: string };

/** The hosts, the credentials, and how their certificates are trusted (the shared client's Trust). */
export interface ApiOptions extends Trust {
  hosts: HostPort[];
  auth: Auth;
  timeoutMs?: number;
  /** the client's clock (ms), injectable so tests can age a ticket */
  now?: () => number;
  /** re-login once a ticket is this old (PVE tickets live 2 h) */
  ticketRenewMs?: number;
}

const TICKET_RENEW_MS = 105 * 60_000;

/** Query string or form body as PVE takes it: booleans 0/1, undefined left out. */
export function encodeParams(params: Params | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined) continue;
    q.append(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return q.toString();
}

interface Ticket {
  ticket: string;
  csrf: string;
  obtainedAt: number;
}

export class ApiTransport {
  readonly kind = 'api' as const;
  private current = 0;
  private ticket?: Ticket;
  private login?: Promise<Ticket>;
  private endpoints = new Map<string, HttpsEndpoint>();
  private announced = new Set<string>();
  // set by a certificate mismatch: each later request fails with it at once
  private stopped?: CertificateMismatchError;
  private warnedInsecure = false;
  private readonly now: () => number;
  private readonly opts: ApiOptions;
  private readonly stats: ClientStats;

  constructor(opts: ApiOptions, stats: ClientStats) {
    if (!opts.hosts.length) throw new ConnectionError('no host to connect to');
    this.opts = opts;
    this.stats = stats;
    this.now = opts.now ?? Date.now;
    if (opts.auth.kind === 'token') registerSecret(opts.auth.secret);
    else registerSecret(opts.auth.password);
  }

  get principal(): string {
    return this.opts.auth.kind === 'token' ? this.opts.auth.tokenId : this.opts.auth.username;
  }

  /** The host requests go to now. */
  get host(): HostPort {
    return this.opts.hosts[this.current];
  }

  /**
   * One request, trying each host at most once starting at the current one. A host that
   * does not answer is left behind for every later request too. A write that may have
   * reached a server is not sent again here: the error says so (`sent`) and the caller
   * decides.
   */
  async send(method: Method, path: string, params?: Params): Promise<unknown> {
    // fetch's URL parser collapses `..` and `%2e%2e`: a path is checked before any host sees it
    assertSafePath(path);
    if (this.stopped) throw this.stopped;
    if (this.opts.auth.kind === 'password' && path !== '/access/ticket') await this.ensureTicket();
    let renewed = false;
    const failures: NetworkError[] = [];
    for (let tried = 0; tried < this.opts.hosts.length; ) {
      const host = this.opts.hosts[this.current];
      const used = this.ticket;
      try {
        const data = await this.sendTo(host, method, path, params);
        // said once per dead host, and only when another one answered: a run against a dead
        // cluster gets the one error line below instead
        for (const f of failures) {
          if (this.announced.has(f.host)) continue;
          this.announced.add(f.host);
          warn(`${f.host} did not answer (${f.code}); using ${formatHost(host)} from now on`);
        }
        return data;
      } catch (e) {
        if (e instanceof AuthError && this.opts.auth.kind === 'password' && path !== '/access/ticket' && !renewed) {
          // the ticket expired early (server clock ahead of ours) or the server restarted;
          // parallel requests that failed with the same ticket share one new login
          renewed = true;
          if (this.ticket === used) this.ticket = undefined;
          await this.ensureTicket();
          continue;
        }
        if (e instanceof NetworkError && e.code === 'FINGERPRINT_MISMATCH') throw this.pinMismatch(e);
        if (!(e instanceof NetworkError) || !e.failover) throw e;
        failures.push(e);
        tried++;
        if (this.opts.hosts.length > 1) {
          this.current = (this.current + 1) % this.opts.hosts.length;
          this.stats.failovers++;
        }
        if (e.sent && method !== 'GET') {
          if (this.opts.hosts.length > 1 && !this.announced.has(e.host)) {
            this.announced.add(e.host);
            warn(`${e.host} did not answer (${e.code}); using ${formatHost(this.opts.hosts[this.current])} from now on`);
          }
          throw e;
        }
      }
    }
    if (failures.length === 1) throw failures[0];
    const list = failures.map((f) => f.message).join('; ');
    throw new NetworkError(
      '',
      failures[failures.length - 1].code,
      `no host answered: ${list}`,
      { sent: failures.some((f) => f.sent), failover: false, retryable: failures.every((f) => f.retryable) },
    );
  }

  /**
   * A host showed another certificate than the pinned one: another machine, or someone in
   * between. That is no reason to try the next host (a run that failed over to whatever
   * answers could be steered), so the run stops: the error names the host and both
   * fingerprints, is printed once, and every later request fails with it at once, without
   * another handshake.
   */
  private pinMismatch(e: NetworkError): CertificateMismatchError {
    this.stopped ??= new CertificateMismatchError(e.message);
    return this.stopped;
  }

  private async ensureTicket(): Promise<void> {
    const t = this.ticket;
    if (t && this.now() - t.obtainedAt < (this.opts.ticketRenewMs ?? TICKET_RENEW_MS)) return;
    // one login shared by requests that run in parallel
    this.login ??= this.doLogin().finally(() => (this.login = undefined));
    this.ticket = await this.login;
  }

  private async doLogin(): Promise<Ticket> {
    const a = this.opts.auth;
    if (a.kind !== 'password') throw new Error('ticket login without a password');
    const started = this.now();
    const data = (await this.send('POST', '/access/ticket', { username: a.username, password: a.password, realm: a.realm, otp: a.otp })) as
      | { ticket?: string; CSRFPreventionToken?: string; NeedTFA?: number }
      | null;
    if (data?.ticket) registerSecret(data.ticket);
    // a second-factor account gets a half ticket that only opens the TFA challenge
    if (data?.NeedTFA) throw new AuthError(a.username, 'the account needs a second factor; use an API token');
    if (!data?.ticket || !data.CSRFPreventionToken) throw new AuthError(a.username, 'no ticket in the answer');
    registerSecret(data.CSRFPreventionToken);
    debug(`logged in as ${a.username}`);
    return { ticket: data.ticket, csrf: data.CSRFPreventionToken, obtainedAt: started };
  }

  private authHeaders(method: Method, path: string): Record<string, string> {
    const a = this.opts.auth;
    if (a.kind === 'token') return { Authorization: `PVEAPIToken=${a.tokenId}=${a.secret}` };
    if (path === '/access/ticket' || !this.ticket) return {};
    const h: Record<string, string> = { Cookie: `PVEAuthCookie=${encodeURIComponent(this.ticket.ticket)}` };
    if (method !== 'GET') h.CSRFPreventionToken = this.ticket.csrf;
    return h;
  }

  private async sendTo(host: HostPort, method: Method, path: string, params?: Params): Promise<unknown> {
    const key = formatHost(host);
    const encoded = encodeParams(params);
    let url = `https://${key}/api2/json${path}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...this.authHeaders(method, path) };
    let body: string | undefined;
    if (method === 'GET' || method === 'DELETE') {
      if (encoded) url += (url.includes('?') ? '&' : '?') + encoded;
    } else {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = encoded;
    }
    const started = performance.now();
    this.stats.requests++;
    const res = await this.endpoint(host).request(method, url.slice(`https://${key}`.length), headers, body);
    const text = res.text;
    debug(`${method} ${key}${path} -> ${res.status} (${Math.round(performance.now() - started)} ms)`);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status >= 200 && res.status < 300) {
      if (json === undefined && text.trim()) {
        throw new PveApiError({ status: 599, method, path, pveMessage: `unreadable answer from ${key} (not JSON)` });
      }
      return (json as { data?: unknown } | undefined)?.data ?? null;
    }
    const pveMessage = pveMessageOf(json, res.statusText, res.status);
    if (res.status === 401) {
      if (path === '/access/ticket') throw new AuthError(this.principal);
      throw new AuthError(this.principal, redact(pveMessage));
    }
    throw new PveApiError({ status: res.status, method, path, pveMessage, errors: paramErrorsOf(json) });
  }

  private endpoint(host: HostPort): HttpsEndpoint {
    const key = formatHost(host);
    let e = this.endpoints.get(key);
    if (!e) {
      const o = this.opts;
      if (o.insecure && !this.warnedInsecure) {
        this.warnedInsecure = true;
        warn('--insecure: the server certificate is not verified; anyone on the path can read the credentials');
      }
      e = new HttpsEndpoint({
        host,
        trust: o,
        timeoutMs: o.timeoutMs ?? 30_000,
        // first contact with a stock node (self-signed pve-ssl.pem): the exact option to add,
        // and where the admin sees the same fingerprint (the GUI's certificate viewer,
        // pve-manager www/manager6/node/Certificates.js; `pvenode cert info` on the node)
        untrustedHint: (fp) =>
          fp
            ? `; the node showed the SHA-256 fingerprint ${fp}: compare it with the node's own ` +
              `(GUI: the node > System > Certificates > pve-ssl.pem > View Certificate, or 'pvenode cert info' on the node), ` +
              `then add --fingerprint ${fp} (or give its CA with --ca-file)`
            : '',
      });
      this.endpoints.set(key, e);
    }
    return e;
  }

  async close(): Promise<void> {
    for (const e of this.endpoints.values()) e.close();
    this.endpoints.clear();
  }
}
