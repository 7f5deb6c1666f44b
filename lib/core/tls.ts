// Certificate checks shared by the Proxmox and the ONTAP clients.
//
// Pinning: the pin is compared with the certificate of each new TLS connection, after the
// handshake and before a single byte of the request is written, and only that connection
// is then used. Trusting the probed certificate as the only CA in bun's fetch (`{ca: pem}`)
// does not work for a leaf signed by a CA (a Proxmox node certificate is signed by
// pve-root-ca, an ONTAP one often by the company CA): measured in a compiled binary, the
// handshake fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE, and the error then told the user
// to pin the very fingerprint they had pinned. fetch with checkServerIdentity opens a new
// connection per request. Certificate checks stay on for the rest of the process.
import http from 'node:http';
import tls from 'node:tls';
import { NetworkError } from './net-errors.ts';
import { formatHost, type HostPort } from './hosts.ts';

/** Error codes (Node's and bun's) that mean the certificate was not trusted. */
export function isTlsErrorCode(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|TLS|SSL|HANDSHAKE/i.test(code);
}

export interface PeerCertificate {
  fingerprint: string;
  pem: string;
}

/** Handshake without verification to read the server's certificate; nothing is sent. */
export function probeCertificate(host: HostPort, timeoutMs: number): Promise<PeerCertificate> {
  const key = formatHost(host);
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: host.host, port: host.port, rejectUnauthorized: false, servername: /^[\d.:]+$/.test(host.host) ? undefined : host.host });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new NetworkError(key, 'TIMEOUT', `no TLS handshake within ${Math.round(timeoutMs / 1000)} s`, { sent: false }));
    }, timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const cert = sock.getPeerCertificate();
      sock.end();
      if (!cert?.raw || !cert.fingerprint256) {
        reject(new NetworkError(key, 'NO_CERT', 'the server sent no certificate', { sent: false, failover: false, retryable: false }));
        return;
      }
      const b64 = cert.raw.toString('base64').match(/.{1,64}/g)!.join('\n');
      resolve({ fingerprint: cert.fingerprint256.toUpperCase(), pem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n` });
    });
    sock.once('error', (e: any) => {
      clearTimeout(timer);
      const code = String(e?.code ?? 'ERROR');
      reject(new NetworkError(key, code, code === 'ECONNREFUSED' ? 'connection refused' : e?.message ?? code, { sent: false }));
    });
  });
}

/**
 * The fingerprint of the certificate a server shows, for the hint in a "not trusted"
 * error; undefined when even an unverified handshake fails.
 */
export async function peerFingerprint(host: HostPort, timeoutMs = 5_000): Promise<string | undefined> {
  try {
    return (await probeCertificate(host, timeoutMs)).fingerprint;
  } catch {
    return undefined;
  }
}

/**
 * Keep-alive connections to one host whose certificate matches a pin. The check runs on
 * every new connection after the TLS handshake, before the request is written.
 */
export class PinnedAgent extends http.Agent {
  private readonly host: HostPort;
  private readonly pins: string[];
  private readonly toError: (e: any, sent: boolean) => Promise<Error>;
  private handshakeTimeoutMs = 30_000;

  constructor(host: HostPort, pins: string[], toError: (e: any, sent: boolean) => Promise<Error>) {
    super({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 16 });
    this.host = host;
    this.pins = pins;
    this.toError = toError;
  }

  // Node's Agent waits for the callback when createConnection returns nothing
  override createConnection(...args: any[]): any {
    const cb = args[1] as ((err: Error | null, socket?: tls.TLSSocket) => void) | undefined;
    const key = formatHost(this.host);
    const sock = tls.connect({
      host: this.host.host,
      port: this.host.port,
      // verification is the pin comparison below, on this very connection
      rejectUnauthorized: false,
      servername: /^[\d.:]+$/.test(this.host.host) ? undefined : this.host.host,
    });
    const timer = setTimeout(() => {
      sock.destroy();
      cb?.(Object.assign(new Error(`no TLS handshake within ${Math.round(this.handshakeTimeoutMs / 1000)} s`), { code: 'ETIMEDOUT', phase: 'connect' }));
    }, this.handshakeTimeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const fp = String(sock.getPeerCertificate()?.fingerprint256 ?? '').toUpperCase();
      if (!this.pins.includes(fp)) {
        sock.destroy();
        cb?.(new NetworkError(key, 'FINGERPRINT_MISMATCH', `certificate fingerprint ${fp || '(none)'} does not match the pinned ${this.pins.join(', ')}; refusing to connect`, { sent: false, failover: false, retryable: false }));
        return;
      }
      cb?.(null, sock);
    });
    sock.once('error', (e: any) => {
      clearTimeout(timer);
      cb?.(Object.assign(e, { phase: 'connect' }));
    });
    return undefined;
  }

  // bun's Agent does not enforce maxSockets (measured: 100 parallel requests opened 99
  // connections), so requests queue here; a handshake per request costs more than waiting
  private active = 0;
  private waiting: (() => void)[] = [];
  static readonly MAX_CONNECTIONS = 16;

  async request(method: string, pathAndQuery: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; statusText: string; text: string }> {
    if (this.active >= PinnedAgent.MAX_CONNECTIONS) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await this.send(method, pathAndQuery, headers, body, timeoutMs);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private send(method: string, pathAndQuery: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; statusText: string; text: string }> {
    this.handshakeTimeoutMs = timeoutMs;
    return new Promise((resolve, reject) => {
      let connected = false;
      const h: Record<string, string | number> = { ...headers, Host: formatHost(this.host) };
      if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
      const req = http.request({ host: this.host.host, port: this.host.port, method, path: pathAndQuery, headers: h, agent: this }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text });
        });
        res.on('error', (e) => fail(e, true));
      });
      const fail = (e: any, sent: boolean) => {
        clearTimeout(timer);
        req.destroy();
        this.toError(e, sent).then(reject, reject);
      };
      req.on('socket', () => (connected = true));
      const timer = setTimeout(() => fail(Object.assign(new Error('timeout'), { name: 'TimeoutError' }), true), timeoutMs);
      req.on('error', (e: any) => fail(e, e?.phase === 'connect' ? false : connected && !(e instanceof NetworkError)));
      req.end(body);
    });
  }
}
