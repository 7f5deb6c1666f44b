// The simulator's start options and their checks: where to listen, the simulated clock,
// and the certificate to serve (the user's PEM files or a self-signed one made at start).
import fs from 'node:fs';
import os from 'node:os';
import { fingerprintOf, pemToDer, selfSigned } from './cert.ts';
import type { Seed } from './seed.ts';

export interface PveSimOptions {
  /** HOST:PORT, [V6]:PORT or HOST (port 0 = any free port) */
  listen?: string;
  host?: string;
  port?: number;
  /** a seed object or the path of a seed JSON file; default the demo cluster */
  seed?: Seed | string;
  /** USER@REALM!TOKENID=SECRET, each with full privileges */
  tokens?: string[];
  http?: boolean;
  timeScale?: number;
  faults?: string;
  /** simulated "now" at start (ISO-8601) */
  clock?: string | Date;
  /** PEM files of a certificate (chain) and key to serve instead of a generated one */
  tlsCert?: string;
  tlsKey?: string;
}

export class SimOptionError extends Error {}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(listen) ?? /^([^:]+)(?::(\d+))?$/.exec(listen);
  if (!m) throw new SimOptionError(`--listen '${listen}' is not HOST:PORT`);
  const port = m[2] === undefined ? 8006 : Number(m[2]);
  if (port > 65535) throw new SimOptionError(`--listen '${listen}': port out of range`);
  return { host: m[1], port };
}

export function parseClock(value: string | Date): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (typeof value === 'string' && !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value.trim())) {
    throw new SimOptionError(`--clock '${value}' is not an ISO-8601 date/time`);
  }
  if (Number.isNaN(d.getTime())) throw new SimOptionError(`--clock '${value}' is not a valid date/time`);
  return d;
}

export interface Tls {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, colon hex; '' with --http */
  fingerprint: string;
}

/**
 * The certificate and key to serve: the --tls-cert/--tls-key files, or a self-signed
 * certificate for every name the simulator may be reached by (like a fresh PVE node's
 * pve-ssl.pem); none with --http.
 */
export function loadTls(opts: PveSimOptions, host: string, nodeNames: Iterable<string>): Tls {
  if (opts.http) return { cert: '', key: '', fingerprint: '' };
  if (opts.tlsCert || opts.tlsKey) {
    if (!opts.tlsCert || !opts.tlsKey) throw new SimOptionError('--tls-cert and --tls-key go together');
    let cert: string;
    let key: string;
    try {
      cert = fs.readFileSync(opts.tlsCert, 'utf8');
      key = fs.readFileSync(opts.tlsKey, 'utf8');
    } catch (e: any) {
      throw new SimOptionError(`cannot read ${e.path ?? 'TLS file'}: ${e.code ?? e.message}`);
    }
    try {
      return { cert, key, fingerprint: fingerprintOf(pemToDer(cert)) };
    } catch {
      throw new SimOptionError(`--tls-cert ${opts.tlsCert}: no PEM certificate in it`);
    }
  }
  const names = ['localhost', '127.0.0.1', '::1', host, os.hostname(), ...nodeNames].filter((n) => n && n !== '0.0.0.0' && n !== '::');
  const made = selfSigned(names, new Date());
  return { cert: made.certPem, key: made.keyPem, fingerprint: made.fingerprint };
}
