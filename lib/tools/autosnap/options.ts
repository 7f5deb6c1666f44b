// The autosnap command line: cv4pve-autosnap's (global options, then a command and its
// options), the original script's `-clean`, and the bundle's own options. Most options can
// also be set in the config file, in `[autosnap]` (run-wide settings and job defaults) or
// in a `[job NAME]` section; AUTOSNAP_SECTIONS lists which, and nothing else is accepted.
import { UsageError } from '../../core/errors.ts';
import { expandParamFiles, GLOBAL_OPTIONS, parseArgs, type OptionSpec, type Parsed } from '../../cli/args.ts';
import { checkConfig, normKey, type Config, type SectionKeys } from '../../core/config.ts';
import { PVE_SECTION } from '../../cli/pve-section.ts';
import { NOTIFY_SECTION } from '../../domain/notify/section.ts';
import { nowDate } from '../../core/now.ts';
import { parseYesNo } from '../../core/yesno.ts';
import { parseDurationMs } from '../../core/duration.ts';
import { parseFormat, type Format } from '../../core/output.ts';
import { resolveTimeZone } from '../../domain/retention/localtime.ts';
import { DEFAULT_MAX_PARALLEL, DEFAULT_MAX_PER_NODE } from '../../domain/guest-snapshots/schedule.ts';

const COMMANDS = ['snap', 'clean', 'status', 'run', 'plan', 'report', 'check', 'notify'] as const;
type Command = (typeof COMMANDS)[number];

export const POLICY_KEYS = ['keep', 'keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly', 'tiers', 'policy'] as const;

/** What a job reads from its own `[job NAME]` section (before `[autosnap]`). */
const JOB_KEYS = ['vmid', 'label', ...POLICY_KEYS, 'state', 'only-running', 'tags', 'script', 'hook-timeout', 'timestamp-format', 'interval', 'marker', 'report-file'];
/** Settings of the whole run: read from `[autosnap]` (or the command line) only. */
const RUN_KEYS = ['metrics-file', 'max-perc-storage', 'max-parallel', 'max-per-node', 'lock-wait', 'lock-file', 'wait', 'tz', 'output', 'dry-run', 'debug', 'job'];
const runWide = Object.fromEntries(RUN_KEYS.map((k) => [normKey(k), 'it applies to the whole run: set it in [autosnap]']));
const policyHere = Object.fromEntries(
  POLICY_KEYS.filter((k) => k !== 'tiers').map((k) => [normKey(k), 'a retention policy belongs to a [job NAME] section (or --keep on the command line)']),
);

/**
 * The config sections autosnap reads, with every key it understands; anything else is
 * refused before the run starts (a misspelt keep_montly would otherwise drop a rule).
 * A new option read from the config must be added here.
 */
export const AUTOSNAP_SECTIONS: SectionKeys[] = [
  {
    section: 'autosnap',
    // `tiers` here shapes the intraday default job; the other policy keys are a job's own
    keys: [...JOB_KEYS.filter((k) => k === 'tiers' || (!(POLICY_KEYS as readonly string[]).includes(k) && k !== 'label')), ...RUN_KEYS],
    hints: { ...policyHere, label: 'a label belongs to a [job NAME] section (or --label on the command line)' },
  },
  {
    section: 'job *',
    keys: JOB_KEYS,
    hints: { ...runWide, schedule: 'autosnap does not read a schedule: the systemd timers decide when jobs run (write it as a # comment)' },
  },
  PVE_SECTION,
  NOTIFY_SECTION,
];

