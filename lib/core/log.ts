// One log function for all diagnostic output. Results go to stdout through the output
// module; everything else (progress, warnings, errors) goes here, to stderr, so a tool's
// stdout stays machine-readable with -o json.
//
// Every line passes through redact(): a secret registered once (token secret, password,
// ticket) can never be printed, even inside an error message from a library. A message is
// one line: control characters in it (API text) are shown escaped (lib/core/escape.ts).
import { escapeLine } from './escape.ts';
import { writeErr } from './stdio.ts';

import fs from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secrets = new Set<string>();
let threshold: Level = 'info';
const defaultSink = (line: string) => writeErr(line + '\n');
let sink: (line: string) => void = defaultSink;

export function registerSecret(value: string | undefined | null): void {
  if (value) secrets.add(value);
}

/** Below this length a secret is redacted where it stands alone, not inside every word. */
const SHORT = 4;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A short secret as a whole token: not preceded or followed by a letter or digit. */
const shortRe = (s: string) => new RegExp(`(?<![A-Za-z0-9])${escapeRe(s)}(?![A-Za-z0-9])`, 'g');

export function redact(text: string): string {
  let out = text;
  // longest first: a secret that contains a shorter registered one must vanish whole.
  // A short secret (a weak password like `abc`) is still a secret, but replacing it
  // inside every word would garble the output beyond use: it goes where it stands alone.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    out = s.length >= SHORT ? out.split(s).join('***') : out.replace(shortRe(s), '***');
  }
  return out;
}

/** Every character some registered secret holds (where output may be cut, see printPieces). */
export function secretChars(): Set<string> {
  const out = new Set<string>();
  for (const s of secrets) for (const c of s) out.add(c);
  return out;
}

/** Does the text hold a registered secret (a short one as a whole token)? */
function holdsSecret(text: string): boolean {
  for (const s of secrets) if (s.length >= SHORT ? text.includes(s) : shortRe(s).test(text)) return true;
  return false;
}

/** Environment variables that carry a secret by their name, whatever their value. */
const SECRET_ENV = /(^|_)(SECRET|PASSWORD|PASS|TOKEN|TICKET)(_|$)/i;

/**
 * The environment for a program this tool starts (a hook script, pvesh, qm): ours, less
 * every variable that holds a secret by name or contains a registered secret, plus extra.
 * A hook is the admin's own script, but it has no business holding the API secret.
 */
export function childEnv(extra: Record<string, string | undefined> = {}, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_ENV.test(k)) continue;
    if (holdsSecret(v)) continue;
    out[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out;
}

export function setLogLevel(level: Level): void {
  threshold = level;
}
export function logLevel(): Level {
  return threshold;
}
/** Redirect output (tests, or a tool that also writes a log file). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

// Under systemd, stderr is a stream into the journal and JOURNAL_STREAM holds its
// "device:inode"; a line that starts with <N> then gets syslog priority N (sd-daemon(3)),
// so `journalctl -p err -u autosnap` shows the failures alone. Anywhere else (a terminal,
// a pipe, a file) the lines stay as they are.
const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };
let journalFds: Set<number> | undefined;
/** Whether file descriptor fd (1 stdout, 2 stderr) is the journal's stream. */
export function isJournal(fd: number): boolean {
  if (!journalFds) {
    journalFds = new Set();
    const m = /^(\d+):(\d+)$/.exec(process.env.JOURNAL_STREAM ?? '');
    for (const f of m ? [1, 2] : []) {
      try {
        const st = fs.fstatSync(f);
        if (String(st.dev) === m![1] && String(st.ino) === m![2]) journalFds.add(f);
      } catch {
        // a closed descriptor is no journal
      }
    }
  }
  return journalFds.has(fd);
}
/** `<N>` for a line of this level on stderr when stderr is the journal, else ''. */
export function priorityPrefix(level: Level): string {
  return isJournal(2) ? `<${PRIORITY[level]}>` : '';
}

function log(level: Level, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const tag = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : level === 'debug' ? 'debug: ' : '';
  // a newline inside a message is API text (a guest name, a PVE error): shown as \n, it
  // cannot forge a line of its own; trailing blanks from a PVE message are dropped
  const pri = sink === defaultSink ? priorityPrefix(level) : '';
  sink(`${pri}${tag}${escapeLine(redact(message).trimEnd())}`);
}

/** One line to stderr as is, without a level tag (result lines that belong there), escaped. */
export function stderrLine(line: string): void {
  sink(`${escapeLine(redact(line))}`);
}

export const debug = (m: string) => log('debug', m);
export const info = (m: string) => log('info', m);
export const warn = (m: string) => log('warn', m);
export const error = (m: string) => log('error', m);
