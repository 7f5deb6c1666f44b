// The Proxmox error family. An API error knows the call that failed and what PVE said;
// a task error knows the task. Both print as one line that a person can act on.
import { AppError, ConnectionError, EXIT } from '../../core/errors.ts';
import { redact } from '../../core/log.ts';
import { NetworkError } from '../../core/net-errors.ts';
import type { Method } from './types.ts';

export class PveApiError extends AppError {
  readonly status: number;
  readonly method: Method;
  readonly path: string;
  readonly pveMessage: string;
  readonly errors?: Record<string, string>;
  constructor(init: { status: number; method: Method; path: string; pveMessage: string; errors?: Record<string, string> }) {
    super(redact(apiErrorLine(init)), init.status === 401 ? EXIT.UNREACHABLE : EXIT.FAILED);
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.pveMessage = init.pveMessage;
    if (init.errors && Object.keys(init.errors).length) this.errors = init.errors;
  }
}

/** A task ran and did not end with OK or WARNINGS. */
export class TaskError extends AppError {
  readonly upid: string;
  readonly exitstatus: string;
  readonly logTail: string[];
  constructor(upid: string, exitstatus: string, logTail: string[] = [], message?: string) {
    super(redact(message ?? `task ${upid} failed: ${exitstatus}`));
    this.upid = upid;
    this.exitstatus = exitstatus;
    this.logTail = logTail;
  }
}

/** Authentication refused: exit 3, naming the user or token id but never its secret. */
export class AuthError extends ConnectionError {
  readonly principal: string;
  constructor(principal: string, detail?: string) {
    super(redact(`authentication failed for ${principal}${detail ? ` (${detail})` : ''}`));
    this.principal = principal;
  }
}


/** Did a write fail in a way that leaves open whether it happened? */
export function isAmbiguous(err: unknown): boolean {
  if (err instanceof NetworkError) return err.sent;
  if (err instanceof PveApiError) return [596, 597, 599, 502].includes(err.status);
  return false;
}

/** PVE's `Permission check failed (/vms/100, VM.Snapshot)` → path and privilege. */
export function parsePermissionMessage(msg: string): { path: string; privilege: string } | undefined {
  const m = /Permission check failed \(([^,()]+),\s*([^()]+)\)/.exec(msg);
  if (!m) return undefined;
  return { path: m[1].trim(), privilege: m[2].trim() };
}

function apiErrorLine(e: { status: number; method: Method; path: string; pveMessage: string; errors?: Record<string, string> }): string {
  if (e.status === 403) {
    const p = parsePermissionMessage(e.pveMessage);
    // PVE sometimes names several privileges ("VM.Snapshot|VM.Snapshot.Rollback"): keep the text
    if (p) return `missing privilege ${p.privilege.replace(/\s*\|\s*/g, ' or ')} on ${p.path}`;
  }
  let line = `${e.method} ${e.path}: ${e.status} ${oneLine(e.pveMessage)}`.trimEnd();
  if (e.errors && Object.keys(e.errors).length) {
    line += ' (' + Object.entries(e.errors).map(([k, v]) => `${k}: ${oneLine(v)}`).join('; ') + ')';
  }
  return line;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The PVE message of an error answer: the JSON body's `message` (libpve-http-server-perl
 * 5.2.0 and later), else the HTTP reason phrase, which older servers use alone.
 */
export function pveMessageOf(body: unknown, reason: string | undefined, status: number): string {
  if (body && typeof body === 'object') {
    const m = (body as { message?: unknown }).message;
    if (typeof m === 'string' && m.trim()) return m.trim();
  }
  if (reason && reason.trim()) return reason.trim();
  return `HTTP ${status}`;
}

/** `errors` of a 400 answer, values made strings (PVE nests them as strings already). */
export function paramErrorsOf(body: unknown): Record<string, string> | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const e = (body as { errors?: unknown }).errors;
  if (!e || typeof e !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e as Record<string, unknown>)) out[k] = typeof v === 'string' ? v.trim() : JSON.stringify(v);
  return Object.keys(out).length ? out : undefined;
}

/**
 * pvesh reports errors on stderr as text. Map them to the API error the same call would
 * give over HTTPS, so tools handle both transports alike.
 */
export function pveshErrorFrom(method: Method, path: string, stderr: string, exitCode: number): PveApiError {
  const text = stderr.replace(/\r/g, '').trim();
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (/No '\w+' handler defined for/.test(text)) {
    return new PveApiError({ status: 501, method, path, pveMessage: lines.find((l) => /handler defined/.test(l)) ?? text });
  }
  const pv = lines.findIndex((l) => /^400 Parameter verification failed\.?/.test(l));
  if (pv >= 0) {
    const errors: Record<string, string> = {};
    for (const l of lines.slice(pv + 1)) {
      const m = /^([A-Za-z][\w.-]*)\s*:\s*(.+)$/.exec(l);
      if (m) errors[m[1]] = m[2].trim();
    }
    return new PveApiError({ status: 400, method, path, pveMessage: 'Parameter verification failed.', errors });
  }
  // pvesh prefixes some errors with the HTTP-like status ("403 Permission check failed ...")
  const st = /^(\d{3})\s+(.*)$/.exec(lines[0] ?? '');
  if (st) return new PveApiError({ status: Number(st[1]), method, path, pveMessage: [st[2], ...lines.slice(1)].join(' ') });
  const msg = lines.join(' ') || `pvesh exited with code ${exitCode}`;
  return new PveApiError({ status: /Permission check failed/.test(msg) ? 403 : 500, method, path, pveMessage: msg });
}
