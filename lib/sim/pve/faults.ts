// Fault injection: `--faults SPEC` and POST /_sim/faults. SPEC is `;`-separated:
//   latency=MS  error=RATE[:STATUS]  drop=RATE  fail=METHOD:PATH_REGEX:STATUS[:MESSAGE]
//   failn=N:METHOD:PATH_REGEX:STATUS  taskfail=VMID:TASKTYPE:MESSAGE  lock=VMID:LOCK[:SECONDS]
//   cfglock=VMID:SECONDS (the guest's config file is held by another operation)
// METHOD may be `*`. PATH_REGEX is searched (unanchored) in the API path without /api2/json.

export interface FailRule {
  method: string;
  re: RegExp;
  status: number;
  message?: string;
  /** remaining count for failn; undefined = forever */
  remaining?: number;
}

export interface Faults {
  latencyMs: number;
  errorRate: number;
  errorStatus: number;
  dropRate: number;
  fails: FailRule[];
  taskFails: { vmid: number; type: string; message: string }[];
  locks: { vmid: number; lock: string; seconds?: number }[];
  cfgLocks: { vmid: number; seconds: number }[];
}

export class FaultSpecError extends Error {}

export const emptyFaults = (): Faults => ({ latencyMs: 0, errorRate: 0, errorStatus: 503, dropRate: 0, fails: [], taskFails: [], locks: [], cfgLocks: [] });

function rate(v: string, what: string): number {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new FaultSpecError(`fault ${what}: rate '${v}' is not a number between 0 and 1`);
  return n;
}

function status(v: string, what: string): number {
  if (!/^[1-9]\d{2}$/.test(v)) throw new FaultSpecError(`fault ${what}: '${v}' is not an HTTP status`);
  return Number(v);
}

function vmid(v: string, what: string): number {
  if (!/^[1-9]\d{2,8}$/.test(v)) throw new FaultSpecError(`fault ${what}: '${v}' is not a VM ID`);
  return Number(v);
}

function regex(v: string, what: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    throw new FaultSpecError(`fault ${what}: '${v}' is not a valid regular expression`);
  }
}

const METHOD_RE = /^(GET|POST|PUT|DELETE|\*)$/i;

export function parseFaults(spec: string): Faults {
  const f = emptyFaults();
  for (const raw of spec.split(';')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) throw new FaultSpecError(`fault '${item}': expected NAME=VALUE`);
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const what = name;
    switch (name) {
      case 'latency': {
        const n = Number(value);
        if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new FaultSpecError(`fault latency: '${value}' is not a number of milliseconds`);
        f.latencyMs = n;
        break;
      }
      case 'error': {
        const [r, s] = value.split(':');
        f.errorRate = rate(r, what);
        if (s !== undefined) f.errorStatus = status(s, what);
        break;
      }
      case 'drop':
        f.dropRate = rate(value, what);
        break;
      case 'fail': {
        const m = /^([^:]+):(.*?):(\d{3})(?::(.*))?$/.exec(value);
        if (!m || !METHOD_RE.test(m[1])) throw new FaultSpecError(`fault fail: '${value}' is not METHOD:PATH_REGEX:STATUS[:MESSAGE]`);
        f.fails.push({ method: m[1].toUpperCase(), re: regex(m[2], what), status: status(m[3], what), message: m[4] });
        break;
      }
      case 'failn': {
        const m = /^(\d+):([^:]+):(.*?):(\d{3})(?::(.*))?$/.exec(value);
        if (!m || !METHOD_RE.test(m[2])) throw new FaultSpecError(`fault failn: '${value}' is not N:METHOD:PATH_REGEX:STATUS`);
        f.fails.push({ method: m[2].toUpperCase(), re: regex(m[3], what), status: status(m[4], what), message: m[5], remaining: Number(m[1]) });
        break;
      }
      case 'taskfail': {
        const m = /^(\d+):([a-z]+):(.+)$/.exec(value);
        if (!m) throw new FaultSpecError(`fault taskfail: '${value}' is not VMID:TASKTYPE:MESSAGE`);
        f.taskFails.push({ vmid: vmid(m[1], what), type: m[2], message: m[3] });
        break;
      }
      case 'lock': {
        const m = /^(\d+):([a-z-]+)(?::(\d+(?:\.\d+)?))?$/.exec(value);
        if (!m) throw new FaultSpecError(`fault lock: '${value}' is not VMID:LOCK[:SECONDS]`);
        f.locks.push({ vmid: vmid(m[1], what), lock: m[2], seconds: m[3] === undefined ? undefined : Number(m[3]) });
        break;
      }
      case 'cfglock': {
        const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(value);
        if (!m) throw new FaultSpecError(`fault cfglock: '${value}' is not VMID:SECONDS`);
        f.cfgLocks.push({ vmid: vmid(m[1], what), seconds: Number(m[2]) });
        break;
      }
      default:
        throw new FaultSpecError(`unknown fault '${name}' (known: latency, error, drop, fail, failn, taskfail, lock, cfglock)`);
    }
  }
  return f;
}

/** The text a status answers with when the rule gives none: what pveproxy would say. */
export function defaultMessage(code: number): string {
  const texts: Record<number, string> = {
    500: 'simulated internal error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
    595: 'Connection refused', 596: 'Connection timed out', 597: 'Connection reset by peer', 599: 'Too many redirections',
    401: 'authentication failure', 403: 'Permission check failed', 429: 'Too Many Requests',
  };
  return texts[code] ?? `simulated error ${code}`;
}

/** The first rule matching a request, counting down failn rules. */
export function matchFail(f: Faults, method: string, path: string): FailRule | undefined {
  for (const rule of f.fails) {
    if (rule.method !== '*' && rule.method !== method) continue;
    if (!rule.re.test(path)) continue;
    if (rule.remaining !== undefined) {
      if (rule.remaining <= 0) continue;
      rule.remaining--;
    }
    return rule;
  }
  return undefined;
}
