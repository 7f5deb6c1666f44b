// Two small commands for unattended operation: `check` (a monitoring plugin, see
// check.ts) and `notify` (`--test` sends a test notification and says which way it went;
// `--failed-unit UNIT` is what autosnap-notify@.service runs when a unit failed).
import { execFileSync } from 'node:child_process';
import { loadConfig, type Config } from '../../core/config.ts';
import { connect } from '../../cli/connect.ts';
import { UsageError } from '../../core/errors.ts';
import { print } from '../../core/output.ts';
import { nowDate } from '../../core/now.ts';
import { describePath, nodeName, notifyPath, notifySettings, sendNotification } from '../../domain/notify/notify.ts';
import { alreadyNotified } from '../../domain/notify/send-run.ts';
import { backupWatch } from './backup-watch.ts';
import { checkGuests, checkOptions, checkUnknown, evaluateCheck, printCheck } from './check.ts';
import { OptionSource, settingsOf, type Invocation } from './options.ts';

export async function checkCommand(inv: Invocation): Promise<number> {
  try {
    const config = loadConfig(inv.args as { config?: unknown });
    const src = new OptionSource(inv.args, config, ['autosnap'], inv.typed);
    const s = settingsOf(src);
    const o = checkOptions(src);
    const client = await connect(inv.args, config);
    let guests;
    try {
      guests = await checkGuests(client, src, o, s);
    } finally {
      await client.close();
    }
    const r = evaluateCheck(guests, Math.floor(nowDate().getTime() / 1000), o.warn, o.crit, o.label);
    // the long output also says where the run notifications go, so the admin who set up
    // the check sees at once whether failures would reach anyone
    let path: string;
    try {
      path = describePath(await notifyPath(notifySettings(config)));
    } catch (e) {
      path = `not set up: ${(e as Error).message}`;
    }
    return printCheck(r, [`notifications: ${path}`]);
  } catch (e) {
    return checkUnknown(e);
  }
}

export async function notifyCommand(src: OptionSource, config: Config): Promise<number> {
  const settings = notifySettings(config);
  const unit = src.str('failed-unit');
  const modes = [src.bool('test'), unit !== undefined, src.bool('backup-server')].filter(Boolean).length;
  if (modes !== 1) throw new UsageError('notify: give one of --test (send a test notification), --failed-unit UNIT or --backup-server');
  if (src.bool('backup-server')) return backupWatch(config);
  const host = nodeName();
  if (src.bool('test')) {
    const p = await notifyPath(settings);
    print(`notifications go ${describePath(p)}; mode = ${settings.mode}\n`);
    if (p.kind === 'none') return 1;
    await sendNotification(
      { severity: 'info', title: `autosnap test notification from ${host}`, message: `This is a test notification of autosnap on ${host}.\nReal ones come with type=autosnap (autosnap) or type=autosnap-backup (the backup tools).\n`, fields: { type: 'autosnap', hostname: host, job: 'test' } },
      settings,
    );
    print('test notification sent\n');
    return 0;
  }
  // systemd (v251 and later) tells an OnFailure= unit what failed in MONITOR_* variables
  const invocation = process.env.MONITOR_INVOCATION_ID;
  if (settings.mode === 'never' || alreadyNotified(invocation)) return 0;
  const name = unit!.replace(/[^\w@.:-]/g, '');
  const result = [process.env.MONITOR_SERVICE_RESULT && `result ${process.env.MONITOR_SERVICE_RESULT}`, process.env.MONITOR_EXIT_CODE && `${process.env.MONITOR_EXIT_CODE} ${process.env.MONITOR_EXIT_STATUS ?? ''}`.trim()].filter(Boolean).join(', ');
  let journal: string;
  try {
    const args = ['-u', name, '-n', '30', '--no-pager', '-o', 'short-iso'];
    if (invocation) args.push(`_SYSTEMD_INVOCATION_ID=${invocation}`);
    journal = execFileSync('journalctl', args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    journal = '(journalctl could not be read)';
  }
  await sendNotification(
    {
      severity: 'error',
      title: `${name} failed on ${host}${result ? ` (${result})` : ''}`,
      message: `The unit ${name} failed${result ? ` (${result})` : ''}.\nIts last lines (journalctl -u ${name}):\n\n${journal}`,
      fields: { type: /^backup-/.test(name) ? 'autosnap-backup' : 'autosnap', hostname: host, unit: name },
    },
    settings,
  );
  return 0;
}
