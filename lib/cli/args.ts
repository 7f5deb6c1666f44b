// Argument parsing shared by every tool: minimist underneath, plus
//  - `@file.parm` parameter files (cv4pve-autosnap compatible: one argument per line),
//  - rejection of unknown options with one line naming the option,
//  - the global options every tool accepts (connection, output, config, logging).
import fs from 'node:fs';
import minimist from 'minimist';
import { UsageError } from '../core/errors.ts';
import { parseYesNo } from '../core/yesno.ts';
import { GLOBAL_OPTION_TABLE } from './help.ts';

export interface OptionSpec {
  /** options that take a value */
  string?: string[];
  /** flags */
  boolean?: string[];
  alias?: Record<string, string | string[]>;
  default?: Record<string, unknown>;
  /** options that may be given several times (their value becomes an array) */
  multi?: string[];
}

/**
 * Options every tool of the bundle understands, with the same meaning everywhere; from
 * the table the help block is rendered from (lib/cli/help.ts).
 */
export const GLOBAL_OPTIONS: Required<Pick<OptionSpec, 'string' | 'boolean' | 'alias'>> = {
  string: GLOBAL_OPTION_TABLE.filter((o) => o.arg).map((o) => o.name),
  boolean: GLOBAL_OPTION_TABLE.filter((o) => !o.arg).map((o) => o.name),
  alias: Object.fromEntries(GLOBAL_OPTION_TABLE.filter((o) => o.short).map((o) => [o.short!, o.name])),
};

/** Global options that take a value, with their one-letter aliases. */
const GLOBAL_VALUE_OPTIONS = [...GLOBAL_OPTIONS.string, ...GLOBAL_OPTION_TABLE.filter((o) => o.short && o.arg).map((o) => o.short!)];

/**
 * Expand `@file` arguments: each non-empty line of the file is one argument, as if typed.
 * A line `--key value` is split at the first blank, since people write them that way.
 * Lines starting with `#` are comments. Files may include other files, up to a depth.
 * An `@x` that is the value of an option (`--vmid @bogus`) is never a file: `valueOptions`
 * names the options that take a value (default: the global ones).
 */
/** Options whose value may be a secret (a password, a token with its secret, a ticket). */
const SECRET_OPTION = /pass|token|secret|ticket/i;

export function expandParamFiles(argv: string[], valueOptions: Iterable<string> = GLOBAL_VALUE_OPTIONS): string[] {
  return expand(argv, new Set(valueOptions), 0);
}

function expand(argv: string[], valueOptions: Set<string>, depth: number): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const prev = out[out.length - 1];
    const isValue = prev !== undefined && /^--?[^-=][^=]*$/.test(prev) && valueOptions.has(prev.replace(/^--?/, ''));
    if (!arg.startsWith('@') || arg.length === 1 || isValue || looksLikeSelector(arg)) {
      out.push(arg);
      continue;
    }
    if (depth > 4) throw new UsageError(`parameter file ${arg.slice(1)}: nested too deeply`);
    const file = arg.slice(1);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e: any) {
      // `@bogus` is as likely a mistyped selector as a missing file: say both
      if (e?.code === 'ENOENT') throw new UsageError(`unknown selector or missing parameter file '${arg}'`);
      throw new UsageError(`cannot read parameter file ${file}: ${e.code ?? e.message}`);
    }
    const lines: string[] = [];
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const m = /^(--?[A-Za-z][\w-]*)\s+(.+)$/.exec(line);
      // the option name cannot hold '=', so `--api-token USER@REALM!ID=SECRET` splits too
      if (m) lines.push(m[1], m[2]);
      else lines.push(line);
    }
    out.push(...expand(lines, valueOptions, depth + 1));
  }
  return out;
}

/** `@all`, `@all-pve1`, `@pool-x`, `@tag-x` and lists are guest selectors, not files. */
function looksLikeSelector(arg: string): boolean {
  return /^@(all($|-)|pool-|tag-)/i.test(arg) || arg.includes(',');
}

export type Parsed = minimist.ParsedArgs;

