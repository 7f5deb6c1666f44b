// Reading the certificate a server shows, for the hint of a "not trusted" error. Imported
// only then (lib/core/https.ts), and node:tls only when it runs, so that a run that needs no
// hint never evaluates node:tls.
//
// Pinning itself is lib/core/pinned.ts: the pin is compared with the certificate of each
// new TLS connection, after the handshake and before a single byte of the request is
// written, and only that connection is then used. Trusting the probed certificate as the
// only CA in bun's fetch (`{ca: pem}`) does not work for a leaf signed by a CA (a Proxmox
// node certificate is signed by pve-root-ca, an ONTAP one often by the company CA):
// measured in a compiled binary, the handshake fails with UNABLE_TO_VERIFY_LEAF_SIGNATURE,
// and the error then told the user to pin the very fingerprint they had pinned. fetch
// with checkServerIdentity opens a new connection per request, and (bun 1.4.5) is called
// only when the chain verifies, never with rejectUnauthorized: false. Certificate checks
// stay on for the rest of the process.
import { NetworkError } from './net-errors.ts';
import { formatHost, type HostPort } from './hosts.ts';

export interface PeerCertificate {
  fingerprint: string;
  pem: string;
}

/** Handshake without verification to read the server's certificate; nothing is sent. */
export async function probeCertificate(host: HostPort, timeoutMs: number): Promise<PeerCertificate> {
  const key = formatHost(host);
  // a dynamic import stays one in the bundle, with or without chunks: a static one would
  // be evaluated at start-up by whoever imports this file
  const tls = await import('node:tls');
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
