// One HTTPS client for the Proxmox and the ONTAP clients: how a server's certificate is
// trusted (system CAs, an extra CA, a pinned fingerprint, or no check), how one request
// is sent to one host, and what a failed request becomes (a NetworkError that says
// whether the request may have reached the server). Each client adds only its own
// protocol: authentication, paths, answers, failover.
//
// Without pins, bun's fetch is used: it takes TLS options per request and keeps
// connections alive, but only for requests given the same options object, so each
// endpoint keeps one. With pins, requests go over PinnedPool's own connections
// (lib/core/pinned.ts), checked after the handshake and before a byte is written.
//
// node:tls is imported only where it is needed (an extra CA, the fingerprint for a "not
// trusted" hint): a run with a pin never evaluates it, nor node:http (measured: their
// code, compiled by the JIT, was most of a status run's memory beyond its data).
import fs from 'node:fs';
import { UsageError } from './errors.ts';
import { formatHost, type HostPort } from './hosts.ts';
import { isTlsErrorCode, NetworkError } from './net-errors.ts';
import { InvalidRequest } from './http1.ts';
import { PinnedPool } from './pinned.ts';

/** How a server's certificate is trusted; at most one of the three is set. */
export interface Trust {
  /** normalised SHA-256 pins (uppercase colon hex) */
  fingerprints?: string[];
  /** PEM text of extra trusted CAs (added to the system's) */
  ca?: string;
  /** no check at all: the caller has warned */
  insecure?: boolean;
}

export interface HttpsAnswer {
  status: number;
  statusText: string;
  text: string;
}

/** A CA file as both clients read it: readable, and holding at least one PEM certificate. */
export function readCaFile(file: string, where?: string): string {
  const at = where ? `${where}: ` : '';
  let ca: string;
  try {
    ca = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    throw new UsageError(`${at}cannot read CA file ${file}: ${e?.code ?? e?.message}`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`${at}CA file ${file} holds no PEM certificate`);
  return ca;
}

// Codes after which the request cannot have reached the server.
const NOT_SENT = new Set(['ECONNREFUSED', 'ConnectionRefused', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'FailedToOpenSocket']);

export interface EndpointOptions {
  host: HostPort;
  trust: Trust;
  timeoutMs: number;
  /**
   * What to add to "TLS certificate not trusted (...)" once the certificate the server
   * shows is known (the fingerprint, when even an unverified handshake works): the exact
   * option of the tool that would trust it.
   */
  untrustedHint: (fingerprint: string | undefined) => string;
}

/** Requests to one host. */
export class HttpsEndpoint {
  readonly key: string;
  private pool?: PinnedPool;
  // one options object for every request: bun reuses a kept-alive connection for the same
  // TLS options only
  private fetchTls?: Record<string, unknown>;

  constructor(private readonly o: EndpointOptions) {
    this.key = formatHost(o.host);
    if (o.trust.insecure) this.fetchTls = { rejectUnauthorized: false };
  }

  /** One request; any failure to get an answer is thrown as a NetworkError. */
  async request(method: string, pathAndQuery: string, headers: Record<string, string>, body?: string): Promise<HttpsAnswer> {
    if (this.o.trust.fingerprints?.length) {
      this.pool ??= new PinnedPool(this.o.host, this.o.trust.fingerprints);
      try {
        const a = await this.pool.request(method, pathAndQuery, headers, body, this.o.timeoutMs);
        return { status: a.status, statusText: a.statusText, text: a.text };
      } catch (e: any) {
        // a request that could not be encoded is the caller's error, not the network's
        if (e instanceof InvalidRequest) throw e;
        // nothing was written while connecting; after that, the request may have arrived
        throw await this.networkError(e, e?.phase !== 'connect');
      }
    }
    if (this.o.trust.ca && !this.fetchTls) this.fetchTls = { ca: [...(await import('node:tls')).rootCertificates, this.o.trust.ca] };
    let res: Response;
    try {
      res = await fetch(`https://${this.key}${pathAndQuery}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        ...(this.fetchTls ? { tls: this.fetchTls } : {}),
      } as RequestInit);
    } catch (e) {
      throw await this.networkError(e);
    }
    try {
      return { status: res.status, statusText: res.statusText, text: await res.text() };
    } catch (e) {
      // the headers came: the request was received
      throw await this.networkError(e, true);
    }
  }

  close(): void {
    this.pool?.destroy();
    this.pool = undefined;
  }

  /**
   * What a failed request becomes. `sent`: whether it may have reached the server (a
   * write then may or may not have happened); true once an answer began, else judged from
   * the error: a failure while connecting cannot have sent anything.
   */
  private async networkError(e: any, sent?: boolean): Promise<NetworkError> {
    if (e instanceof NetworkError) return e;
    const code = String(e?.code ?? e?.name ?? 'ERROR');
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new NetworkError(this.key, 'TIMEOUT', `no answer within ${Math.round(this.o.timeoutMs / 1000)} s`, { sent: true });
    }
    if (isTlsErrorCode(code)) {
      const hint = this.o.untrustedHint(await (await import('./tls.ts')).peerFingerprint(this.o.host));
      return new NetworkError(this.key, code, `TLS certificate not trusted (${e?.message ?? code})${hint}`, { sent: false, failover: true, retryable: false });
    }
    const mayHaveSent = sent === true || (e?.phase !== 'connect' && !NOT_SENT.has(code));
    const what = code === 'ECONNREFUSED' || code === 'ConnectionRefused' ? 'connection refused' : code === 'ECONNRESET' ? 'connection reset' : e?.message ?? code;
    return new NetworkError(this.key, code, what, { sent: mayHaveSent });
  }
}
