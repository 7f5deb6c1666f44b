// The simulator's own control API under /_sim/ (not part of Proxmox VE): read the model
// and the request counters, set faults and guest locks, move the simulated clock. Tests
// and the bench drive the simulator through it; it needs a full-privilege token.
import http from 'node:http';
import { PveError } from './errors.ts';
import { applyFaults, authenticate, failAuth, setLock, type Front } from './front.ts';
import { send, sendError } from './http.ts';
import { parseClock } from './options.ts';

export async function handleControl(front: Front, req: http.IncomingMessage, res: http.ServerResponse, path: string, method: string, body: Record<string, any>): Promise<void> {
  const { model } = front;
  try {
    if (!authenticate(front, req, 'GET').all) return sendError(res, new PveError(403, 'the control API needs a full-privilege token'));
  } catch (e) {
    return failAuth(front, res, e);
  }
  switch (`${method} ${path}`) {
    case 'GET /_sim/state':
      return send(res, 200, { data: model.dump() });
    case 'GET /_sim/stats': {
      const total = Object.values(front.requestCounts).reduce((a, b) => a + b, 0);
      return send(res, 200, { data: { requests: front.requestCounts, total, tasks: model.taskCounts, log: front.requestLog, handshakes: front.handshakes, taskTimes: model.taskTimes(front.origin), origin: front.origin } });
    }
    case 'POST /_sim/faults':
      if (typeof body.spec !== 'string') return sendError(res, new PveError(400, "body needs 'spec' (a string)"));
      try {
        applyFaults(front, body.spec);
      } catch (e: any) {
        return sendError(res, new PveError(400, e.message));
      }
      return send(res, 200, { data: null });
    case 'POST /_sim/lock': {
      const vmid = Number(body.vmid);
      if (!Number.isInteger(vmid)) return sendError(res, new PveError(400, "body needs 'vmid'"));
      if (body.lock !== null && typeof body.lock !== 'string') return sendError(res, new PveError(400, "body needs 'lock' (a string or null)"));
      setLock(model, vmid, body.lock, body.seconds === undefined ? undefined : Number(body.seconds));
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
}
