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
export function loadConfig(args: { config?: unknown }, env: Record<string, string | undefined> = process.env): Config {
  const explicit = typeof args.config === 'string' && args.config !== '' ? args.config : env.AUTOSNAP_CONFIG || undefined;
  const file = explicit ?? DEFAULT_CONFIG_PATH;
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
      if (!isSecretKey(k) || !v) continue;
      registerSecret(v);
      // a token written as USER@REALM!ID=SECRET: the secret part alone must never show
      const eq = v.indexOf('=');
      if (eq > 0 && /!/.test(v.slice(0, eq))) registerSecret(v.slice(eq + 1));
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
