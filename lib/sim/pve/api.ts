// The /api2/json pipeline, what pveproxy does before and after a handler runs: injected
// faults, schema lookup, authentication, permission check, parameter validation, then
// the route's handler (routes.ts) and the {data} envelope. Login (POST /access/ticket)
// is answered here because it is the one call made without credentials.
import http from 'node:http';
import { evalCheck, type Principal } from './auth.ts';
import { notImplemented, paramError, PveError } from './errors.ts';
import { defaultMessage, matchFail } from './faults.ts';
import { authenticate, failAuth, REQUEST_LOG_MAX, type Front } from './front.ts';
import { searchParams, send, sendError, sleepReal } from './http.ts';
import { ROUTES, type Ctx } from './routes.ts';
import { validateParams, type MethodInfo } from './schema.ts';

export async function handleApi(front: Front, req: http.IncomingMessage, res: http.ServerResponse, method: string, url: URL, apiPath: string, body: Record<string, unknown>): Promise<void> {
  const { model, requestCounts } = front;
  // every API request as sent (before URL normalisation) and as served, for tests that
  // must prove no request left the paths they expect
  const logged: Front['requestLog'][number] | undefined =
    front.requestLog.length < REQUEST_LOG_MAX ? { method, path: apiPath, raw: (req.url ?? '').split('?')[0], at: performance.now() - front.origin } : undefined;
  if (logged) front.requestLog.push(logged);
  if (front.faults.latencyMs > 0) await sleepReal(front.faults.latencyMs);
  if (logged) logged.served = performance.now() - front.origin;
  if (front.faults.dropRate > 0 && Math.random() < front.faults.dropRate) {
    req.socket.destroy();
    return;
  }
  if (front.faults.errorRate > 0 && Math.random() < front.faults.errorRate) return sendError(res, new PveError(front.faults.errorStatus, defaultMessage(front.faults.errorStatus)));
  const rule = matchFail(front.faults, method, apiPath);
  if (rule) return sendError(res, new PveError(rule.status, rule.message ?? defaultMessage(rule.status)));

  const match = front.schema.match(apiPath);
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
    if (method === 'POST' && match.template === '/access/ticket') return await login(front, res, info, raw);
    let principal: Principal;
    try {
      principal = authenticate(front, req, method);
    } catch (e) {
      // `user: world` methods (GET /access/domains, for the login box) need no login
      if (info.permissions?.user !== 'world') return await failAuth(front, res, e);
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
    const ctx: Ctx = { model, auth: front.auth, principal, params: v.params, perm };
    const data = await handler(ctx);
    const out: Record<string, unknown> = { data: data ?? null };
    if (ctx.total !== undefined) out.total = ctx.total;
    send(res, 200, out);
  } catch (e) {
    sendError(res, e);
  }
}

/** POST /access/ticket: username and password in, ticket and CSRF token out. */
async function login(front: Front, res: http.ServerResponse, info: MethodInfo, raw: Record<string, unknown>): Promise<void> {
  const v = validateParams(info, raw);
  if (v.errors) throw paramError(v.errors);
  let result;
  try {
    result = front.auth.login(String(v.params.username), String(v.params.password), v.params.realm as string | undefined, front.model.nowSec());
  } catch (e) {
    return failAuth(front, res, e);
  }
  send(res, 200, {
    data: { username: result.userid, ticket: result.ticket, CSRFPreventionToken: result.csrf, clustername: front.model.cluster, cap: front.auth.caps(result.userid) },
  });
}
