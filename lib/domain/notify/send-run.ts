// The one call a tool makes when a run ends: decide whether the run is news, send it, and
// remember the systemd invocation it was sent for. A notification that cannot be sent is
// one warning line; it never changes the run's exit code.
import { debug, warn } from '../../core/log.ts';
import { describePath, nodeName, notifyPath, sendNotification, type NotifySettings } from './notify.ts';
import { runMessage, runSeverity, runTitle, type RunFacts } from './run-report.ts';
import { readState, writeState } from './state.ts';

const NOTIFIED_STATE = 'notified.json';

export async function notifyRun(f: RunFacts, s: NotifySettings, extraFields: Record<string, string> = {}): Promise<void> {
  const sev = runSeverity(s.mode, f);
  if (!sev) return;
  const host = nodeName();
  const way = await notifyPath(s);
  if (way.kind === 'none' && !s.mailto) {
    // nothing set up to receive it (not a node, no mailto): `autosnap notify --test` and
    // `autosnap check` say so; repeating it on every failed run would only add noise
    debug(`no notification sent: ${way.why}`);
    return;
  }
  try {
    const p = await sendNotification(
      {
        severity: sev,
        title: runTitle(sev, f, host),
        message: runMessage(f),
        fields: { type: f.type, hostname: host, ...(f.jobs.length ? { job: f.jobs.join(',') } : {}), ...extraFields },
      },
      s,
    );
    // systemd gives every start of a unit an id; the OnFailure= unit sees the failed one's
    // id as MONITOR_INVOCATION_ID and stays silent when the run has spoken already
    const id = process.env.INVOCATION_ID;
    if (id) writeState(NOTIFIED_STATE, { invocation: id, at: new Date().toISOString() });
    debug(`notified ${describePath(p)}`);
  } catch (e) {
    warn(`notification not sent: ${(e as Error).message}`);
  }
}

export function alreadyNotified(invocation: string | undefined): boolean {
  if (!invocation) return false;
  return readState<{ invocation?: string }>(NOTIFIED_STATE, {}).invocation === invocation;
}
