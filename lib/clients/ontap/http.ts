// HTTPS to an ONTAP management interface, shared by REST and ZAPI: Basic auth and TLS
// verified per request. A pinned certificate is checked the way the Proxmox client checks
// one (lib/core/tls.ts): on each new connection, before the request is written, so a
// certificate signed by a CA is pinned as well as a self-signed one.
import { ConnectionError } from '../../core/errors.ts';
import { debug, registerSecret, warn } from '../../core/log.ts';
import { HttpsEndpoint, type Trust } from '../../core/https.ts';
import { formatHost, type HostPort } from '../../core/hosts.ts';
import { OntapAuthError } from './errors.ts';

/** Where and as whom, and how the certificate is trusted (the shared client's Trust). */
export interface HttpOptions extends Trust {
  host: HostPort;
  user: string;
  password: string;
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
  private readonly endpoint: HttpsEndpoint;
  private readonly auth: string;
  private warnedInsecure = false;

  constructor(private readonly opts: HttpOptions) {
    this.host = formatHost(opts.host);
    this.user = opts.user;
    registerSecret(opts.password);
    this.auth = 'Basic ' + Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
    registerSecret(this.auth.slice(6));
    this.endpoint = new HttpsEndpoint({
      host: opts.host,
      trust: opts,
      timeoutMs: opts.timeoutMs ?? 30_000,
      untrustedHint: (fp) => (fp ? `; pin it with fingerprint = ${fp} or give ca_file` : ''),
    });
  }

  async send(method: string, path: string, body?: string, contentType = 'application/json', accept?: string): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Authorization: this.auth, Accept: accept ?? (contentType === 'text/xml' ? 'text/xml' : 'application/hal+json, application/json') };
    if (body !== undefined) headers['Content-Type'] = contentType;
    if (this.opts.insecure && !this.warnedInsecure) {
      this.warnedInsecure = true;
      warn(`ONTAP ${this.host}: certificate not verified (verify = no); pin it with fingerprint = ... instead`);
    }
    this.requests++;
    const started = performance.now();
    let answer: HttpAnswer;
    try {
      answer = await this.endpoint.request(method, path, headers, body);
    } catch (e) {
      // the shared client's error names the host; ONTAP's lines say which server it was
      throw e instanceof ConnectionError ? new ConnectionError(`ONTAP ${e.message}`) : e;
    }
    debug(`ONTAP ${method} ${path.slice(0, 160)} -> ${answer.status} (${Math.round(performance.now() - started)} ms)`);
    if (answer.status === 401) throw new OntapAuthError(this.host, this.opts.user);
    return answer;
  }
}
