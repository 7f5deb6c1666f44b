// HTTPS to an ONTAP management interface, shared by REST and ZAPI: Basic auth and TLS
// verified per request. A pinned certificate is checked the way the Proxmox client checks
// one (lib/core/tls.ts): on each new connection, before the request is written, so a
// certificate signed by a CA is pinned as well as a self-signed one.
import tls from 'node:tls';
import { ConnectionError } from '../../core/errors.ts';
import { debug, registerSecret, warn } from '../../core/log.ts';
import { isTlsErrorCode, peerFingerprint, PinnedAgent } from '../../core/tls.ts';
import { formatHost, type HostPort } from '../../core/hosts.ts';
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
  private tlsOpts?: Record<string, unknown>;
  private warnedInsecure = false;
  private agent?: PinnedAgent;
  private readonly auth: string;

  constructor(private readonly opts: HttpOptions) {
    this.host = formatHost(opts.host);
    this.user = opts.user;
    registerSecret(opts.password);
    this.auth = 'Basic ' + Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
    registerSecret(this.auth.slice(6));
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? 30_000;
  }

  // one options object for every request: bun reuses a kept-alive connection for the same
  // TLS options only
  private fetchTls(): Record<string, unknown> | undefined {
    const o = this.opts;
    if (o.insecure) {
      if (!this.warnedInsecure) {
        this.warnedInsecure = true;
        warn(`ONTAP ${this.host}: certificate not verified (verify = no); pin it with fingerprint = ... instead`);
      }
      return (this.tlsOpts ??= { rejectUnauthorized: false });
    }
    if (o.ca) return (this.tlsOpts ??= { ca: [...tls.rootCertificates, o.ca] });
    return undefined;
  }

  async send(method: string, path: string, body?: string, contentType = 'application/json', accept?: string): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Authorization: this.auth, Accept: accept ?? (contentType === 'text/xml' ? 'text/xml' : 'application/hal+json, application/json') };
    if (body !== undefined) headers['Content-Type'] = contentType;
    this.requests++;
    const started = performance.now();
    let answer: HttpAnswer;
    if (this.opts.fingerprints?.length) {
      this.agent ??= new PinnedAgent(this.opts.host, this.opts.fingerprints, async (e) => this.connectionError(e));
      answer = await this.agent.request(method, path, headers, body, this.timeoutMs);
    } else {
      const tlsOpts = this.fetchTls();
      try {
        const res = await fetch(`https://${this.host}${path}`, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs), ...(tlsOpts ? { tls: tlsOpts } : {}) } as RequestInit);
        answer = { status: res.status, text: await res.text() };
      } catch (e) {
        throw await this.connectionError(e);
      }
    }
    debug(`ONTAP ${method} ${path.slice(0, 160)} -> ${answer.status} (${Math.round(performance.now() - started)} ms)`);
    if (answer.status === 401) throw new OntapAuthError(this.host, this.opts.user);
    return answer;
  }

  private async connectionError(e: any): Promise<ConnectionError> {
    if (e instanceof ConnectionError) {
      // the pinned connection's own refusal (fingerprint mismatch) already names the host
      return new ConnectionError(`ONTAP ${e.message}`);
    }
    const code = String(e?.code ?? e?.name ?? 'ERROR');
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new ConnectionError(`ONTAP ${this.host}: no answer within ${Math.round(this.timeoutMs / 1000)} s`);
    if (isTlsErrorCode(code)) {
      const fp = await peerFingerprint(this.opts.host);
      return new ConnectionError(`ONTAP ${this.host}: TLS certificate not trusted (${e?.message ?? code})${fp ? `; pin it with fingerprint = ${fp} or give ca_file` : ''}`);
    }
    return new ConnectionError(`ONTAP ${this.host}: ${code === 'ECONNREFUSED' || code === 'ConnectionRefused' ? 'connection refused' : e?.message ?? code}`);
  }
}
