// The frame the three backup tools share: arguments, the [backup] config, logging to
// console + syslog + file, and one error line (also to syslog) before the exit code.
import { loadConfig } from '../cli/config.ts';
import { errorLine, exitCodeOf, EXIT, UsageError } from '../cli/errors.ts';
import { expandParamFiles, GLOBAL_OPTIONS, parseArgs, type OptionSpec, type Parsed } from '../cli/args.ts';
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
  const args = parseBackupArgs(tool, argv, spec);
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

/** Options of every backup tool; the bundle's Proxmox VE connection options mean nothing here. */
const COMMON: Required<Pick<OptionSpec, 'string' | 'boolean' | 'alias'>> = {
  string: ['config', 'node'],
  boolean: ['debug', 'quiet', 'help', 'version'],
  alias: { h: 'help', V: 'version' },
};

/**
 * Parse without the bundle's global options: `--host`, `--api-token`, `--vmid`... are
 * accepted by the other tools, but here they would be silently ignored, and someone who
 * passes them believes they have an effect. Such an option gets its own line.
 */
export function parseBackupArgs(tool: string, argv: string[], spec: OptionSpec): Parsed {
  const merged: OptionSpec = {
    ...spec,
    string: [...COMMON.string, ...(spec.string ?? [])],
    boolean: [...COMMON.boolean, ...(spec.boolean ?? [])],
    alias: { ...COMMON.alias, ...(spec.alias ?? {}) },
  };
  const accepted = new Set([...merged.string!, ...merged.boolean!, ...Object.keys(merged.alias!)]);
  const bundle = new Set([...GLOBAL_OPTIONS.string, ...GLOBAL_OPTIONS.boolean, ...Object.keys(GLOBAL_OPTIONS.alias)]);
  for (const a of expandParamFiles(argv)) {
    if (a === '--') break;
    const m = /^--?(?:no-)?([A-Za-z][\w-]*)/.exec(a);
    if (!m || accepted.has(m[1]) || !bundle.has(m[1])) continue;
    throw new UsageError(`option '${a.replace(/=.*$/, '')}' does not apply to ${tool} (see --help)`);
  }
  return parseArgs(argv, merged, { global: false });
}

export const COMMON_HELP = `Common options:
  --config FILE   config file (default /etc/autosnap/autosnap.conf, or $AUTOSNAP_CONFIG)
  --node NAME     this node's name in lock files (default: config node_name, else hostname)
  --debug         more detail;  --quiet  warnings and errors only
  -h, --help      this text;   -V, --version  the version
Exit codes: 0 done, 1 failed, 2 usage or config error, 3 backup server not answering.
Configuration: the [backup] section, see docs/backup.md.
`;