/** Parse argv; unknown options are an error naming the first one. */
export function parseArgs(argv: string[], spec: OptionSpec = {}, opts: { global?: boolean } = { global: true }): Parsed {
  const string = [...(opts.global === false ? [] : GLOBAL_OPTIONS.string), ...(spec.string ?? [])];
  const boolean = [...(opts.global === false ? [] : GLOBAL_OPTIONS.boolean), ...(spec.boolean ?? [])];
  const alias = { ...(opts.global === false ? {} : GLOBAL_OPTIONS.alias), ...(spec.alias ?? {}) };
  const known = new Set<string>([...string, ...boolean]);
  for (const [k, v] of Object.entries(alias)) {
    known.add(k);
    for (const a of Array.isArray(v) ? v : [v]) known.add(a);
  }
  let unknown: string | undefined;
  const stringSet = new Set(string);
  for (const [k, v] of Object.entries(alias)) if (stringSet.has(String(v))) stringSet.add(k);
  const boolSet = new Set(boolean);
  for (const [k, v] of Object.entries(alias)) if (boolSet.has(String(v))) boolSet.add(k);
  const joined = normaliseArgs(expandParamFiles(argv, stringSet), stringSet, boolSet, alias);
  // a name every object inherits (--constructor, --__proto__): minimist looks options up in
  // plain objects and would crash on it before the unknown() below could name it
  for (const arg of joined) {
    if (arg === '--') break;
    const name = /^--(?:no-)?([^=]+)/.exec(arg)?.[1];
    if (name !== undefined && !known.has(name) && name in {}) throw new UsageError(`unknown option '${arg.replace(/=.*$/, '')}' (see --help)`);
  }
  const parsed = minimist(joined, {
    string,
    boolean,
    alias,
    default: spec.default,
    unknown: (arg) => {
      if (arg.startsWith('-') && arg !== '-' && unknown === undefined) {
        const name = arg.replace(/^--?/, '').replace(/=.*$/, '').replace(/^no-/, '');
        // a negative number or a selector exclusion like -100 or -@pool-x is a value, not an option
        if (!known.has(name) && !/^-[\d@]/.test(arg)) unknown = arg.replace(/=.*$/, '');
      }
      return true;
    },
  });
  if (unknown !== undefined) throw new UsageError(`unknown option '${unknown}' (see --help)`);
  const multi = new Set(spec.multi ?? []);
  // a one-letter alias is reported by its long name
  const longName = (key: string) => {
    const a = alias[key];
    return Array.isArray(a) ? a[0] : (a ?? key);
  };
  for (const key of Object.keys(parsed)) {
    if (key === '_') continue;
    const v = parsed[key];
    // minimist turns a repeated option into an array; only some options may repeat. Which
    // of `--keep 3 --keep 1` was meant cannot be known (a parameter file and the command
    // line, or a script appending to a variable): refuse rather than guess
    if (Array.isArray(v) && !multi.has(key)) {
      // no secret is registered yet at this point, so redaction cannot hide one: an option
      // that may carry one (cv4pve's --password, --api-token ID=SECRET) is named without values
      const shown = SECRET_OPTION.test(longName(key)) ? '' : ` (${v.map((x) => `'${x}'`).join(', ')})`;
      throw new UsageError(`--${longName(key)} is given ${v.length} times${shown}; give it once`);
    }
    if (multi.has(key) && v !== undefined && !Array.isArray(v)) parsed[key] = [v];
    // `--vmid "$VMS"` with the variable unset must not mean the default (every guest):
    // an empty value given on purpose is refused, the option left out means the default
    if (stringSet.has(key) && !ALLOW_EMPTY.has(key)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        if (typeof x === 'string' && x.trim() === '') throw new UsageError(`--${longName(key)}: empty value${x === '' ? '' : ' (only blanks)'}; leave the option out for its default`);
      }
    }
  }
  return parsed;
}

/**
 * The arguments as minimist should see them: a flag's `=value` read as yes/no, and the
 * value of an option that starts with a dash joined to it.
 */
function normaliseArgs(expanded: string[], stringSet: Set<string>, boolSet: Set<string>, alias: Record<string, string | string[]>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < expanded.length; i++) {
    const a = expanded[i];
    const name = a.replace(/^--?/, '');
    const next = expanded[i + 1];
    const flag = /^--?([^=]+)=(.*)$/s.exec(a);
    if (flag && boolSet.has(flag[1])) {
      // minimist reads every value but `false` after a flag's `=` as true, so `--yes=no`
      // would mean yes: the value is read as the config files read one
      const long = alias[flag[1]];
      joined.push(`--${parseYesNo(flag[2], `--${typeof long === 'string' ? long : flag[1]}`) ? '' : 'no-'}${flag[1]}`);
    } else if (flag && flag[1].startsWith('no-') && boolSet.has(flag[1].slice(3))) {
      // minimist keeps `--no-dry-run=no` as an option of its own and leaves the flag at its
      // default: the double negative, meant as a dry run, would run for real
      throw new UsageError(`--${flag[1]} takes no value; give --${flag[1].slice(3)}=yes|no or --${flag[1]} alone`);
    } else if (a.startsWith('-') && !a.includes('=') && stringSet.has(name) && next !== undefined && /^-[\d@]/.test(next)) {
      // minimist would read `--vmid -100:200` as the flag -1; a value that starts with a dash
      // and a digit or @ (a selector exclusion) belongs to the option before it.
      joined.push(`${a.startsWith('--') ? '--' : '-'}${name}=${next}`);
      i++;
    } else joined.push(a);
  }
  return joined;
}

/**
 * Options whose empty value means something: an empty snapshot description, and
 * `--keep-newest`, a flag that also takes yes/no (`--keep-newest` alone is '').
 */
const ALLOW_EMPTY = new Set(['description', 'keep-newest']);

/** Read an integer option with bounds; names the option in the error. */
export function intOption(args: Parsed, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = args[name];
  if (v === undefined || v === '') return def;
  const s = String(v).trim();
  if (!/^-?\d+$/.test(s)) throw new UsageError(`--${name}: '${s}' is not a whole number`);
  const n = Number(s);
  if (n < min || n > max) throw new UsageError(`--${name}: ${n} is out of range (${min}..${max})`);
  return n;
}

