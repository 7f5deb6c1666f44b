// The config file (/etc/autosnap/autosnap.conf, INI) and secret files. Both refuse to read a
// secret that other users can read too: a secret in a world-readable file is already
// leaked, and saying so at once is kinder than finding out from an audit.
import fs from 'node:fs';
import { UsageError } from './errors.ts';
import { parseIni, type IniFile, type IniSection } from './ini.ts';
import { registerSecret } from './log.ts';

export const DEFAULT_CONFIG_PATH = '/etc/autosnap/autosnap.conf';

export interface Config {
  /** the file read, if any */
  path?: string;
  ini: IniFile;
  /** a value from a section (case-insensitive name; '' for keys before any section) */
  get(section: string, key: string): string | undefined;
  /** sections whose name starts with prefix (case-insensitive), in file order */
  sections(prefix: string): IniSection[];
}

/** Keys whose value is (or contains) a secret. `*_file` keys hold a path, not a secret. */
export function isSecretKey(key: string): boolean {
  const k = normKey(key);
  if (/_file$/.test(k) || /_path$/.test(k)) return false;
  return /(^|_)(password|passwd|pass|secret|api_token|token|passphrase|private_key)$/.test(k) || /secret/.test(k);
}

/** `max-parallel` and `max_parallel` are one key. */
export function normKey(key: string): string {
  return key.trim().toLowerCase().replace(/-/g, '_');
}

/**
 * The secret inside a secret key's value. A token key (`api_token`, `token`) may hold the
 * token id alone (`USER@REALM!ID`) or the whole token (`USER@REALM!ID=SECRET`): only the
 * part after the id is secret. The id must stay readable, since every message about the
 * token names it; anything else in a secret key is secret as a whole.
 */
export function secretOf(key: string, value: string): string | undefined {
  const v = value.trim();
  if (!v) return undefined;
  if (!/(^|_)token$/.test(normKey(key))) return v;
  const m = /^(?:PVEAPIToken[= ])?([^=\s]+)(?:[=\s]+(.*))?$/.exec(v);
  if (!m || !/^[^@!]+@[^@!]+![^@!]+$/.test(m[1])) return v;
  return m[2]?.trim() || undefined;
}

/** Who besides the owner may read a file with this mode ("others" covers everyone). */
export function readableBy(mode: number): 'group' | 'others' | undefined {
  if (mode & 0o004) return 'others';
  if (mode & 0o040) return 'group';
  return undefined;
}

const octal = (mode: number) => '0' + (mode & 0o777).toString(8).padStart(3, '0');

export function configFromIni(ini: IniFile, path?: string): Config {
  // normalise keys once, so every reader can use one spelling
  const norm = (values: Record<string, string>) => {
    for (const k of Object.keys(values)) {
      const n = normKey(k);
      if (n !== k) {
        values[n] = values[k];
        delete values[k];
      }
    }
  };
  norm(ini.global);
  for (const s of ini.sections) norm(s.values);
  return {
    path,
    ini,
    get(section: string, key: string) {
      const values = section === '' ? ini.global : ini.sections.find((s) => s.name.toLowerCase() === section.toLowerCase())?.values;
      const v = values?.[normKey(key)];
      return v === undefined || v === '' ? undefined : v;
    },
    sections(prefix: string) {
      const p = prefix.toLowerCase();
      return ini.sections.filter((s) => s.name.toLowerCase().startsWith(p));
    },
  };
}

export function parseConfig(text: string, path?: string): Config {
  return configFromIni(parseIni(text, path ?? 'config'), path);
}

export const EMPTY_CONFIG: Config = configFromIni({ global: {}, sections: [] });

/**
 * Load the config named by `--config`, else `AUTOSNAP_CONFIG`, else the default path. A
 * missing default file is an empty config; a missing file the user named is an error.
 */
export function loadConfig(
  args: { config?: unknown },
  env: Record<string, string | undefined> = process.env,
  defaultPath = DEFAULT_CONFIG_PATH,
): Config {
  const explicit = typeof args.config === 'string' && args.config !== '' ? args.config : env.AUTOSNAP_CONFIG || undefined;
  const file = explicit ?? defaultPath;
  let text: string;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
    if (st.isDirectory()) throw new UsageError(`config ${file}: is a directory`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    if (e instanceof UsageError) throw e;
    if (e?.code === 'ENOENT' && !explicit) return EMPTY_CONFIG;
    throw new UsageError(`cannot read config ${file}: ${e?.code ?? e?.message}`);
  }
  const cfg = parseConfig(text, file);
  const secretKeys: string[] = [];
  for (const values of [cfg.ini.global, ...cfg.ini.sections.map((s) => s.values)]) {
    for (const [k, v] of Object.entries(values)) {
      const secret = isSecretKey(k) ? secretOf(k, v) : undefined;
      if (!secret) continue;
      registerSecret(secret);
      if (!secretKeys.includes(k)) secretKeys.push(k);
    }
  }
  const who = readableBy(st.mode);
  if (secretKeys.length && who) {
    throw new UsageError(`${file}: mode ${octal(st.mode)} is readable by ${who} and holds a secret (${secretKeys.join(', ')}); chmod 600 it`);
  }
  return cfg;
}

/**
 * Read a secret from a file: the first line, trimmed. Refuses a file that group or others
 * can read. The value is registered for redaction before it is returned.
 */
export function readSecretFile(file: string, what = 'secret'): string {
  let st: fs.Stats;
  let text: string;
  try {
    st = fs.statSync(file);
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    throw new UsageError(`cannot read ${what} file ${file}: ${e?.code ?? e?.message}`);
  }
  const value = text.split(/\r?\n/)[0].trim();
  registerSecret(value);
  const who = readableBy(st.mode);
  if (who) throw new UsageError(`${file}: mode ${octal(st.mode)} is readable by ${who}; chmod 600 it`);
  if (!value) throw new UsageError(`${what} file ${file} is empty`);
  return value;
}

