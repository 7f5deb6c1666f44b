// The autosnap command: parse, then hand over to the command's own module. Each is
// imported when it runs, so a command evaluates only its own code: status never loads
// the run's executor, hooks, notification senders or page writer (run-command.ts: snap,
// clean, run, plan and report), and `plan --from-file` or --help make no connection code.
import { loadConfig } from '../../core/config.ts';
import { UsageError } from '../../core/errors.ts';
import { setLogLevel } from '../../core/log.ts';
import { print } from '../../core/output.ts';
import { parseSelector } from '../../domain/guests/selector.ts';
import { CV4PVE_MARKER } from '../../domain/retention/naming.ts';
import { VERSION } from '../../core/version.ts';
import { OptionSource, parseInvocation, settingsOf, type Invocation } from './options.ts';

export interface MainOptions {
  /** called through a link named cv4pve-autosnap: status prints cv4pve's table */
  cv4pve?: boolean;
}

export async function autosnapMain(argv: string[], opts: MainOptions = {}): Promise<number> {
  let inv: Invocation;
  try {
    inv = parseInvocation(argv);
  } catch (e) {
    // a monitoring plugin that cannot even read its options is UNKNOWN with one line on
    // stdout (exit 3), never a usage error that Nagios or Icinga would show as CRITICAL
    if (argv.some((a) => a.toLowerCase() === 'check')) return (await import('./check.ts')).checkUnknown(e);
    throw e;
  }
  // the plugin exit codes mean something to a monitor: not through cv4pve's "1 for all"
  if (opts.cv4pve && (inv.command === 'check' || inv.command === 'notify')) {
    throw new UsageError(`${inv.command}: not a cv4pve-autosnap command; call it as autosnap ${inv.command}`);
  }
  // through the cv4pve-autosnap link new snapshots carry cv4pve's description unless
  // --marker or the config says otherwise (lib/tools/autosnap/jobs.ts markerOf)
  if (opts.cv4pve) inv.args['default-marker'] = CV4PVE_MARKER;
  if (inv.args.help) {
    print((await import('./help.ts')).HELP);
    return 0;
  }
  if (inv.args.version) {
    print(`autosnap ${VERSION}\n`);
    return 0;
  }
  if (inv.args.debug) setLogLevel('debug');
  else if (inv.args.quiet) setLogLevel('warn');
  if (inv.command === 'plan' && inv.args['from-file'] !== undefined) return (await import('./offline-plan.ts')).offlinePlanMain(inv.args);
  if (inv.command === 'check') return (await import('./commands.ts')).checkCommand(inv);

  const config = loadConfig(inv.args as { config?: unknown });
  const src = new OptionSource(inv.args, config, ['autosnap'], inv.typed);
  const s = settingsOf(src);
  if (inv.command === 'notify') return (await import('./commands.ts')).notifyCommand(src, config);
  if (inv.command === 'status') {
    const [{ statusCommand, statusOptions }, { connect }] = await Promise.all([import('./status.ts'), import('../../cli/connect.ts')]);
    statusOptions(src);
    // a malformed selector is the user's mistake: say so before any connection is tried
    parseSelector(src.str('vmid') ?? '@all');
    const client = await connect(inv.args, config);
    try {
      return await statusCommand(client, src, { ...s, cv4pve: opts.cv4pve });
    } finally {
      await client.close();
    }
  }
  return (await import('./run-command.ts')).runCommand(inv, src, config, s);
}
