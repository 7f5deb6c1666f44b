// Fault injection for the ONTAP simulator, `;`-separated like the Proxmox simulator's:
//   latency=MS                                  added to every request
//   fail=METHOD:PATH_REGEX:STATUS[:MESSAGE]     matching requests answer that error
//   failn=N:METHOD:PATH_REGEX:STATUS[:MESSAGE]  only the next N matching requests fail
//   jobfail=METHOD:PATH_REGEX:CODE[:MESSAGE]    the request is accepted, its job fails with
//                                               CODE; a FlexClone job fails after the volume
//                                               was made but before it was mounted
// For ZAPI, METHOD is `ZAPI`, PATH_REGEX matches the API name and STATUS is the errno.
import { UsageError } from '../../core/errors.ts';

export interface FailRule {
  method: string;
  path: RegExp;
  status: number;
  message?: string;
  /** remaining matches for failn; undefined = forever */
  remaining?: number;
}

export interface Faults {
  latencyMs: number;
  fail: FailRule[];
  jobfail: FailRule[];
}

const RULE = /^([A-Za-z*]+):(.+?):(\d+)(?::(.*))?$/;

function rule(text: string, what: string): FailRule {
  const m = RULE.exec(text);
  if (!m) throw new UsageError(`--faults: '${what}=${text}' is not METHOD:PATH_REGEX:CODE[:MESSAGE]`);
  let path: RegExp;
  try {
    path = new RegExp(m[2]);
  } catch {
    throw new UsageError(`--faults: bad regular expression '${m[2]}'`);
  }
  return { method: m[1].toUpperCase(), path, status: Number(m[3]), message: m[4] };
}

export function parseFaults(spec: string | undefined): Faults {
  const out: Faults = { latencyMs: 0, fail: [], jobfail: [] };
  for (const part of (spec ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq) : part;
    const val = eq > 0 ? part.slice(eq + 1) : '';
    if (key === 'latency') {
      if (!/^\d+$/.test(val)) throw new UsageError(`--faults: latency '${val}' is not a number of milliseconds`);
      out.latencyMs = Number(val);
    } else if (key === 'fail') out.fail.push(rule(val, key));
    else if (key === 'failn') {
      const m = /^(\d+):(.*)$/.exec(val);
      if (!m) throw new UsageError(`--faults: 'failn=${val}' is not N:METHOD:PATH_REGEX:STATUS[:MESSAGE]`);
      out.fail.push({ ...rule(m[2], key), remaining: Number(m[1]) });
    } else if (key === 'jobfail') out.jobfail.push(rule(val, key));
    else throw new UsageError(`--faults: unknown fault '${key}' (expected latency, fail, failn, jobfail)`);
  }
  return out;
}

/** The first rule matching the request, consuming one use of a failn rule. */
export function matchRule(rules: FailRule[], method: string, path: string): FailRule | undefined {
  for (const r of rules) {
    if (r.method !== '*' && r.method !== method.toUpperCase()) continue;
    if (!r.path.test(path)) continue;
    if (r.remaining !== undefined) {
      if (r.remaining <= 0) continue;
      r.remaining--;
    }
    return r;
  }
  return undefined;
}
