// The ONTAP simulator's HTTPS server: REST under /api, ZAPI at its servlet path, and a
// small control API under /_sim for tests (state, faults, request counts). Basic auth
// guards all of it, as on a real cluster management LIF.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from '../../cli/args.ts';
import { UsageError } from '../../core/errors.ts';
import { fingerprintOf, selfSignedCertificate } from './cert.ts';
import { parseFaults, matchRule, type Faults } from './faults.ts';
import { handleRest, json, restError } from './rest.ts';
import { DEMO_SEED, type Seed } from './seed.ts';
import { OntapState } from './state.ts';
import { handleZapi, ZAPI_PATH } from './zapi.ts';
import { serveUntilSignal } from '../serve.ts';

export interface OntapSimOptions {
  /** HOST:PORT; default 127.0.0.1 and a port the OS picks */
  listen?: string;
  /** seed object or path of a seed JSON file; default the demo cluster */
  seed?: Seed | string;
  /** `user:password` pairs; default admin:netapp123 */
  users?: string[];
  faults?: string;
  timeScale?: number;
  /** PEM files of the certificate (leaf first, then its chain) and its key; default a fresh self-signed one */
  tlsCert?: string;
  tlsKey?: string;
}

export interface OntapSim {
  url: string;
  host: string;
  port: number;
  fingerprint: string;
  /** the certificate, for clients that trust it as a CA file */
  certPem: string;
  state: OntapState;
  close(): Promise<void>;
}

export const DEFAULT_USER = 'admin:netapp123';

function parseListen(listen: string | undefined): { host: string; port: number } {
  if (!listen) return { host: '127.0.0.1', port: 0 };
  const m = /^(?:\[([^\]]+)\]|([^:]+))?:?(\d+)?$/.exec(listen);
  if (!m) throw new UsageError(`--listen: '${listen}' is not HOST:PORT`);
  const port = m[3] === undefined ? 0 : Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen: port ${port} is out of range`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

function template(path: string): string {
  return path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}').replace(/\/files\/.*$/, '/files/{path}');
}

/** A certificate and key given as files, checked here so a bad file is one clear line. */
function certificateFiles(certFile: string | undefined, keyFile: string | undefined): { cert: string; key: string; fingerprint: string } {
  if (!certFile || !keyFile) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (opt: string, file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e: any) {
      throw new UsageError(`${opt}: cannot read ${file}: ${e?.code ?? e?.message}`);
    }
  };
  const cert = read('--tls-cert', certFile);
  const key = read('--tls-key', keyFile);
  let leaf: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(cert);
  } catch {
    throw new UsageError(`--tls-cert: ${certFile} holds no PEM certificate`);
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    throw new UsageError(`--tls-key: ${keyFile} holds no PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new UsageError(`--tls-key: ${keyFile} is not the key of the first certificate in ${certFile}`);
  return { cert, key, fingerprint: fingerprintOf(leaf.raw) };
}

/** `user:password` pairs as a map; default DEFAULT_USER. */
function parseUsers(list: string[] | undefined): Map<string, string> {
  const users = new Map<string, string>();
  for (const u of list?.length ? list : [DEFAULT_USER]) {
    const i = u.indexOf(':');
    if (i <= 0) throw new UsageError(`--user: '${u.replace(/:.*/, ':***')}' is not USER:PASSWORD`);
    users.set(u.slice(0, i), u.slice(i + 1));
  }
  return users;
}

/** What one running simulator keeps beside its state: users, faults in force, request counts. */
interface Front {
  state: OntapState;
  users: Map<string, string>;
  faults: Faults;
  stats: Map<string, number>;
}

function authorized(front: Front, req: Request): boolean {
  const h = req.headers.get('authorization') ?? '';
  const m = /^Basic\s+(\S+)$/i.exec(h);
  if (!m) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i > 0 && front.users.get(decoded.slice(0, i)) === decoded.slice(i + 1);
}

/** The control API under /_sim (state, request counts, clock, faults); undefined for any other path. */
async function control(front: Front, req: Request, url: URL, method: string): Promise<Response | undefined> {
  const { state } = front;
  if (url.pathname === '/_sim/state' && method === 'GET') return json(200, state.dump());
  if (url.pathname === '/_sim/stats' && method === 'GET') return json(200, Object.fromEntries(front.stats));
  if (url.pathname === '/_sim/clock' && method === 'POST') {
    let body: { advance?: unknown };
    try {
      body = (await req.json()) as { advance?: unknown };
    } catch {
      body = {};
    }
    const seconds = Number(body?.advance);
    if (body?.advance === undefined || body.advance === null || body.advance === '' || !Number.isFinite(seconds) || seconds < 0) {
      return restError(400, '2', "body needs 'advance' (seconds, >= 0)");
    }
    state.clock.advance(seconds);
    return json(200, { now: new Date(state.now()).toISOString() });
  }
  if (url.pathname === '/_sim/faults' && method === 'POST') {
    try {
      const body = (await req.json()) as { spec?: string };
      front.faults = parseFaults(body.spec ?? '');
      return json(200, { ok: true });
    } catch (e) {
      return restError(400, '2', (e as Error).message);
    }
  }
  return undefined;
}

