// The state one running simulator's front keeps beside the model (faults in force,
// request counters, the TLS handshake count), the fault and lock setters the control
// API and the start options share, and authentication as pveproxy does it (API token
// header or ticket cookie plus CSRF token, a pause after every failure).
import http from 'node:http';
import type { AuthDb, Principal } from './auth.ts';
import { PveError } from './errors.ts';
import { FaultSpecError, parseFaults, type Faults } from './faults.ts';
import { cookie, sendError, sleepReal } from './http.ts';
import type { PveModel } from './model.ts';
import type { ApiSchema } from './schema.ts';

/** requests kept in the log of /_sim/stats (a benchmark run sends a few thousand) */
export const REQUEST_LOG_MAX = 200_000;

export interface Front {
  model: PveModel;
  auth: AuthDb;
  schema: ApiSchema;
  timeScale: number;
  faults: Faults;
  requestCounts: Record<string, number>;
  // `at`: ms after `origin` (performance.now(), in /_sim/stats) when the request arrived,
  // `served`: when its handler ran (after the injected latency), for traces of where a
  // client's time goes
  requestLog: { method: string; path: string; raw: string; at: number; served?: number }[];
  origin: number;
  /** TLS handshakes completed, for tests that bound how often a client connects */
  handshakes: number;
}

export function applyFaults(front: Front, spec: string): void {
  const { model } = front;
  const f = parseFaults(spec);
  for (const l of f.locks) {
    const g = model.guests.get(l.vmid);
    if (!g) throw new FaultSpecError(`fault lock: guest ${l.vmid} does not exist`);
  }
  for (const l of f.cfgLocks) if (!model.guests.has(l.vmid)) throw new FaultSpecError(`fault cfglock: guest ${l.vmid} does not exist`);
  front.faults = f;
  model.taskFails = f.taskFails;
  for (const l of f.locks) setLock(model, l.vmid, l.lock, l.seconds);
  for (const l of f.cfgLocks) model.cfgLocks.set(l.vmid, model.now() + l.seconds * 1000);
}

/** Sets (or clears) a guest's lock; with `seconds`, the lock goes by itself after that long. */
export function setLock(model: PveModel, vmid: number, lock: string | null, seconds?: number): void {
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
}

export function authenticate(front: Front, req: http.IncomingMessage, method: string): Principal {
  const authz = req.headers.authorization;
  if (authz && /^PVEAPIToken[= ]/.test(authz)) {
    const p = front.auth.fromTokenHeader(authz);
    // the pvesh stand-in acts as root@pam, like pvesh on a node
    if (p.all && req.headers['x-sim-pvesh'] === '1') return { userid: 'root@pam', all: true, privs: new Map() };
    return p;
  }
  const ticket = cookie(req.headers.cookie, 'PVEAuthCookie');
  if (!ticket) throw new PveError(401, 'No ticket');
  const csrf = req.headers.csrfpreventiontoken;
  return front.auth.fromTicket(ticket, Array.isArray(csrf) ? csrf[0] : csrf, method !== 'GET', front.model.nowSec());
}

export async function failAuth(front: Front, res: http.ServerResponse, err: unknown): Promise<void> {
  // pveproxy answers every failed authentication after a pause, against brute force
  await sleepReal(3000 * front.timeScale);
  sendError(res, err);
}
