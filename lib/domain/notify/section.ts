// The keys of the [notify] section, apart from notify.ts: the option parser checks them
// for every command, and status or check should not load the senders (and
// node:child_process) to do it.
import type { SectionKeys } from '../../core/config.ts';

/** The [notify] section: read by autosnap and the backup tools alike. */
export const NOTIFY_SECTION: SectionKeys = {
  section: 'notify',
  keys: ['mode', 'mailto', 'sendmail', 'skipped_runs'],
  hints: { email: "did you mean 'mailto'?", mail: "did you mean 'mailto'?", to: "did you mean 'mailto'?" },
};
