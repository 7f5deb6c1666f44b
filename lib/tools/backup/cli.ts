// The frame the three backup tools share: arguments, the [backup] config, logging to
// console + syslog + file, and one error line (also to syslog) before the exit code.
import { notifyBackupProblems } from '../../domain/notify/backup.ts';
import fs from 'node:fs';
import { DEFAULT_CONFIG_PATH, loadConfig, type Config } from '../../core/config.ts';
import { errorLine, exitCodeOf, EXIT, UsageError } from '../../core/errors.ts';
import { expandParamFiles, GLOBAL_OPTIONS, parseArgs, type OptionSpec, type Parsed } from '../../cli/args.ts';
import { error, setLogLevel } from '../../core/log.ts';
import { VERSION } from '../../core/version.ts';
import { writeOut } from '../../core/stdio.ts';
import { loadBackupConfig, type BackupConfig } from '../../domain/backup/config.ts';
import { BackupLog } from '../../domain/backup/logging.ts';
import { reportProblem } from '../../domain/backup/report.ts';

export interface ToolContext {
  args: Parsed;
  cfg: BackupConfig;
  /** the whole file: backup-wakeup --jobs also reads its [pve] section */
  config: Config;
}

export interface ToolHooks {
  /** runs before the config is read; a number ends the run with that exit code */
  beforeConfig?: (args: Parsed) => number | undefined;
  /**
   * true: this run must not fail (the hook's job-end and job-abort, whose failure makes
   * vzdump report good backups as failed): any error, the config's included, becomes one
   * reported problem and exit 0
   */
  mustNotFail?: (args: Parsed) => string | undefined;
}

export async function runBackupTool(
  tool: string,
  argv: string[],
  spec: OptionSpec,
  help: string,
  consoleStream: 'stdout' | 'stderr',
  body: (ctx: ToolContext) => Promise<number>,
  hooks: ToolHooks = {},
): Promise<number> {
  const args = parseBackupArgs(tool, argv, spec);
  if (args.help) {
    writeOut(help);
    return EXIT.OK;
  }
  if (args.version) {
    writeOut(`${tool} ${VERSION}\n`);
    return EXIT.OK;
  }
  if (args.debug) setLogLevel('debug');
  if (args.quiet) setLogLevel('warn');
  const early = hooks.beforeConfig?.(args);
  if (early !== undefined) return early;
  const softPhase = hooks.mustNotFail?.(args);
  let cfg: BackupConfig;
  let config: Config;
  try {
    config = readBackupConfigFile(args.config);
    cfg = loadBackupConfig(config, typeof args.node === 'string' && args.node !== '' ? args.node : undefined);
  } catch (err) {
    // config errors come before the log exists: they go to the console through the frame
    if (softPhase === undefined) throw err;
    // journald still hears of it, through the default logger and tag
    const log = new BackupLog({ console: consoleStream, syslog: fs.existsSync(DEFAULT_LOGGER), syslogTag: DEFAULT_TAG, loggerPath: DEFAULT_LOGGER, node: '-', tool });
    log.start();
    reportProblem({ kind: 'config', what: softPhase, message: `${errorLine(err)}; nothing released, the backup server may stay up (the backups themselves are not affected)` });
    await notifyBackupProblems(undefined, softPhase, typeof args.job === 'string' && args.job ? args.job : 'vzdump');
    await log.close();
    return EXIT.OK;
  }
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
    return await body({ args, cfg, config });
  } catch (err) {
    if (softPhase !== undefined) {
      reportProblem({ kind: 'bookkeeping', what: softPhase, message: `${errorLine(err)}; the backup server may stay up (the backups themselves are not affected)` });
      await notifyBackupProblems(config, softPhase, typeof args.job === 'string' && args.job ? args.job : 'vzdump');
      return EXIT.OK;
    }
    error(`${tool}: ${errorLine(err)}`);
    return exitCodeOf(err);
  } finally {
    await log.close();
  }
}

const DEFAULT_LOGGER = '/usr/bin/logger';
const DEFAULT_TAG = 'pve-backup-hook';

/**
 * The config file, which the backup tools cannot do without: unlike the snapshot tools
 * (which can run from options alone), a missing default file is named, not read as empty.
 */
function readBackupConfigFile(configArg: unknown, env: Record<string, string | undefined> = process.env) {
  const explicit = typeof configArg === 'string' && configArg !== '' ? configArg : env.AUTOSNAP_CONFIG || undefined;
  if (explicit === undefined && !fs.existsSync(DEFAULT_CONFIG_PATH)) {
    throw new UsageError(`config file ${DEFAULT_CONFIG_PATH} does not exist (it needs a [backup] section; --config FILE or AUTOSNAP_CONFIG names another)`);
  }
  if (explicit !== undefined && !fs.existsSync(explicit)) {
    throw new UsageError(`config file ${explicit} does not exist (named by ${typeof configArg === 'string' && configArg !== '' ? '--config' : 'AUTOSNAP_CONFIG'})`);
  }
  return loadConfig({ config: explicit }, env);
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
