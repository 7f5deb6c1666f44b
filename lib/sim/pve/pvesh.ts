// A stand-in for the on-node `pvesh` CLI that talks to the simulator instead of the local
// PVE API, so the pvesh transport of the tools can be tested off a node. It behaves like
// the real pvesh where tools can notice: argument forms, output formats, task calls run
// synchronously (log to stdout, error to stderr, then the UPID, exit 0 even on failure),
// error texts and exit codes. Environment: PVESH_SIM_URL, PVESH_SIM_FINGERPRINT,
// PVESH_SIM_TOKEN (a full-privilege token of the simulator).
import tls from 'node:tls';
import { apiSchema } from './schema.ts';
import { parseUpid } from './upid.ts';

const VERBS: Record<string, string> = { get: 'GET', create: 'POST', set: 'PUT', delete: 'DELETE' };
const FORMATS = ['json', 'json-pretty', 'text', 'yaml'];

export interface PveshIo {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
}

const defaultIo: PveshIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
};

export interface PveshCommand {
  verb: string;
  path: string;
  params: Record<string, string>;
  format: string;
}

export class PveshUsage extends Error {}

/** Parse `VERB PATH [--k v | --k=v]... [--output-format F]` the way pvesh's getopt does. */
export function parsePveshArgs(argv: string[]): PveshCommand {
  const [verb, rawPath, ...rest] = argv;
  if (!verb) throw new PveshUsage('ERROR: no command specified');
  if (!(verb in VERBS)) throw new PveshUsage(`ERROR: unknown command 'pvesh ${verb}'`);
  if (!rawPath) throw new PveshUsage(`400 not enough arguments\npvesh ${verb} <api_path> [OPTIONS] [FORMAT_OPTIONS]`);
  const path = '/' + rawPath.replace(/^\/+/, '').replace(/\/+$/, '');
  const info = apiSchema().match(path)?.info[VERBS[verb]];
  const props = info?.parameters?.properties ?? {};
  const params: Record<string, string> = {};
  let format = 'text';
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new PveshUsage(`400 too many arguments\npvesh ${verb} <api_path> [OPTIONS] [FORMAT_OPTIONS]`);
    const name = m[1];
    let value = m[2];
    if (value === undefined) {
      const next = rest[i + 1];
      const isBool = props[name]?.type === 'boolean' || name === 'human-readable' || name === 'noborder' || name === 'noheader' || name === 'quiet';
      // a boolean option may stand alone (`--force`); everything else takes the next word
      if (isBool && (next === undefined || !/^(0|1|true|false|yes|no|on|off)$/i.test(next))) value = '1';
      else if (next === undefined) throw new PveshUsage(`400 Parameter verification failed.\n${name}: option requires an argument`);
      else {
        value = next;
        i++;
      }
    }
    if (name === 'output-format') {
      if (!FORMATS.includes(value)) throw new PveshUsage(`400 Parameter verification failed.\noutput-format: value '${value}' does not have a value in the enumeration '${FORMATS.join(', ')}'`);
      format = value;
    } else if (['human-readable', 'noborder', 'noheader', 'quiet', 'noproxy'].includes(name)) {
      // format and proxy options of the real pvesh; accepted, no effect here
    } else params[name] = value;
  }
  return { verb, path, params, format };
}

// ---------------------------------------------------------------------------------------
// output, as PVE::CLIFormatter prints it