export const AUTOSNAP_OPTIONS: OptionSpec = {
  string: [
    'label', 'keep', 'keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly',
    'tiers', 'policy', 'script', 'hook-timeout', 'lock-wait', 'lock-file', 'job', 'interval', 'tags', 'metrics-file',
    'from-file', 'at', 'max-age', 'keep-newest', 'html', 'warn', 'crit', 'failed-unit',
    // autosnap's own, not global: no other tool reads them
    'vmid', 'timestamp-format', 'max-perc-storage', 'max-per-node', 'marker',
  ],
  boolean: ['state', 'only-running', 'clean', 'wait', 'test', 'backup-server'],
  // cv4pve 2.x's README spells the hook option --script-hook; its code reads --script
  // (Corsinvest/cv4pve-api-dotnet .../Console/Helpers/CommandOptionExtension.cs)
  alias: { 'script-hook': 'script' },
};

/** Config keys whose empty value is refused instead of read as "not set". */
const BLANK_REFUSED = new Set(['vmid', 'script']);

export interface Invocation {
  command: Command;
  /** `autosnap -clean` / `--clean`: the jobs' cleaning only */
  cleanOnly: boolean;
  args: Parsed;
  /** the options the user actually typed (minimist fills absent booleans with false) */
  typed: Set<string>;
}

/**
 * Parse argv into the command and its options. `-clean` (single dash, as the original
 * script spelled it) would be read by minimist as the letters c-l-e-a-n, so it is
 * rewritten first.
 */
export function parseInvocation(argv: string[]): Invocation {
  const fixed = expandParamFiles(argv, [...GLOBAL_OPTIONS.string, 'o', ...AUTOSNAP_OPTIONS.string!]).map((a) => (a === '-clean' ? '--clean' : a));
  const args = parseArgs(fixed, AUTOSNAP_OPTIONS);
  const positional = args._.map(String);
  let command: Command = 'run';
  if (positional.length) {
    const c = positional[0].toLowerCase();
    if (!(COMMANDS as readonly string[]).includes(c)) {
      throw new UsageError(`unknown command '${positional[0]}' (expected ${COMMANDS.join(', ')})`);
    }
    command = c as Command;
    if (positional.length > 1) throw new UsageError(`unexpected argument '${positional[1]}'`);
  }
  if (args.clean && command !== 'run') throw new UsageError(`--clean goes without a command (it runs the jobs' cleaning); use 'clean --label L --keep N' for one label`);
  return { command, cleanOnly: Boolean(args.clean), args, typed: typedOptions(args, fixed) };
}

/**
 * Where an option's value comes from: the command line, then the given config sections in
 * order (a job's section, then `[autosnap]`). Booleans from the config accept
 * 1/0, yes/no, true/false, on/off.
 */
export class OptionSource {
  constructor(
    readonly args: Parsed,
    readonly config: Config,
    readonly sections: string[],
    /** CLI options that the user typed (minimist sets booleans to false when absent) */
    private readonly typed: Set<string>,
  ) {
    // The base source is built once per run, right after the config is read and before
    // any lock, connection or plan: the place to refuse keys no part of autosnap reads.
    if (sections.length === 1 && sections[0] === 'autosnap') checkConfig(config, AUTOSNAP_SECTIONS);
  }

  /** A source that reads a job section before the defaults; CLI still wins. */
  withSection(name: string): OptionSource {
    return new OptionSource(this.args, this.config, [name, ...this.sections], this.typed);
  }

