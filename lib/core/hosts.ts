// Host lists and certificate fingerprints: the pure parts of connecting.
import { UsageError } from './errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

const DEFAULT_PORT = 8006;

/**
 * `a,b:8007,[fd00::1]:8006,10.0.0.1` → hosts in order. A bare IPv6 address without
 * brackets is accepted when it has no port (more than one colon cannot be host:port).
 */
/** The host as given, with a URL's user and password hidden: it is echoed in errors. */
export function shownHost(raw: string): string {
  return raw.replace(/^((?:https?:\/\/)?)[^@/]*@/i, '$1***@');
}

export function parseHostList(text: string, defaultPort = DEFAULT_PORT): HostPort[] {
  const out: HostPort[] = [];
  for (const raw of String(text).split(/[,\s]+/)) {
    const item = raw.trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
    if (!item) continue;
    let host: string;
    let port: string | undefined;
    const v6 = /^\[([0-9A-Fa-f:.%\w]+)\](?::(\w*))?$/.exec(item);
    if (v6) {
      host = v6[1];
      port = v6[2];
    } else if ((item.match(/:/g) ?? []).length > 1) {
      host = item;
    } else {
      const i = item.indexOf(':');
      host = i >= 0 ? item.slice(0, i) : item;
      port = i >= 0 ? item.slice(i + 1) : undefined;
    }
    if (!host || !/^[A-Za-z0-9.:%_-]+$/.test(host)) throw new UsageError(`--host: '${shownHost(raw)}' is not a host name or address`);
    let p = defaultPort;
    if (port !== undefined) {
      if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new UsageError(`--host: '${shownHost(raw)}' has a bad port '${port}'`);
      p = Number(port);
    }
    out.push({ host, port: p });
  }
  if (!out.length) throw new UsageError('--host: no host given');
  return out;
}

/** host:port, with brackets around IPv6 so it can go into a URL. */
export function formatHost(h: HostPort): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}

/**
 * SHA-256 fingerprints as people paste them: any case, with or without colons (or spaces),
 * optionally prefixed `sha256:`/`SHA256 Fingerprint=`. Returns uppercase colon hex.
 */
export function normalizeFingerprint(text: string): string {
  const s = String(text).trim().replace(/^(sha-?256)(\s*fingerprint)?\s*[:=]?\s*/i, '');
  const hexOnly = s.replace(/[:\s-]/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(hexOnly)) throw new UsageError(`--fingerprint: '${text}' is not a SHA-256 fingerprint (64 hex digits, colons optional)`);
  return hexOnly.toUpperCase().match(/../g)!.join(':');
}

export function parseFingerprints(text: string | string[] | undefined): string[] {
  if (text === undefined) return [];
  const all = (Array.isArray(text) ? text : [text]).flatMap((t) => String(t).split(','));
  return all.map((t) => t.trim()).filter(Boolean).map(normalizeFingerprint);
}
