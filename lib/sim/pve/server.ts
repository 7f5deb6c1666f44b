// The HTTP(S) front of the simulator: what pveproxy does before a handler runs (faults,
// schema lookup, authentication, permission check, parameter validation) and the
// response envelope ({data} or {data:null, message, errors?}, reason phrase = first line).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { AuthDb, evalCheck, type Principal } from './auth.ts';
import { fingerprintOf, pemToDer, selfSigned } from './cert.ts';
import { PveError, notImplemented, paramError } from './errors.ts';
import { FaultSpecError, defaultMessage, emptyFaults, matchFail, parseFaults, type Faults } from './faults.ts';
import { PveModel } from './model.ts';
import { ROUTES, type Ctx } from './routes.ts';
import { apiSchema, validateParams, type MethodInfo } from './schema.ts';
import { checkSeed, demoSeed, readSeedFile, type Seed } from './seed.ts';

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

export interface PveSim {
  /** https://HOST:PORT (no /api2/json) */
  url: string;
  host: string;
  port: number;
  /** SHA-256 of the served certificate, colon hex; '' with --http */
  fingerprint: string;
  model: PveModel;
  close(): Promise<void>;
}

export class SimOptionError extends Error {}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(listen) ?? /^([^:]+)(?::(\d+))?$/.exec(listen);
  if (!m) throw new SimOptionError(`--listen '${listen}' is not HOST:PORT`);
  const port = m[2] === undefined ? 8006 : Number(m[2]);
  if (port > 65535) throw new SimOptionError(`--listen '${listen}': port out of range`);
  return { host: m[1], port };
}

function parseClock(value: string | Date): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (typeof value === 'string' && !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value.trim())) {
    throw new SimOptionError(`--clock '${value}' is not an ISO-8601 date/time`);
  }
  if (Number.isNaN(d.getTime())) throw new SimOptionError(`--clock '${value}' is not a valid date/time`);
  return d;
}

const MAX_BODY = 1 << 20;
/** requests kept in the log of /_sim/stats (a benchmark run sends a few thousand) */
const REQUEST_LOG_MAX = 200_000;

