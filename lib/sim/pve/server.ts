// The HTTP(S) server of the simulator: builds the model and the front's state from the
// options, listens, and sends each request to the control API (/_sim/, control.ts) or
// to the Proxmox VE API pipeline (/api2/json, api.ts). options.ts checks the options,
// http.ts holds the body parsing and the response envelope, front.ts authentication.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { handleApi } from './api.ts';
import { AuthDb } from './auth.ts';
import { handleControl } from './control.ts';
import { emptyFaults } from './faults.ts';
import { applyFaults, type Front } from './front.ts';
import { parseBody, readBody, send, sendError } from './http.ts';
import { PveModel } from './model.ts';
import { loadTls, parseClock, parseListen, SimOptionError, type PveSimOptions } from './options.ts';
import { apiSchema } from './schema.ts';
import { checkSeed, demoSeed, readSeedFile, type Seed } from './seed.ts';

export { SimOptionError, type PveSimOptions } from './options.ts';

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

function seedOf(opts: PveSimOptions): Seed {
  if (typeof opts.seed === 'string') return readSeedFile(opts.seed);
  if (opts.seed) {
    checkSeed(opts.seed);
    return structuredClone(opts.seed);
  }
  return demoSeed();
}

async function handle(front: Front, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
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
  if (path.startsWith('/_sim/')) return handleControl(front, req, res, path, method, body as Record<string, any>);
  if (path !== '/api2/json' && !path.startsWith('/api2/json/')) return send(res, 404, { data: null, message: 'Not Found' }, 'Not Found');
  return handleApi(front, req, res, method, url, path.slice('/api2/json'.length) || '/', body);
}

export async function startPveSim(opts: PveSimOptions = {}): Promise<PveSim> {
  const { host, port } = opts.listen ? parseListen(opts.listen) : { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 };
  const seed = seedOf(opts);
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale >= 0) || !Number.isFinite(timeScale)) throw new SimOptionError(`--time-scale '${opts.timeScale}' must be a number >= 0`);
  const model = new PveModel(seed, { timeScale, clock: opts.clock ? parseClock(opts.clock) : undefined });
  const front: Front = {
    model,
    auth: new AuthDb(seed.users ?? [], opts.tokens ?? []),
    schema: apiSchema(),
    timeScale,
    faults: emptyFaults(),
    requestCounts: {},
    requestLog: [],
    origin: performance.now(),
    handshakes: 0,
  };
  if (opts.faults) applyFaults(front, opts.faults);

  const { cert, key, fingerprint } = loadTls(opts, host, model.nodes.keys());
  model.fingerprint = fingerprint;

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(front, req, res).catch((e) => sendError(res, e));
  };
  const server = opts.http ? http.createServer(listener) : https.createServer({ cert, key }, listener);
  server.keepAliveTimeout = 5000;
  server.on('secureConnection', () => front.handshakes++);
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

/** A random token secret in the UUID form PVE uses. */
export const newSecret = () => crypto.randomUUID();
