// A stand-in for the on-node `pvesh` CLI that talks to the simulator instead of the local
// PVE API, so the pvesh transport of the tools can be tested off a node. It behaves like
// the real pvesh where tools can notice: argument forms, output formats, task calls run
// synchronously (log to stdout, error to stderr, then the UPID, exit 0 even on failure),
// error texts and exit codes. Environment: PVESH_SIM_URL, PVESH_SIM_FINGERPRINT,
// PVESH_SIM_TOKEN (a full-privilege token of the simulator).
import tls from 'node:tls';
import { apiSchema, type MethodInfo, type ParamSchema } from './schema.ts';
import { parseUpid } from './upid.ts';

const VERBS: Record<string, string> = { get: 'GET', create: 'POST', set: 'PUT', delete: 'DELETE' };
// pvesh's other commands (proxmox/pve-manager PVE/CLI/pvesh.pm, $cmddef)
const OTHER = ['ls', 'usage'];
// the standard output options (pve-common PVE/RESTHandler.pm, $standard_output_options)
// and pvesh's noproxy: booleans that may stand alone
const STD_BOOLS = ['human-readable', 'noborder', 'noheader', 'quiet', 'noproxy'];
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
  /** --quiet, or the leading --nooutput: no result printed (a task's log still is) */
  quiet: boolean;
}

const isRequired = (p: ParamSchema) => !p.optional;

/**
 * The one-line usage pvesh appends to a parameter error (pve-common PVE/RESTHandler.pm,
 * getopt_usage 'short' via cli_handler; PVE/Exception.pm stringify adds it after the
 * error lines): `pvesh VERB <api_path>`, then each required option that is not part of
 * the path, `--name <type>` in name order, then [OPTIONS] (pvesh always has --noproxy)
 * and [FORMAT_OPTIONS].
 */
export function usageLine(verb: string, path: string): string {
  const m = apiSchema().match(path);
  const info = m?.info[VERBS[verb]];
  const props = info?.parameters?.properties ?? {};
  const req = Object.keys(props)
    .filter((k) => !(k in (m?.params ?? {})) && isRequired(props[k]))
    .sort()
    .map((k) => ` --${k} <${props[k].type ?? 'string'}>`)
    .join('');
  return `pvesh ${verb} <api_path>${req} [OPTIONS] [FORMAT_OPTIONS]`;
}

class PveshUsage extends Error {}

/** Parse `VERB PATH [--k v | --k=v]... [--output-format F]` the way pvesh's getopt does. */
export function parsePveshArgs(argv: string[]): PveshCommand {
  // pvesh.pm's compatibility code: --noproxy and --nooutput before the command
  let quiet = false;
  let args = argv;
  while (args[0] === '--noproxy' || args[0] === '--nooutput') {
    if (args[0] === '--nooutput') quiet = true;
    args = args.slice(1);
  }
  const [verb, rawPath, ...rest] = args;
  if (!verb) throw new PveshUsage('ERROR: no command specified');
  if (!(verb in VERBS) && !OTHER.includes(verb)) throw new PveshUsage(`ERROR: unknown command 'pvesh ${verb}'`);
  const shape = verb === 'usage' ? '[OPTIONS]' : '[OPTIONS] [FORMAT_OPTIONS]';
  if (!rawPath) throw new PveshUsage(`400 not enough arguments\npvesh ${verb} <api_path> ${shape}`);
  const path = '/' + rawPath.replace(/^\/+/, '').replace(/\/+$/, '');
  const info = verb in VERBS ? apiSchema().match(path)?.info[VERBS[verb]] : undefined;
  const props: Record<string, ParamSchema> = verb === 'usage' ? { verbose: { type: 'boolean' }, returns: { type: 'boolean' }, command: { type: 'string' } } : info?.parameters?.properties ?? {};
  const params: Record<string, string> = {};
  let format = 'text';
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(a);
    if (!m) throw new PveshUsage(`400 too many arguments\npvesh ${verb} <api_path> ${shape}`);
    const name = m[1];
    let value = m[2];
    if (value === undefined) {
      const next = rest[i + 1];
      const isBool = props[name]?.type === 'boolean' || (verb !== 'usage' && STD_BOOLS.includes(name));
      // a boolean option may stand alone (`--force`); everything else takes the next word
      if (isBool && (next === undefined || !/^(0|1|true|false|yes|no|on|off)$/i.test(next))) value = '1';
      else if (next === undefined) throw new PveshUsage(`400 Parameter verification failed.\n${name}: option requires an argument\n${verb in VERBS ? usageLine(verb, path) : `pvesh ${verb} <api_path> ${shape}`}`);
      else {
        value = next;
        i++;
      }
    }
    if (name === 'output-format' && verb !== 'usage') {
      if (!FORMATS.includes(value)) throw new PveshUsage(`400 Parameter verification failed.\noutput-format: value '${value}' does not have a value in the enumeration '${FORMATS.join(', ')}'`);
      format = value;
    } else if (name === 'quiet' && verb !== 'usage') {
      quiet = /^(1|true|yes|on)$/i.test(value);
    } else if (STD_BOOLS.includes(name) && verb !== 'usage') {
      // format and proxy options of the real pvesh; accepted, no effect here
    } else params[name] = value;
  }
  return { verb, path, params, format, quiet };
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