function readBody(req: http.IncomingMessage): Promise<string> {
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
function parseBody(text: string, contentType: string | undefined): Record<string, unknown> {
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

function searchParams(sp: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of sp) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function cookie(header: string | undefined, name: string): string | undefined {
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

export async function startPveSim(opts: PveSimOptions = {}): Promise<PveSim> {
  const { host, port } = opts.listen ? parseListen(opts.listen) : { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 };
  let seed: Seed;
  if (typeof opts.seed === 'string') seed = readSeedFile(opts.seed);
  else if (opts.seed) {
    checkSeed(opts.seed);
    seed = structuredClone(opts.seed);
  } else seed = demoSeed();
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale >= 0) || !Number.isFinite(timeScale)) throw new SimOptionError(`--time-scale '${opts.timeScale}' must be a number >= 0`);
  const model = new PveModel(seed, { timeScale, clock: opts.clock ? parseClock(opts.clock) : undefined });
  const auth = new AuthDb(seed.users ?? [], opts.tokens ?? []);
  const schema = apiSchema();
  let faults: Faults = emptyFaults();
  const requestCounts: Record<string, number> = {};
  // `at`: ms after `origin` (performance.now(), in /_sim/stats) when the request arrived,
  // `served`: when its handler ran (after the injected latency), for traces of where a
  // client's time goes
  const requestLog: { method: string; path: string; raw: string; at: number; served?: number }[] = [];
  const t0 = performance.now();
  // TLS handshakes completed, for tests that bound how often a client connects
  let handshakes = 0;

  const applyFaults = (spec: string) => {
    const f = parseFaults(spec);
    for (const l of f.locks) {
      const g = model.guests.get(l.vmid);
      if (!g) throw new FaultSpecError(`fault lock: guest ${l.vmid} does not exist`);
    }
    for (const l of f.cfgLocks) if (!model.guests.has(l.vmid)) throw new FaultSpecError(`fault cfglock: guest ${l.vmid} does not exist`);
    faults = f;
    model.taskFails = f.taskFails;
    for (const l of f.locks) setLock(l.vmid, l.lock, l.seconds);
    for (const l of f.cfgLocks) model.cfgLocks.set(l.vmid, model.now() + l.seconds * 1000);
  };
  const setLock = (vmid: number, lock: string | null, seconds?: number) => {
    const g = model.guests.get(vmid);
    if (!g) throw new PveError(400, `guest ${vmid} does not exist`);
    g.lock = lock ?? undefined;
    model.touch(g);
    if (lock && seconds !== undefined) {
      model.later(seconds, () => {
        if (g.lock === lock) {
          g.lock = undefined;
          model.touch(g);
        }
      });
    }
  };
  if (opts.faults) applyFaults(opts.faults);

  let cert = '';
  let key = '';
  let fingerprint = '';
  if (!opts.http) {
    if (opts.tlsCert || opts.tlsKey) {
      if (!opts.tlsCert || !opts.tlsKey) throw new SimOptionError('--tls-cert and --tls-key go together');
      try {
        cert = fs.readFileSync(opts.tlsCert, 'utf8');
        key = fs.readFileSync(opts.tlsKey, 'utf8');
      } catch (e: any) {
        throw new SimOptionError(`cannot read ${e.path ?? 'TLS file'}: ${e.code ?? e.message}`);
      }
      try {
        fingerprint = fingerprintOf(pemToDer(cert));
      } catch {
        throw new SimOptionError(`--tls-cert ${opts.tlsCert}: no PEM certificate in it`);
      }
    } else {
      const names = ['localhost', '127.0.0.1', '::1', host, os.hostname(), ...model.nodes.keys()].filter((n) => n && n !== '0.0.0.0' && n !== '::');
      const made = selfSigned(names, new Date());
      cert = made.certPem;
      key = made.keyPem;
      fingerprint = made.fingerprint;
    }
  }
  model.fingerprint = fingerprint;

  const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const send = (res: http.ServerResponse, status: number, body: unknown, reason?: string, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    // a reason phrase must be one line of visible ASCII
    const phrase = (reason ?? http.STATUS_CODES[status] ?? 'Error').replace(/[^\x20-\x7e]/g, ' ').slice(0, 200);
    res.writeHead(status, phrase, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'max-age=0', Pragma: 'no-cache', ...headers });
    res.end(text);
  };
  const sendError = (res: http.ServerResponse, err: unknown) => {
    const e = err instanceof PveError ? err : new PveError(500, String((err as any)?.message ?? err));
    const body: Record<string, unknown> = { data: null, message: e.message };
    if (e.errors) body.errors = e.errors;
    send(res, e.status, body, e.message.split('\n')[0]);
  };

  const authenticate = (req: http.IncomingMessage, method: string): Principal => {
    const authz = req.headers.authorization;
    if (authz && /^PVEAPIToken[= ]/.test(authz)) {
      const p = auth.fromTokenHeader(authz);
      // the pvesh stand-in acts as root@pam, like pvesh on a node
      if (p.all && req.headers['x-sim-pvesh'] === '1') return { userid: 'root@pam', all: true, privs: new Map() };
      return p;
    }
    const ticket = cookie(req.headers.cookie, 'PVEAuthCookie');
    if (!ticket) throw new PveError(401, 'No ticket');
    const csrf = req.headers.csrfpreventiontoken;
    return auth.fromTicket(ticket, Array.isArray(csrf) ? csrf[0] : csrf, method !== 'GET', model.nowSec());
  };

  const failAuth = async (res: http.ServerResponse, err: unknown) => {
    // pveproxy answers every failed authentication after a pause, against brute force
    await sleepReal(3000 * timeScale);
    sendError(res, err);
  };

  const control = async (req: http.IncomingMessage, res: http.ServerResponse, path: string, method: string, body: Record<string, any>) => {
    let p: Principal;
    try {
      p = authenticate(req, 'GET');
    } catch (e) {
      return failAuth(res, e);
    }
    if (!p.all) return sendError(res, new PveError(403, 'the control API needs a full-privilege token'));
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /_sim/state':
        return send(res, 200, { data: model.dump() });
      case 'GET /_sim/stats': {
        const total = Object.values(requestCounts).reduce((a, b) => a + b, 0);
        return send(res, 200, { data: { requests: requestCounts, total, tasks: model.taskCounts, log: requestLog, handshakes, taskTimes: model.taskTimes(t0), origin: t0 } });
      }
      case 'POST /_sim/faults':
        if (typeof body.spec !== 'string') return sendError(res, new PveError(400, "body needs 'spec' (a string)"));
        try {
          applyFaults(body.spec);
        } catch (e: any) {
          return sendError(res, new PveError(400, e.message));
        }
        return send(res, 200, { data: null });
      case 'POST /_sim/lock': {
        const vmid = Number(body.vmid);
        if (!Number.isInteger(vmid)) return sendError(res, new PveError(400, "body needs 'vmid'"));
        if (body.lock !== null && typeof body.lock !== 'string') return sendError(res, new PveError(400, "body needs 'lock' (a string or null)"));
        setLock(vmid, body.lock, body.seconds === undefined ? undefined : Number(body.seconds));
        return send(res, 200, { data: null });
      }
      case 'POST /_sim/clock':
        if (body.now !== undefined) {
          try {
            model.setClock(parseClock(String(body.now)).getTime());
          } catch (e: any) {
            return sendError(res, new PveError(400, e.message.replace('--clock', 'now')));
          }
        } else if (body.advance !== undefined && Number.isFinite(Number(body.advance))) model.advance(Number(body.advance));
        else return sendError(res, new PveError(400, "body needs 'now' (ISO-8601) or 'advance' (seconds)"));
        return send(res, 200, { data: { now: new Date(model.now()).toISOString() } });
      default:
        return sendError(res, new PveError(501, `Method '${method} ${path}' not implemented`));
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sim');
    let body: Record<string, unknown> = {};
    try {
      const text = await readBody(req);
      if (method !== 'GET') body = parseBody(text, req.headers['content-type']);
    } catch (e) {
      return sendError(res, e);
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path.startsWith('/_sim/')) return control(req, res, path, method, body as Record<string, any>);
    if (path !== '/api2/json' && !path.startsWith('/api2/json/')) return send(res, 404, { data: null, message: 'Not Found' }, 'Not Found');
    const apiPath = path.slice('/api2/json'.length) || '/';

    // every API request as sent (before URL normalisation) and as served, for tests that
    // must prove no request left the paths they expect
    const logged: (typeof requestLog)[number] | undefined = requestLog.length < REQUEST_LOG_MAX ? { method, path: apiPath, raw: (req.url ?? '').split('?')[0], at: performance.now() - t0 } : undefined;
    if (logged) requestLog.push(logged);
    if (faults.latencyMs > 0) await sleepReal(faults.latencyMs);
    if (logged) logged.served = performance.now() - t0;
    if (faults.dropRate > 0 && Math.random() < faults.dropRate) {
      req.socket.destroy();
      return;
    }
    if (faults.errorRate > 0 && Math.random() < faults.errorRate) return sendError(res, new PveError(faults.errorStatus, defaultMessage(faults.errorStatus)));
    const rule = matchFail(faults, method, apiPath);
    if (rule) return sendError(res, new PveError(rule.status, rule.message ?? defaultMessage(rule.status)));

    const match = schema.match(apiPath);
    const info: MethodInfo | undefined = match?.info[method];
    if (!match || !info) {
      requestCounts[`${method} (unknown)`] = (requestCounts[`${method} (unknown)`] ?? 0) + 1;
      return sendError(res, notImplemented(method, apiPath));
    }
    const statKey = `${method} ${match.template}`;
    requestCounts[statKey] = (requestCounts[statKey] ?? 0) + 1;

    const raw: Record<string, unknown> = { ...searchParams(url.searchParams), ...body, ...match.params };
    // the ExtJS cache buster is dropped by pveproxy
    delete raw._dc;

    try {
      if (method === 'POST' && match.template === '/access/ticket') return await ticket(res, info, raw);
      let principal: Principal;
      try {
        principal = authenticate(req, method);
      } catch (e) {
        // `user: world` methods (GET /access/domains, for the login box) need no login
        if (info.permissions?.user !== 'world') return await failAuth(res, e);
        principal = { userid: '', all: false, privs: new Map() };
      }
      const perm = { poolPathsOf: (vmid: number) => model.poolPathsOf(vmid) };
      const check = info.permissions?.check;
      if (check) evalCheck(principal, check, raw, perm);
      else if (info.permissions?.user !== 'all' && info.permissions?.user !== 'world' && !principal.all) {
        throw new PveError(403, 'Permission check failed (user != root@pam)');
      }
      const v = validateParams(info, raw);
      if (v.errors) throw paramError(v.errors);
      const handler = ROUTES[statKey];
      if (!handler) throw notImplemented(method, apiPath);
      const ctx: Ctx = { model, auth, principal, params: v.params, perm };
      const data = await handler(ctx);
      const out: Record<string, unknown> = { data: data ?? null };
      if (ctx.total !== undefined) out.total = ctx.total;
      send(res, 200, out);
    } catch (e) {
      sendError(res, e);
    }
  };

  const ticket = async (res: http.ServerResponse, info: MethodInfo, raw: Record<string, unknown>) => {
    const v = validateParams(info, raw);
    if (v.errors) throw paramError(v.errors);
    let result;
    try {
      result = auth.login(String(v.params.username), String(v.params.password), v.params.realm as string | undefined, model.nowSec());
    } catch (e) {
      return failAuth(res, e);
    }
    send(res, 200, {
      data: { username: result.userid, ticket: result.ticket, CSRFPreventionToken: result.csrf, clustername: model.cluster, cap: auth.caps(result.userid) },
    });
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((e) => sendError(res, e));
  };
  const server = opts.http ? http.createServer(listener) : https.createServer({ cert, key }, listener);
  server.keepAliveTimeout = 5000;
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: any) => reject(new SimOptionError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed = false;
  return {
    url: `${opts.http ? 'http' : 'https'}://${urlHost}:${actualPort}`,
    host,
    port: actualPort,
    fingerprint,
    model,
    close: async () => {
      if (closed) return;
      closed = true;
      model.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as any).closeAllConnections?.();
      });
    },
  };
}
