// From a config target to a protocol client. `api = auto` asks REST first and falls back
// to ZAPI only when the cluster has no REST API (HTTP 404 on /api/cluster).
import { debug } from '../../core/log.ts';
import type { OntapTarget } from './config.ts';
import { OntapError } from '../../clients/ontap/errors.ts';
import { OntapHttp } from '../../clients/ontap/http.ts';
import { RestOntap } from '../../clients/ontap/rest.ts';
import { pollScale, type Ontap } from '../../clients/ontap/types.ts';
import { ZapiOntap } from '../../clients/ontap/zapi.ts';

export async function connectOntap(t: OntapTarget, opts: { timeoutMs?: number } = {}): Promise<Ontap> {
  const http = new OntapHttp({ ...t, timeoutMs: opts.timeoutMs });
  const rest = new RestOntap(http, { jobTimeoutMs: t.jobTimeoutMs, pollScale: pollScale() });
  if (t.api === 'rest') return rest;
  if (t.api === 'zapi') return new ZapiOntap(http);
  try {
    const v = await rest.version();
    debug(`ONTAP ${http.host}: REST, ${v}`);
    return rest;
  } catch (e) {
    if (e instanceof OntapError && (e.status === 404 || e.status === 405)) {
      debug(`ONTAP ${http.host}: no REST API, using ZAPI`);
      return new ZapiOntap(http);
    }
    throw e;
  }
}
