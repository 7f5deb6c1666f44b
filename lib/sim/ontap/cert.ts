// A self-signed certificate for the ONTAP simulator, built in process (no openssl binary
// needed). Like a fresh ONTAP cluster, the simulator answers with a certificate no CA
// signed, so clients must pin its fingerprint or trust it as a CA file.
import crypto from 'node:crypto';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const explicit = (n: number, body: Buffer) => tlv(0xa0 + n, body);
// DER wants the shortest form: no leading zero byte unless the next has its high bit set
// (a random serial starting 0x00 0x7f.. was refused by the TLS stack, 1 start in 256)
const int = (raw: Buffer) => {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const b = raw.subarray(i);
  return tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
};
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

export interface SelfSigned {
  key: string;
  cert: string;
  /** SHA-256 of the DER certificate, uppercase colon hex, as ONTAP and Proxmox print it */
  fingerprint: string;
}

export function fingerprintOf(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export function selfSignedCertificate(commonName = 'autosnap ontap-sim', ips: string[] = ['127.0.0.1'], dnsNames: string[] = ['localhost']): SelfSigned {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const alg = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
  const now = Date.now();
  const validity = seq(utcTime(new Date(now - 86400_000)), utcTime(new Date(now + 3650 * 86400_000)));
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  const altNames = Buffer.concat([
    ...dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...ips.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
  ]);
  const extensions = explicit(3, seq(
    seq(oid('2.5.29.17'), octets(seq(altNames))),
    // CA:TRUE lets a client use this very certificate as its trust anchor (ca_file)
    seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))),
  ));
  const tbs = seq(explicit(0, int(Buffer.from([2]))), int(serial), alg, name, validity, name, spki, extensions);
  const signature = crypto.sign('sha256', tbs, privateKey);
  const der = seq(tbs, alg, bits(signature));
  const pem = (label: string, b: Buffer) => `-----BEGIN ${label}-----\n${b.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: pem('CERTIFICATE', der),
    fingerprint: fingerprintOf(der),
  };
}