/** Perl JSON with canonical (sorted keys); pretty uses 3 spaces and " : " */
export function perlJson(data: unknown, pretty: boolean, indent = ''): string {
  if (data === null || data === undefined) return 'null';
  if (Array.isArray(data)) {
    if (!pretty) return `[${data.map((d) => perlJson(d, false)).join(',')}]`;
    if (!data.length) return '[]';
    const inner = indent + '   ';
    return `[\n${data.map((d) => inner + perlJson(d, true, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof data === 'object') {
    const keys = Object.keys(data as object).sort();
    const obj = data as Record<string, unknown>;
    if (!pretty) return `{${keys.map((k) => `${JSON.stringify(k)}:${perlJson(obj[k], false)}`).join(',')}}`;
    if (!keys.length) return '{}';
    const inner = indent + '   ';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)} : ${perlJson(obj[k], true, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(data);
}

function yaml(data: unknown, indent = ''): string {
  if (data === null || data === undefined) return '~\n';
  if (typeof data !== 'object') return `${typeof data === 'string' ? yamlScalar(data) : String(data)}\n`;
  if (Array.isArray(data)) {
    if (!data.length) return '[]\n';
    return data.map((d) => `${indent}- ${typeof d === 'object' && d ? yaml(d, indent + '  ').trimStart() : yaml(d)}`).join('');
  }
  const keys = Object.keys(data as object).sort();
  if (!keys.length) return '{}\n';
  return keys.map((k) => {
    const v = (data as Record<string, unknown>)[k];
    const pre = indent;
    if (v && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length)) return `${pre}${k}:\n${yaml(v, indent + '  ')}`;
    return `${pre}${k}: ${yaml(v)}`;
  }).join('');
}

function yamlScalar(s: string): string {
  return /^[\w./@:+-][\w ./@:+-]*$/.test(s) && !/^(true|false|null|~|yes|no|\d[\d.]*)$/i.test(s) && !/:\s|\s$/.test(s) ? s : JSON.stringify(s);
}

function text(data: unknown): string {
  if (data === null || data === undefined) return '';
  if (typeof data !== 'object') return `${data}\n`;
  const rows: Record<string, unknown>[] = Array.isArray(data)
    ? data.map((d) => (d && typeof d === 'object' ? (d as Record<string, unknown>) : { value: d }))
    : Object.keys(data as object).sort().map((k) => ({ key: k, value: (data as Record<string, unknown>)[k] }));
  if (!rows.length) return '';
  const cols = Array.isArray(data) ? [...new Set(rows.flatMap((r) => Object.keys(r)))].sort() : ['key', 'value'];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (l: string, m: string, r: string, f: string) => l + width.map((w) => f.repeat(w + 2)).join(m) + r + '\n';
  const row = (vals: string[]) => '│' + vals.map((v, i) => ` ${v.padEnd(width[i])} `).join('│') + '│\n';
  return line('┌', '┬', '┐', '─') + row(cols) + line('╞', '╪', '╡', '═') + rows.map((r) => row(cols.map((c) => cell(r[c])))).join('') + line('└', '┴', '┘', '─');
}

export function formatResult(data: unknown, format: string): string {
  switch (format) {
    case 'json':
      return perlJson(data, false) + '\n';
    case 'json-pretty':
      return perlJson(data, true) + '\n';
    case 'yaml':
      return '---\n' + yaml(data);
    default:
      return text(data);
  }
}

// ---------------------------------------------------------------------------------------

async function pinnedCa(url: URL, fingerprint: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), rejectUnauthorized: false, servername: 'localhost' }, () => {
      const c = s.getPeerCertificate();
      s.end();
      if (!c?.raw || c.fingerprint256?.toUpperCase() !== fingerprint.toUpperCase()) {
        reject(new Error(`certificate fingerprint mismatch: expected ${fingerprint}, got ${c?.fingerprint256}`));
        return;
      }
      resolve(`-----BEGIN CERTIFICATE-----\n${c.raw.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`);
    });
    s.on('error', reject);
  });
}

interface Answer {
  status: number;
  body: any;
}

export async function pveshMain(argv: string[], io: PveshIo = defaultIo): Promise<number> {
  let cmd: PveshCommand;
  try {
    cmd = parsePveshArgs(argv);
  } catch (e) {
    if (e instanceof PveshUsage) {
      io.err(e.message + '\n');
      return 255;
    }
    throw e;
  }
  const base = io.env.PVESH_SIM_URL;
  const token = io.env.PVESH_SIM_TOKEN;
  if (!base || !token) {
    io.err('ERROR: PVESH_SIM_URL and PVESH_SIM_TOKEN must be set (this pvesh talks to the autosnap simulator)\n');
    return 255;
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    io.err(`ERROR: PVESH_SIM_URL '${base}' is not a URL\n`);
    return 255;
  }
  const fp = io.env.PVESH_SIM_FINGERPRINT;
  let ca: string | undefined;
  if (url.protocol === 'https:' && fp) {
    try {
      ca = await pinnedCa(url, fp);
    } catch (e: any) {
      io.err(`ERROR: ${e.message}\n`);
      return 255;
    }
  }
  const call = async (method: string, p: string, params: Record<string, string> = {}): Promise<Answer> => {
    const qs = new URLSearchParams(params).toString();
    const inQuery = method === 'GET' || method === 'DELETE';
    const r = await fetch(`${url.origin}/api2/json${p.split('/').map((s) => encodeURIComponent(s)).join('/')}${inQuery && qs ? `?${qs}` : ''}`, {
      method,
      headers: {
        Authorization: `PVEAPIToken=${token}`,
        // pvesh runs as root@pam: the simulator then books tasks to root@pam, as on a node
        'X-Sim-Pvesh': '1',
        ...(inQuery ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' }),
      },
      body: inQuery ? undefined : qs,
      tls: ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false },
    } as RequestInit);
    const body: any = await r.json().catch(() => null);
    return { status: r.status, body: body ?? { data: null, message: r.statusText } };
  };

  let ans: Answer;
  try {
    ans = await call(VERBS[cmd.verb], cmd.path, cmd.params);
  } catch (e: any) {
    io.err(`ERROR: ${e.message}\n`);
    return 255;
  }
  if (ans.status === 501) {
    io.err(`No '${cmd.verb}' handler defined for '${cmd.path}'\n`);
    return 1;
  }
  if (ans.status === 400 && ans.body?.errors) {
    const lines = Object.entries(ans.body.errors as Record<string, string>).map(([k, v]) => `${k}: ${v}`);
    io.err(`400 Parameter verification failed.\n${lines.join('\n')}\n`);
    return 255;
  }
  if (ans.status !== 200) {
    const msg = String(ans.body?.message ?? `HTTP ${ans.status}`).trim();
    io.err(`${msg}\n`);
    return 255;
  }
  const data = ans.body.data;
  const upid = typeof data === 'string' ? parseUpid(data) : undefined;
  if (upid && VERBS[cmd.verb] !== 'GET') {
    // like a CLI worker: run to the end, showing the log as it grows
    let shown = 0;
    let status: any;
    for (;;) {
      status = (await call('GET', `/nodes/${upid.node}/tasks/${data}/status`)).body?.data;
      const log = (await call('GET', `/nodes/${upid.node}/tasks/${data}/log`, { start: String(shown), limit: '100000' })).body;
      const lines = (log?.data ?? []) as { n: number; t: string }[];
      // an empty log reads as one line 'no content'
      const placeholder = log?.total === 1 && lines.length === 1 && lines[0].t === 'no content';
      if (!placeholder) {
        for (const l of lines) {
          if (l.n <= shown) continue;
          shown = l.n;
          if (!/^TASK (OK$|ERROR: |WARNINGS: )/.test(l.t)) io.out(l.t + '\n');
        }
      }
      if (!status || status.status === 'stopped') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const exit = String(status?.exitstatus ?? '');
    if (exit && exit !== 'OK' && !exit.startsWith('WARNINGS')) io.err(exit + '\n');
    io.out(cmd.format === 'json' || cmd.format === 'json-pretty' ? JSON.stringify(data) + '\n' : data + '\n');
    return 0;
  }
  io.out(formatResult(data, cmd.format));
  return 0;
}
