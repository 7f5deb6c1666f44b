// A small INI reader for /etc/autosnap/autosnap.conf and the original ONTAP tool's
// config.ini. Sections keep their order (jobs run in file order); keys are lower-cased,
// values keep their case. `;` and `#` start comments at the start of a line only, because
// passwords may contain them.
import { UsageError } from './errors.ts';

export interface IniSection {
  name: string;
  /** line number of the [section] header, for error messages */
  line: number;
  values: Record<string, string>;
  /** line number of each key as written (lower-cased), for error messages */
  lines?: Record<string, number>;
}
export interface IniFile {
  /** keys before the first section */
  global: Record<string, string>;
  /** line number of each key before the first section */
  globalLines?: Record<string, number>;
  sections: IniSection[];
}

export function parseIni(text: string, source = 'config'): IniFile {
  const out: IniFile = { global: {}, globalLines: {}, sections: [] };
  let cur: Record<string, string> = out.global;
  let curLines: Record<string, number> = out.globalLines!;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw || raw.startsWith('#') || raw.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(raw);
    if (sec) {
      const s: IniSection = { name: sec[1].trim(), line: i + 1, values: {}, lines: {} };
      out.sections.push(s);
      cur = s.values;
      curLines = s.lines!;
      continue;
    }
    const eq = raw.search(/[=:]/);
    // The line is not repeated: a malformed line is as likely a secret with its '='
    // forgotten (`api_token_secret 1234-...`) or pasted on its own, and the message goes
    // to stderr and the journal before any secret of the file is known to the redactor.
    // A key with a blank in it (`wol_password aa:bb:...`, split at the first ':') is
    // such a line too: quoting it as an unknown key would show part of the value.
    if (eq <= 0 || /\s/.test(raw.slice(0, eq).trim())) {
      throw new UsageError(`${source}:${i + 1}: expected 'key = value' or '[section]' (the line is not shown: it may hold a secret)`);
    }
    const key = raw.slice(0, eq).trim().toLowerCase();
    let value = raw.slice(eq + 1).trim();
    if (value.length >= 2 && /^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    // defined, not assigned: `__proto__ = x` assigned sets no key, and the unknown key
    // would pass unseen instead of being refused as every other
    const own = { enumerable: true, writable: true, configurable: true };
    Object.defineProperty(cur, key, { ...own, value });
    Object.defineProperty(curLines, key, { ...own, value: i + 1 });
  }
  return out;
}