  /** Only the config (for job keys the CLI must not override, such as a job's label). */
  fromConfig(name: string): string | undefined {
    for (const s of this.sections) {
      // `vmid =` left empty (a template filled by a script that failed) must not fall back
      // to every guest; other keys left empty keep meaning "the default"
      if (BLANK_REFUSED.has(normKey(name)) && this.rawBlank(s, name)) {
        throw new UsageError(`${this.config.path ?? 'config'} [${s}] ${normKey(name)}: empty value; remove the key for its default`);
      }
      const v = this.config.get(s, name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  private rawBlank(section: string, name: string): boolean {
    const sec = this.config.ini.sections.find((x) => x.name.toLowerCase() === section.toLowerCase());
    const v = sec?.values[normKey(name)];
    return v !== undefined && v.trim() === '';
  }

  has(name: string): boolean {
    return this.typed.has(name) || this.fromConfig(name) !== undefined;
  }

  str(name: string): string | undefined {
    if (this.typed.has(name)) {
      const v = this.args[name];
      if (v !== undefined && v !== '' && typeof v !== 'boolean') return String(v);
    }
    return this.fromConfig(name);
  }

  bool(name: string, def = false): boolean {
    if (this.typed.has(name)) return Boolean(this.args[name]);
    const v = this.fromConfig(name);
    if (v === undefined) return def;
    return parseYesNo(v, this.where(name));
  }

  int(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.str(name);
    if (v === undefined) return def;
    const s = v.trim();
    if (/^-\d+$/.test(s)) throw new UsageError(`${this.where(name)}: ${s} is out of range (${min}..${max})`);
    if (!/^\d+$/.test(s)) throw new UsageError(`${this.where(name)}: '${s}' is not a whole number`);
    const n = Number(s);
    if (n < min || n > max) throw new UsageError(`${this.where(name)}: ${n} is out of range (${min}..${max})`);
    return n;
  }

  /** A duration in seconds (fractions kept): plain seconds or 30s / 5m / 2h / 1d. */
  seconds(name: string, def: number): number {
    const v = this.str(name);
    if (v === undefined) return def;
    return parseDurationMs(v, this.where(name)) / 1000;
  }

  /** Name the place a bad value came from, so the user can find it. */
  where(name: string): string {
    if (this.typed.has(name)) return `--${name}`;
    for (const s of this.sections) {
      if (this.config.get(s, name) !== undefined) return `${this.config.path ?? 'config'} [${s}] ${normKey(name)}`;
    }
    return `--${name}`;
  }

  /**
   * The policy options as one flat object (dashed keys), for the policy parser: from the
   * command line only, or from the first (the job's own) section only. A policy is never
   * inherited from `[autosnap]`, where `tiers` configures the intraday default job and
   * would otherwise collide with a job's `keep`.
   */
  policyOptions(fromCli: boolean): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of POLICY_KEYS) {
      let v: string | undefined;
      if (fromCli) {
        const a = this.typed.has(k) ? this.args[k] : undefined;
        v = a === undefined || a === '' || typeof a === 'boolean' ? undefined : String(a);
      } else if (this.sections.length) v = this.config.get(this.sections[0], k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
}

function typedOptions(args: Parsed, argv: string[]): Set<string> {
  const typed = new Set<string>();
  const named = new Set(argv.filter((a) => a.startsWith('-')).map((a) => a.replace(/^--?/, '').replace(/=.*$/, '').replace(/^no-/, '')));
  for (const [k, v] of Object.entries(args)) {
    if (k === '_' || v === undefined) continue;
    if (typeof v === 'boolean' && !named.has(k)) continue;
    typed.add(k);
  }
  return typed;
}

const DEFAULT_LOCK_WAIT = 60;
const DEFAULT_MAX_PERC_STORAGE = 95;

export interface RunSettings {
  now: Date;
  tz: string;
  format: Format;
  dryRun: boolean;
  debug: boolean;
  maxParallel: number;
  maxPerNode: number;
  maxPercStorage: number;
  lockWait: number;
}

export function settingsOf(src: OptionSource): RunSettings {
  return {
    now: nowDate(),
    tz: resolveTimeZone(src.str('tz')),
    format: parseFormat(src.str('output')),
    dryRun: src.bool('dry-run'),
    debug: src.bool('debug'),
    maxParallel: src.int('max-parallel', DEFAULT_MAX_PARALLEL, 1, 1000),
    maxPerNode: src.int('max-per-node', DEFAULT_MAX_PER_NODE, 1, 1000),
    maxPercStorage: src.int('max-perc-storage', DEFAULT_MAX_PERC_STORAGE, 1, 100),
    lockWait: src.seconds('lock-wait', DEFAULT_LOCK_WAIT),
  };
}