async function handle(front: Front, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const method = req.method.toUpperCase();
  if (front.faults.latencyMs) await Bun.sleep(front.faults.latencyMs);
  if (!authorized(front, req)) {
    // ONTAP answers 401 to both REST and ZAPI; the REST body carries the error object
    return url.pathname.startsWith('/api') ? restError(401, '6691623', 'User is not authorized') : new Response('Unauthorized', { status: 401, headers: { 'www-authenticate': 'Basic realm="ONTAP"' } });
  }
  const key = `${method} ${template(url.pathname)}`;
  front.stats.set(key, (front.stats.get(key) ?? 0) + 1);
  const answer = await control(front, req, url, method);
  if (answer) return answer;
  const ctx = { state: front.state, faults: front.faults };
  if (url.pathname === ZAPI_PATH && method === 'POST') return handleZapi(ctx, req);
  const rule = matchRule(front.faults.fail, method, url.pathname);
  if (rule) return restError(rule.status, String(rule.status), rule.message ?? `injected failure of ${method} ${url.pathname}`);
  return handleRest(ctx, req, url);
}

export async function startOntapSim(opts: OntapSimOptions = {}): Promise<OntapSim> {
  const { host, port } = parseListen(opts.listen);
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale > 0)) throw new UsageError(`--time-scale: '${opts.timeScale}' must be a positive number`);
  const state = typeof opts.seed === 'string' ? OntapState.fromFile(opts.seed, { timeScale }) : new OntapState(opts.seed ?? DEMO_SEED, { timeScale });
  const front: Front = { state, faults: parseFaults(opts.faults), users: parseUsers(opts.users), stats: new Map() };
  const cert = opts.tlsCert || opts.tlsKey
    ? certificateFiles(opts.tlsCert, opts.tlsKey)
    : selfSignedCertificate('autosnap ontap-sim', host.includes(':') || !/^\d+\.\d+\.\d+\.\d+$/.test(host) ? ['127.0.0.1'] : [...new Set([host, '127.0.0.1'])]);

  const server = Bun.serve({
    hostname: host,
    port,
    tls: { key: cert.key, cert: cert.cert },
    fetch: async (req) => {
      try {
        return await handle(front, req);
      } catch (e) {
        return restError(500, '1', `internal simulator error: ${(e as Error).message}`);
      }
    },
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `https://${shownHost}:${server.port}`,
    host,
    port: server.port as number,
    fingerprint: cert.fingerprint,
    certPem: cert.cert,
    state,
    close: async () => {
      state.close();
      await server.stop(true);
    },
  };
}

const HELP = `usage: ontap-sim [--listen HOST:PORT] [--seed FILE] [--user USER:PASSWORD]... [--faults SPEC] [--time-scale X]
                 [--tls-cert FILE --tls-key FILE]
Simulated NetApp ONTAP cluster (REST under /api, ZAPI at ${ZAPI_PATH}) over HTTPS with a
self-signed certificate, or the given one (PEM: the leaf first, then its chain). Prints one
line when ready (the fingerprint is the leaf's):
  listening on https://HOST:PORT fingerprint <SHA-256>
Default user ${DEFAULT_USER.split(':')[0]} (password in docs/ontap-snapshot.md). Serves until SIGINT/SIGTERM.`;

export async function simMain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { string: ['listen', 'seed', 'user', 'faults', 'time-scale', 'tls-cert', 'tls-key'], boolean: ['help'], multi: ['user'] }, { global: false });
  if (args.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
  let timeScale = 1;
  if (args['time-scale'] !== undefined) {
    timeScale = Number(args['time-scale']);
    if (!(timeScale > 0)) throw new UsageError(`--time-scale: '${args['time-scale']}' is not a positive number`);
  }
  let sim: OntapSim;
  try {
    sim = await startOntapSim({ listen: args.listen, seed: args.seed, users: args.user, faults: args.faults, timeScale, tlsCert: args['tls-cert'], tlsKey: args['tls-key'] });
  } catch (e: any) {
    if (e instanceof UsageError) throw e;
    if (e?.code === 'ENOENT') throw new UsageError(`--seed: cannot read ${args.seed}`);
    if (e instanceof SyntaxError) throw new UsageError(`--seed: ${args.seed} is not valid JSON: ${e.message}`);
    throw e;
  }
  return serveUntilSignal(sim);
}
