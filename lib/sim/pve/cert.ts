// A self-signed X.509 certificate built in-process (EC P-256 + a minimal DER encoder), so
// the simulator needs no openssl binary and starts in milliseconds. A real node's
// pve-ssl.pem is self-signed too (by the cluster CA), which is what the tools must cope with.
import crypto from 'node:crypto';

/** DER length octets (definite form). */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
/** context-specific constructed tag [n] (EXPLICIT) */
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);

/** INTEGER from unsigned big-endian bytes: strips leading zeros, adds one if the top bit is set. */
export function derInteger(value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from(value.toString(16).padStart(2, '0').replace(/^(.(..)*)$/, '0$1'), 'hex') : Buffer.from(value);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function derOid(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  const out: number[] = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    let v = Math.floor(p / 128);
    while (v > 0) {
      chunk.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const derUtf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const derOctets = (b: Buffer) => tlv(0x04, b);
const derBoolean = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5). */
export function derTime(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const year = d.getUTCFullYear();
  if (year < 2050) return tlv(0x17, Buffer.from(iso.slice(2), 'ascii'));
  return tlv(0x18, Buffer.from(iso, 'ascii'));
}

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
};

function name(cn: string): Buffer {
  return seq(
    set(seq(derOid(OID.organization), derUtf8('autosnap PVE simulator'))),
    set(seq(derOid(OID.commonName), derUtf8(cn))),
  );
}

function ipBytes(ip: string): Buffer | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return Buffer.from(ip.split('.').map(Number));
  if (ip === '::1') return Buffer.from([...new Array(15).fill(0), 1]);
  return undefined;
}

export interface SelfSigned {
  certPem: string;
  keyPem: string;
  certDer: Buffer;
  /** SHA-256 of the DER certificate, colon-separated uppercase hex (what PVE shows) */
  fingerprint: string;
}

export function fingerprintOf(der: Buffer): string {
  return crypto.createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('no CERTIFICATE block in PEM');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

function derToPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * A self-signed certificate for `names` (DNS names and IP literals go to subjectAltName).
 * The certificate is marked as a CA so a client may also trust it with a CA file.
 */
export function selfSigned(names: string[] = ['localhost', '127.0.0.1'], now = new Date(), days = 3650): SelfSigned {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  const algo = seq(derOid(OID.ecdsaWithSHA256));
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + days * 86400_000);
  const sans: Buffer[] = [];
  for (const n of [...new Set(names)]) {
    const ip = ipBytes(n);
    sans.push(ip ? tlv(0x87, ip) : tlv(0x82, Buffer.from(n, 'ascii')));
  }
  const extensions = explicit(3, seq(
    seq(derOid(OID.basicConstraints), derOctets(seq(derBoolean(true)))),
    seq(derOid(OID.subjectAltName), derOctets(seq(...sans))),
  ));
  const cn = names.find((n) => !ipBytes(n)) ?? names[0] ?? 'localhost';
  const tbs = seq(
    explicit(0, derInteger(2)),
    derInteger(serial),
    algo,
    name(cn),
    seq(derTime(notBefore), derTime(notAfter)),
    name(cn),
    spki,
    extensions,
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  // BIT STRING: a leading 0 = no unused bits
  const certDer = seq(tbs, algo, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    certPem: derToPem(certDer),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certDer,
    fingerprint: fingerprintOf(certDer),
  };
}
