// HTTP plumbing of the simulator's front, with nothing Proxmox-specific beyond the
// envelope: reading and decoding a request body, reading a cookie, and writing the
// response as pveproxy does ({data} or {data:null, message, errors?}, reason phrase =
// first line of the message).
import http from 'node:http';
import { PveError } from './errors.ts';

const MAX_BODY = 1 << 20;

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new PveError(413, 'Request Entity Too Large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** form-encoded or JSON body -> params; a repeated form key becomes an array */
export function parseBody(text: string, contentType: string | undefined): Record<string, unknown> {
  if (!text) return {};
  if (/application\/json/i.test(contentType ?? '')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new PveError(400, 'malformed JSON string');
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new PveError(400, 'malformed JSON: expected an object');
    const out: Record<string, unknown> = {};
    // PVE turns JSON booleans into 0/1 before validation
    for (const [k, v] of Object.entries(doc)) out[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    return out;
  }
  return searchParams(new URLSearchParams(text));
}

export function searchParams(sp: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of sp) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      const v = part.slice(i + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}

export const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function send(res: http.ServerResponse, status: number, body: unknown, reason?: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  // a reason phrase must be one line of visible ASCII
  const phrase = (reason ?? http.STATUS_CODES[status] ?? 'Error').replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
  res.writeHead(status, phrase, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'max-age=0', Pragma: 'no-cache', ...headers });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  const e = err instanceof PveError ? err : new PveError(500, String((err as any)?.message ?? err));
  const body: Record<string, unknown> = { data: null, message: e.message };
  if (e.errors) body.errors = e.errors;
  send(res, e.status, body, e.message.split('\n')[0]);
}
