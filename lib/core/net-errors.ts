// Errors of the transport both clients share (lib/core/https.ts, the Proxmox and the ONTAP
// HTTPS clients): no answer, or a certificate that is not the pinned one.
import { ConnectionError } from './errors.ts';
import { redact } from './log.ts';

/**
 * A request did not get an answer: connection refused, reset, timed out, or TLS failed.
 * `sent` tells whether the request may have reached the server (a write then may or may
 * not have happened); `failover` whether another host is worth trying.
 */
export class NetworkError extends ConnectionError {
  readonly host: string;
  readonly code: string;
  readonly sent: boolean;
  readonly failover: boolean;
  readonly retryable: boolean;
  constructor(host: string, code: string, detail: string, o: { sent: boolean; failover?: boolean; retryable?: boolean }) {
    super(redact(host ? `${host}: ${detail}` : detail));
    this.host = host;
    this.code = code;
    this.sent = o.sent;
    this.failover = o.failover ?? true;
    this.retryable = o.retryable ?? true;
  }
}

/**
 * A host showed another certificate than the pinned one: the run stops (exit 3). Every
 * request after it fails with this same error at once, without another handshake, and
 * the tools end instead of going on guest by guest.
 */
export class CertificateMismatchError extends ConnectionError {}

/** An error after which nothing else in the run can succeed: the tools stop at once. */
export const stopsTheRun = (e: unknown): boolean => e instanceof CertificateMismatchError;

/** Error codes (Node's and bun's) that mean the certificate was not trusted. */
export function isTlsErrorCode(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|TLS|SSL|HANDSHAKE/i.test(code);
}
