// HTTPS to an ONTAP management interface, shared by REST and ZAPI: Basic auth and TLS
// verified per request. The certificate pinning technique is the Proxmox client's (a
// handshake reads the peer certificate, its SHA-256 is compared with the pin, then exactly
// that certificate is trusted for bun's fetch), so its probe is reused from lib/pve.
import tls from 'node:tls';
import { ConnectionError } from '../cli/errors.ts';
import { debug, registerSecret, warn } from '../cli/log.ts';
import { probeCertificate } from '../pve/api.ts';
import { formatHost, type HostPort } from '../pve/hosts.ts';
import { OntapAuthError } from './errors.ts';

export interface HttpOptions {
  host: HostPort;
  user: string;
  password: string;
  /** uppercase colon-hex SHA-256 pins */
  fingerprints?: string[];
  /** PEM of extra trusted CAs */
  ca?: string;
  insecure?: boolean;
  timeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

export class OntapHttp {
  readonly host: string;
  readonly user: string;
  requests = 0;
  private tlsOpts?: Promise<Record<string, unknown> | undefined>;
  private readonly auth: string;

  constructor(private readonly opts: HttpOptions) {
    this.host = formatHost(opts.host);
    this.user = opts.user;
    registerSecret(opts.password);
    this.auth = 'Basic ' + Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
    registerSecret(this.auth.slice(6));
  }

  private tls(): Promise<Record<string, unknown> | undefined> {
    this.tlsOpts ??= (async () => {
      const o = this.opts;
      if (o.fingerprints?.length) {
        let peer;
        try {
          peer = await probeCertificate(o.host, o.timeoutMs ?? 30_000);
        } catch (e) {
          throw new ConnectionError(`ONTAP ${this.host}: ${(e as Error).message}`);
        }
        if (!o.fingerprints.includes(peer.fingerprint)) {
          throw new ConnectionError(`ONTAP ${this.host}: certificate fingerprint ${peer.fingerprint} does not match the pinned ${o.fingerprints.join(', ')}; refusing to connect`);
        }
        return { ca: peer.pem, checkServerIdentity: () => undefined };
      }
      if (o.insecure) {
        warn(`ONTAP ${this.host}: certificate not verified (verify = no); pin it with fingerprint = ... instead`);
        return { rejectUnauthorized: false };
      }
      if (o.ca) return { ca: [...tls.rootCertificates, o.ca] };
      return undefined;
    })();
    return this.tlsOpts;
  }

  async send(method: string, path: string, body?: string, contentType = 'application/json'): Promise<HttpAnswer> {
    const tlsOpts = await this.tls();
    const url = `https://${this.host}${path}`;
    const headers: Record<string, string> = { Authorization: this.auth, Accept: contentType === 'text/xml' ? 'text/xml' : 'application/hal+json, application/json' };
    if (body !== undefined) headers['Content-Type'] = contentType;
    this.requests++;
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000), ...(tlsOpts ? { tls: tlsOpts } : {}) } as RequestInit);
      text = await res.text();
    } catch (e: any) {
      const code = String(e?.code ?? e?.name ?? 'ERROR');
      if (e?.name === 'TimeoutError' || e?.name === 'AbortError') throw new ConnectionError(`ONTAP ${this.host}: no answer within ${Math.round((this.opts.timeoutMs ?? 30_000) / 1000)} s`);
      if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|TLS|SSL|HANDSHAKE/i.test(code)) {
        let hint = '';
        try {
          hint = `; pin it with fingerprint = ${(await probeCertificate(this.opts.host, 5_000)).fingerprint} or give ca_file`;
        } catch {
          /* the hint is optional */
        }
        throw new ConnectionError(`ONTAP ${this.host}: TLS certificate not trusted (${e?.message ?? code})${hint}`);
      }
      throw new ConnectionError(`ONTAP ${this.host}: ${code === 'ECONNREFUSED' || code === 'ConnectionRefused' ? 'connection refused' : e?.message ?? code}`);
    }
    debug(`ONTAP ${method} ${path.slice(0, 160)} -> ${res.status} (${Math.round(performance.now() - started)} ms)`);
    if (res.status === 401) throw new OntapAuthError(this.host, this.opts.user);
    return { status: res.status, text };
  }
}