// ---------------------------------------------------------------- known sections and keys
// One file configures every tool of the bundle, and an INI reader happily returns keys
// nobody asked for: a misspelt `keep_montly` would silently drop a retention rule, and
// the snapshots the user meant to keep would be deleted. So every tool refuses, before
// it does anything, a key its own sections do not know and a section no tool owns.

/** The keys of one section a tool reads: `section` is a name, or `job *` for `[job NAME]`. */
export interface SectionKeys {
  section: string;
  keys: readonly string[];
  /** a note for keys that look like they belong elsewhere: key → hint */
  hints?: Record<string, string>;
}

/** Every section of the bundle config and who reads it; the owner checks its keys. */
const BUNDLE_SECTIONS: ReadonlyArray<{ section: string; owner: string }> = [
  { section: 'pve', owner: 'every tool (the Proxmox VE connection)' },
  { section: 'autosnap', owner: 'autosnap' },
  { section: 'job *', owner: 'autosnap' },
  { section: 'backup', owner: 'backup-hook, backup-wakeup, backup-sync' },
  { section: 'notify', owner: 'autosnap, backup-hook, backup-wakeup, backup-sync (notifications)' },
  { section: 'ontap', owner: 'ontap-snapshot' },
  { section: 'ontap *', owner: 'ontap-snapshot' },
  // the original ONTAP tool's config.ini, which ontap-snapshot still reads
  { section: 'proxmox', owner: 'ontap-snapshot (original config.ini layout)' },
  { section: 'default', owner: 'ontap-snapshot (original config.ini layout)' },
];

/** Keys the original ONTAP tool's layout may have before any section. */
const LEGACY_GLOBAL_KEYS = ['proxmox_host', 'proxmox_user', 'proxmox_pass', 'proxmox_verify'];
/** The original ONTAP layout's per-storage section `[<storageid>]`. */
const LEGACY_STORAGE_KEYS = ['host', 'user', 'pass', 'verify'];

function matchesSection(pattern: string, name: string): boolean {
  const n = name.trim().toLowerCase();
  // `[job]` without a name counts as a job section: jobsFromConfig names what is missing
  if (pattern.endsWith(' *')) return new RegExp(`^${pattern.slice(0, -2)}(\\s|$)`).test(n);
  return n === pattern;
}

/** Edit distance (insert, delete, replace, swap of neighbours), for did-you-mean. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The nearest candidate, if it is near enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return bestD <= limit ? best : undefined;
}

function keyLines(values: Record<string, string>, lines: Record<string, number> | undefined): Array<[string, number | undefined]> {
  // the keys as written (lines) when the parser kept them, else the normalised ones
  return lines && Object.keys(lines).length ? Object.entries(lines) : Object.keys(values).map((k) => [k, undefined]);
}

/**
 * Refuse keys the tool's own sections do not know, and sections no tool of the bundle
 * owns. One line naming the key, its section, the file and line; a near miss gets a
 * did-you-mean. Sections owned by another tool are left to that tool.
 */
export function checkConfig(config: Config, own: readonly SectionKeys[]): void {
  const file = config.path ?? 'config';
  const at = (line: number | undefined) => (line ? `${file}:${line}` : file);
  for (const [key, line] of keyLines(config.ini.global, config.ini.globalLines)) {
    if (LEGACY_GLOBAL_KEYS.includes(normKey(key))) continue;
    throw new UsageError(`key '${key}' is outside any section (${at(line)}); put it under the section it belongs to, e.g. [pve] or [autosnap]`);
  }
  const ownNames = own.map((o) => o.section);
  for (const sec of config.ini.sections) {
    const mine = own.find((o) => matchesSection(o.section, sec.name));
    if (mine) {
      const known = mine.keys.map(normKey);
      for (const [key, line] of keyLines(sec.values, sec.lines)) {
        const k = normKey(key);
        if (known.includes(k)) continue;
        // own keys only: `constructor` would find Object and print its source as the hint
        let hint = mine.hints && Object.hasOwn(mine.hints, k) ? mine.hints[k] : undefined;
        if (!hint) {
          const near = nearest(k, known);
          const elsewhere = own.find((o) => o !== mine && o.keys.map(normKey).includes(k));
          hint = near ? `did you mean '${near}'?` : elsewhere ? `it belongs in [${elsewhere.section.replace(' *', ' NAME')}]` : `known keys: ${known.join(', ')}`;
        }
        throw new UsageError(`unknown key '${key}' in [${sec.name}] (${at(line)}); ${hint}`);
      }
      continue;
    }
    if (BUNDLE_SECTIONS.some((b) => matchesSection(b.section, sec.name))) continue;
    const keys = Object.keys(sec.values).map(normKey);
    if (keys.includes('host') && keys.every((k) => LEGACY_STORAGE_KEYS.includes(k))) continue;
    const name = sec.name.trim().toLowerCase();
    const [head, ...rest] = name.split(/\s+/);
    const heads = [...new Set([...ownNames, ...BUNDLE_SECTIONS.map((b) => b.section)].map((s) => s.replace(' *', '')))];
    const near = nearest(head, heads);
    const guess = near ? (rest.length ? `[${near} ${rest.join(' ')}]` : `[${near}]`) : undefined;
    throw new UsageError(
      `unknown section [${sec.name}] (${at(sec.line)}); ${guess ? `did you mean ${guess}?` : `sections are ${BUNDLE_SECTIONS.map((b) => `[${b.section.replace(' *', ' NAME')}]`).filter((x, i, a) => a.indexOf(x) === i).join(', ')}`}`,
    );
  }
}