type Call = (method: string, p: string, params?: Record<string, string>) => Promise<Answer>;

/**
 * The simulator this pvesh talks to, from PVESH_SIM_URL, PVESH_SIM_TOKEN and (for a
 * pinned certificate) PVESH_SIM_FINGERPRINT: a function making one API call as
 * root@pam, or the exit code after the error line.
 */
async function connectSim(io: PveshIo): Promise<Call | number> {
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
  return async (method, p, params = {}) => {
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
  const call = await connectSim(io);
  if (typeof call === 'number') return call;

  if (cmd.verb === 'usage') return usageCommand(cmd, io);
  let ans: Answer;
  try {
    if (cmd.verb === 'ls') return await lsCommand(cmd, io, call);
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
    io.err(`400 Parameter verification failed.\n${lines.join('\n')}\n${usageLine(cmd.verb, cmd.path)}\n`);
    return 255;
  }
  if (ans.status !== 200) {
    const msg = String(ans.body?.message ?? `HTTP ${ans.status}`).trim();
    io.err(`${msg}\n`);
    return 255;
  }
  const data = ans.body.data;
  const upid = typeof data === 'string' ? parseUpid(data) : undefined;
  if (upid && VERBS[cmd.verb] !== 'GET') return followTask(cmd, data, upid.node, call, io);
  if (!cmd.quiet) io.out(formatResult(data, cmd.format));
  return 0;
}

/** Like a CLI worker: the task started by `cmd` runs to its end, its log shown as it grows. */
async function followTask(cmd: PveshCommand, upid: string, node: string, call: Call, io: PveshIo): Promise<number> {
  let shown = 0;
  let status: any;
  for (;;) {
    status = (await call('GET', `/nodes/${node}/tasks/${upid}/status`)).body?.data;
    const log = (await call('GET', `/nodes/${node}/tasks/${upid}/log`, { start: String(shown), limit: '100000' })).body;
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
  if (!cmd.quiet) io.out(cmd.format === 'json' || cmd.format === 'json-pretty' ? JSON.stringify(upid) + '\n' : upid + '\n');
  return 0;
}

/**
 * `pvesh usage PATH [--command C] [--returns]`: one `USAGE:` line per command the path
 * has (pvesh.pm 'usage': getopt_usage 'short' of the API method itself, so no
 * [FORMAT_OPTIONS], and `pvesh CMD PATH ` keeps its blank when nothing is required).
 * `--verbose` prints the same short form here.
 */
function usageCommand(cmd: PveshCommand, io: PveshIo): number {
  const m = apiSchema().match(cmd.path);
  const wanted = cmd.params.command;
  if (wanted !== undefined && !(wanted in VERBS)) {
    io.err(`400 Parameter verification failed.\ncommand: value '${wanted}' does not have a value in the enumeration '${Object.keys(VERBS).join(', ')}'\npvesh usage <api_path> [OPTIONS]\n`);
    return 255;
  }
  let found = false;
  for (const verb of ['get', 'set', 'create', 'delete']) {
    if (wanted && verb !== wanted) continue;
    const info = m?.info[VERBS[verb]];
    if (!info) continue;
    found = true;
    const props = info.parameters?.properties ?? {};
    const own = Object.keys(props).filter((k) => !(k in m!.params));
    const req = own.filter((k) => isRequired(props[k])).sort().map((k) => `--${k} <${props[k].type ?? 'string'}>`);
    const hasOptions = own.some((k) => !isRequired(props[k]));
    io.out(`USAGE: pvesh ${verb} ${cmd.path} ${req.join(' ')}${hasOptions ? ' [OPTIONS]' : ''}\n`);
    if (/^(1|true|yes|on)$/i.test(cmd.params.returns ?? '')) io.out(`RETURNS: ${perlJson(info.returns ?? {}, true)}\n`);
  }
  if (!found) {
    io.err(wanted ? `no '${wanted}' handler for '${cmd.path}'\n` : `no such resource '${cmd.path}'\n`);
    return 255;
  }
  return 0;
}

/**
 * `pvesh ls PATH`: the children of PATH (its GET answer through the method's child link),
 * each with its capabilities `Dr`/`-r`/`--` + `w` `c` `d` for the methods it has,
 * sorted by name, printed without border and header (pvesh.pm 'ls', resource_cap).
 */
async function lsCommand(cmd: PveshCommand, io: PveshIo, call: Call): Promise<number> {
  const schema = apiSchema();
  const info = schema.match(cmd.path)?.info.GET as (MethodInfo & { returns?: { links?: { rel: string; href: string }[] } }) | undefined;
  if (!info) {
    io.err(`no such resource '${cmd.path}'\n`);
    return 255;
  }
  const link = info.returns?.links?.find((l) => l.rel === 'child');
  if (!link) {
    io.err(`resource '${cmd.path}' does not define child links\n`);
    return 255;
  }
  const ans = await call('GET', cmd.path, cmd.params);
  if (ans.status !== 200) {
    io.err(`${String(ans.body?.message ?? `HTTP ${ans.status}`).trim()}\n`);
    return 255;
  }
  const prop = /^\{(\S+)\}$/.exec(link.href)?.[1];
  const names = prop ? ((ans.body.data ?? []) as Record<string, unknown>[]).filter((e) => e && typeof e === 'object').map((e) => String(e[prop])).sort() : [];
  const base = cmd.path === '/' ? '' : cmd.path;
  const rows = names.map((name) => {
    const m = schema.match(`${base}/${name}`)?.info ?? {};
    const get = m.GET as (MethodInfo & { returns?: { links?: unknown[] } }) | undefined;
    const cap = (get ? (get.returns?.links?.length ? 'Dr' : '-r') : '--') + (m.PUT ? 'w' : '-') + (m.POST ? 'c' : '-') + (m.DELETE ? 'd' : '-');
    return { capabilities: cap, name };
  });
  if (cmd.quiet) return 0;
  if (cmd.format !== 'text') io.out(formatResult(rows, cmd.format));
  else {
    // CLIFormatter without border and header: columns padded to the wider of title and values
    const w = Math.max('capabilities'.length, ...rows.map((r) => r.capabilities.length));
    io.out(rows.map((r) => `${r.capabilities.padEnd(w)} ${r.name}\n`).join(''));
  }
  return 0;
}
