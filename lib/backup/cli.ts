// The frame the three backup tools share: arguments, the [backup] config, logging to
// console + syslog + file, and one error line (also to syslog) before the exit code.
import { loadConfig } from '../cli/config.ts';
import { errorLine, exitCodeOf, EXIT } from '../cli/errors.ts';
import { parseArgs, type OptionSpec, type Parsed } from '../cli/args.ts';
import { error, setLogLevel } from '../cli/log.ts';
import { VERSION } from '../version.ts';
import { loadBackupConfig, type BackupConfig } from './config.ts';
import { BackupLog } from './logging.ts';

export interface ToolContext {
  args: Parsed;
  cfg: BackupConfig;
}

export async function runBackupTool(
  tool: string,
  argv: string[],
  spec: OptionSpec,
  help: string,
  consoleStream: 'stdout' | 'stderr',
  body: (ctx: ToolContext) => Promise<number>,
): Promise<number> {
  const args = parseArgs(argv, { ...spec, string: [...(spec.string ?? []), 'node'] });
  if (args.help) {
    process.stdout.write(help);
    return EXIT.OK;
  }
  if (args.version) {
    process.stdout.write(`${tool} ${VERSION}\n`);
    return EXIT.OK;
  }
  if (args.debug) setLogLevel('debug');
  if (args.quiet) setLogLevel('warn');
  // config errors come before the log exists: they go to the console through the frame
  const cfg = loadBackupConfig(loadConfig({ config: args.config }), typeof args.node === 'string' && args.node !== '' ? args.node : undefined);
  const log = new BackupLog({
    console: consoleStream,
    syslog: cfg.syslog,
    syslogTag: cfg.syslogTag,
    loggerPath: cfg.loggerPath,
    logFile: cfg.logFile,
    node: cfg.node,
    tool,
  });
  log.start();
  try {
    return await body({ args, cfg });
  } catch (err) {
    error(`${tool}: ${errorLine(err)}`);
    return exitCodeOf(err);
  } finally {
    await log.close();
  }
}

export const COMMON_HELP = `Common options:
  --config FILE   config file (default /etc/autosnap/autosnap.conf, or $AUTOSNAP_CONFIG)
  --node NAME     this node's name in lock files (default: config node_name, else hostname)
  --debug         more detail;  --quiet  warnings and errors only
  -h, --help      this text;   -V, --version  the version
Exit codes: 0 done, 1 failed, 2 usage or config error, 3 backup server not answering.
Configuration: the [backup] section, see docs/backup.md.
`;
