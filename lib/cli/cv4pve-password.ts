// The password files cv4pve-autosnap writes for `--password file:PATH`.
//
// Corsinvest/cv4pve-api-dotnet src/Corsinvest.ProxmoxVE.Api.Console/Helpers/
// CommandOptionExtension.cs (GetPasswordFromOption) and StringHelper.cs: the file holds the
// password encrypted with Triple DES under a key fixed in that source, as `v2:` + base64
// of an 8-byte IV followed by the CBC ciphertext (PKCS7 padding); files of older versions
// hold base64 of the ECB ciphertext without a prefix. The key being public, this is
// obfuscation, not protection: the file is guarded like any secret file (mode 600).
import { UsageError } from '../core/errors.ts';

// the fixed key of StringHelper's callers (24 bytes: three DES keys)
const KEY = Buffer.from('012345678901234567890123', 'utf8');
const V2 = 'v2:';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// node:crypto loaded when a file is decoded, not with the module: evaluating it costs
// every connection ~4 MiB of memory, and few read a cv4pve password file
const nodeCrypto = () => process.getBuiltinModule('node:crypto');

function decrypt(algorithm: 'des-ede3-cbc' | 'des-ede3', data: Buffer, iv: Buffer | null): string {
  const d = nodeCrypto().createDecipheriv(algorithm, KEY, iv);
  return Buffer.concat([d.update(data), d.final()]).toString('utf8');
}

/**
 * The password a file holds: cv4pve's `v2:` form or its older form decrypted, anything
 * else taken as the password itself (a plain-text file keeps working). `file` names the
 * file in the error of a `v2:` content that does not decrypt.
 */
export function decodePasswordFile(text: string, file: string): string {
  const t = text.trim();
  if (t.startsWith(V2)) {
    const raw = Buffer.from(t.slice(V2.length), 'base64');
    if (raw.length < 16 || (raw.length - 8) % 8 !== 0) throw new UsageError(`password file ${file}: not a cv4pve-autosnap password file (v2: with a short or cut ciphertext)`);
    try {
      return decrypt('des-ede3-cbc', raw.subarray(8), raw.subarray(0, 8));
    } catch {
      throw new UsageError(`password file ${file}: its v2: content does not decrypt as cv4pve-autosnap writes it`);
    }
  }
  // the older form: base64 of whole 8-byte blocks that decrypt to printable text with a
  // valid padding; a plain password that happens to be base64 fails one of the checks
  if (BASE64.test(t) && t.length % 4 === 0) {
    const raw = Buffer.from(t, 'base64');
    if (raw.length >= 8 && raw.length % 8 === 0) {
      try {
        const pw = decrypt('des-ede3', raw, null);
        if (pw && !/[\p{Cc}\uFFFD]/u.test(pw)) return pw;
      } catch {
        // not that form
      }
    }
  }
  return t;
}

/** cv4pve's v2 form of a password (tests write cv4pve's files with it). */
export function encodePasswordFile(password: string, iv: Buffer = nodeCrypto().randomBytes(8)): string {
  const c = nodeCrypto().createCipheriv('des-ede3-cbc', KEY, iv);
  return V2 + Buffer.concat([iv, c.update(password, 'utf8'), c.final()]).toString('base64');
}
