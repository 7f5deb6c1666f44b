// ONTAP errors print as one line with ONTAP's code and message, prefixed by what the
// tool was doing, e.g.
//   delete snapshot s1 of volume pve_nfs: ONTAP error 1638555: Snapshot copy "s1" ... busy
import { AppError, ConnectionError, EXIT } from '../../core/errors.ts';
import { redact } from '../../core/log.ts';

export class OntapError extends AppError {
  /** REST error code or ZAPI errno, as text ("4", "1638555", "13040") */
  readonly code: string;
  readonly ontapMessage: string;
  readonly status?: number;
  constructor(init: { what: string; code: string | number; message: string; status?: number }) {
    const oneLine = String(init.message).replace(/\s*\n\s*/g, ' ').trim();
    // 503: the management interface is up but the API service is not (a takeover, an
    // upgrade); like no answer at all, worth another try later rather than a failure
    super(redact(`${init.what}: ONTAP error ${init.code}: ${oneLine}`), init.status === 401 || init.status === 503 ? EXIT.UNREACHABLE : EXIT.FAILED);
    this.code = String(init.code);
    this.ontapMessage = oneLine;
    this.status = init.status;
  }
}

export class OntapAuthError extends ConnectionError {
  constructor(host: string, user: string) {
    super(`ONTAP ${host}: authentication failed for user ${user} (HTTP 401)`);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof OntapError && ['4', '13040', '15661', '2'].includes(e.code);
}

export function isBusy(e: unknown): boolean {
  // codes of DELETE /storage/volumes/{volume.uuid}/snapshots/{uuid}:
  // https://docs.netapp.com/us-en/ontap-restapi/delete-storage-volumes-snapshots-.html
  return e instanceof OntapError && (e.code === '1638555' || e.code === '1638543' || e.code === '13024');
}
