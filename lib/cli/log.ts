// One log function for all diagnostic output. Results go to stdout through the output
// module; everything else (progress, warnings, errors) goes here, to stderr, so a tool's
// stdout stays machine-readable with -o json.
//
// Every line passes through redact(): a secret registered once (token secret, password,
// ticket) can never be printed, even inside an error message from a library.

import fs from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secrets = new Set<string>();
let threshold: Level = 'info';
const defaultSink = (line: string) => void process.stderr.write(line + '\n');
let sink: (line: string) => void = defaultSink;
let prefix = '';

export function registerSecret(value: string | undefined | null): void {
  // very short values would redact ordinary words; real secrets are long
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  // longest first: a secret that contains a shorter registered one must vanish whole
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return out;
}

/** Environment variables that carry a secret by their name, whatever their value. */
const SECRET_ENV = /(^|_)(SECRET|PASSWORD|PASS|TOKEN|TICKET)(_|$)/i;

/**
 * The environment for a program this tool starts (a hook script, pvesh, qm): ours, less
 * every variable that holds a secret by name or contains a registered secret, plus extra.
 * A hook is the admin's own script, but it has no business holding the API secret.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const values = [...secrets];
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || SECRET_ENV.test(k)) continue;
    if (values.some((s) => v.includes(s))) continue;
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
/** Prefix every line (the tool's name, for syslog-like output). */
export function setLogPrefix(p: string): void {
  prefix = p;
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

export function log(level: Level, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const tag = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : level === 'debug' ? 'debug: ' : '';
  const pri = sink === defaultSink ? priorityPrefix(level) : '';
  for (const line of redact(message).split('\n')) sink(`${pri}${prefix}${tag}${line}`);
}

export const debug = (m: string) => log('debug', m);
export const info = (m: string) => log('info', m);
export const warn = (m: string) => log('warn', m);
export const error = (m: string) => log('error', m);
