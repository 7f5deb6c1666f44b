// Notifications for runs nobody watches. On a Proxmox VE node they go through PVE's own
// notification system (PVE::Notify), so the targets and matchers the admin already set up
// (sendmail, SMTP, Gotify, webhooks) route them; elsewhere through the system's sendmail
// to the `mailto` of the config's [notify] section.
//
// PVE::Notify (proxmox/pve-cluster, src/PVE/Notify.pm) takes
//   PVE::Notify::error($template_name, $template_data, $fields [, $config])
// (likewise info, notice, warning; notify($severity, ...) in front of them) and hands it to
// the Rust side (Proxmox::RS::Notify, proxmox/proxmox-perl-rs), which renders
// <template_name>-subject.txt.hbs and <template_name>-body.txt.hbs from
// /usr/share/pve-manager/templates/default/ (proxmox/pve-manager, templates/default/ holds
// vzdump's, package-updates' and replication's) with $template_data. $fields are the
// metadata a matcher matches on (`match-field exact:type=vzdump`): pve-manager's
// PVE/VZDump.pm sends { type => 'vzdump', hostname => ..., 'job-id' => ... } and
// PVE/API2/APT.pm { type => 'package-updates', hostname => ... }. The bundle ships its own
// pair of templates, named `autosnap`, that print the title and the message as they are.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../core/config.ts';
import { UsageError } from '../../core/errors.ts';
import { childEnv, redact } from '../../core/log.ts';

const NOTIFY_MODES = ['failure', 'always', 'never'] as const;
export type NotifyMode = (typeof NOTIFY_MODES)[number];
export type Severity = 'info' | 'notice' | 'warning' | 'error';

const DEFAULT_SENDMAIL = '/usr/sbin/sendmail';
const DEFAULT_SKIPPED_RUNS = 3;
/** The template pair the bundle installs next to PVE's own. */
const PVE_TEMPLATE = 'autosnap';
const PERL = '/usr/bin/perl';

export { NOTIFY_SECTION } from './section.ts';

export interface NotifySettings {
  mode: NotifyMode;
  mailto?: string;
  /** the sendmail-compatible program of the fallback (it reads the recipients with -t) */
  sendmail: string;
  /** a guest skipped this many runs of a job in a row makes a warning */
  skippedRuns: number;
}

const ADDRESS = /^[^\s@,<>"]+@[^\s@,<>"]+$/;

export function notifySettings(config: Config): NotifySettings {
  const where = (k: string) => `${config.path ?? 'config'} [notify] ${k}`;
  const modeText = (config.get('notify', 'mode') ?? 'failure').trim().toLowerCase();
  if (!(NOTIFY_MODES as readonly string[]).includes(modeText)) throw new UsageError(`${where('mode')}: '${modeText}' is not one of ${NOTIFY_MODES.join(', ')}`);
  const mailto = config.get('notify', 'mailto')?.trim();
  if (mailto !== undefined) {
    for (const a of mailto.split(/\s*,\s*/)) if (!ADDRESS.test(a)) throw new UsageError(`${where('mailto')}: '${a}' is not a mail address`);
  }
  const sendmail = config.get('notify', 'sendmail')?.trim() ?? DEFAULT_SENDMAIL;
  if (!path.isAbsolute(sendmail)) throw new UsageError(`${where('sendmail')}: '${sendmail}' is not an absolute path`);
  const runsText = config.get('notify', 'skipped_runs')?.trim();
  let skippedRuns = DEFAULT_SKIPPED_RUNS;
  if (runsText !== undefined) {
    if (!/^\d+$/.test(runsText) || Number(runsText) < 1) throw new UsageError(`${where('skipped_runs')}: '${runsText}' is not a whole number of at least 1`);
    skippedRuns = Number(runsText);
  }
  return { mode: modeText as NotifyMode, mailto, sendmail, skippedRuns };
}

export type NotifyPath = { kind: 'pve' } | { kind: 'sendmail'; program: string; to: string } | { kind: 'none'; why: string };

let pveCache: boolean | undefined;
/** Whether PVE::Notify can be loaded by the system's Perl (true on a PVE node). */
async function pveNotifyAvailable(): Promise<boolean> {
  if (pveCache === undefined) pveCache = fs.existsSync(PERL) && (await runChild(PERL, ['-e', 'require PVE::Notify; exit 0'], '')).code === 0;
  return pveCache;
}

/** Which way a notification takes now. */
export async function notifyPath(s: NotifySettings): Promise<NotifyPath> {
  if (await pveNotifyAvailable()) return { kind: 'pve' };
  if (!s.mailto) return { kind: 'none', why: 'PVE::Notify is not available (not a Proxmox VE node) and [notify] mailto is not set' };
  if (!isExecutable(s.sendmail)) return { kind: 'none', why: `PVE::Notify is not available and ${s.sendmail} is not an executable program` };
  return { kind: 'sendmail', program: s.sendmail, to: s.mailto };
}

export function describePath(p: NotifyPath): string {
  if (p.kind === 'pve') return `through PVE::Notify (the node's notification targets and matchers, template '${PVE_TEMPLATE}')`;
  if (p.kind === 'sendmail') return `by mail to ${p.to} through ${p.program}`;
  return `nowhere: ${p.why}`;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export interface Notification {
  severity: Severity;
  title: string;
  message: string;
  /** metadata for matchers: type, job, hostname, ... */
  fields: Record<string, string>;
}

/** The node's short name, as PVE::INotify::nodename() gives it. */
export function nodeName(): string {
  return os.hostname().split('.')[0];
}

// The Perl side: PVE::Notify's severity functions with the bundle's template pair. The
// title and the fields come as arguments, the message on stdin (it can be long). The
// common template data (hostname, fqdn, cluster-name) is added where PVE offers it.
const PERL_SENDER = String.raw`
use strict;
use warnings;
use PVE::Notify;
my ($severity, $template, $title, @pairs) = @ARGV;
binmode(STDIN, ':encoding(UTF-8)');
my $message = do { local $/; <STDIN> } // '';
my %fields = map { my ($k, $v) = split(/=/, $_, 2); ($k => $v) } @pairs;
my $data = PVE::Notify->can('common_template_data') ? PVE::Notify::common_template_data() : {};
$data->{title} = $title;
$data->{message} = $message;
my $send = PVE::Notify->can($severity) or die "PVE::Notify has no '$severity'\n";
$send->($template, $data, \%fields);
`;

/** Send one notification the way notifyPath says; returns that way, or throws. */
export async function sendNotification(n: Notification, s: NotifySettings): Promise<NotifyPath> {
  const p = await notifyPath(s);
  const title = redact(n.title);
  const message = redact(n.message);
  if (p.kind === 'pve') {
    const pairs = Object.entries(n.fields).map(([k, v]) => `${k}=${redact(v)}`);
    const r = await runChild(PERL, ['-e', PERL_SENDER, n.severity, PVE_TEMPLATE, title, ...pairs], message);
    if (r.code === 0) return p;
    // a node without our templates (or an older PVE::Notify) still has the mail fallback
    const why = r.stderr.trim().split('\n').pop() || `perl exited ${r.code}`;
    if (s.mailto && isExecutable(s.sendmail)) {
      const mail: NotifyPath = { kind: 'sendmail', program: s.sendmail, to: s.mailto };
      await sendMail(n, mail, title, message);
      return mail;
    }
    throw new Error(`PVE::Notify: ${why}`);
  }
  if (p.kind === 'sendmail') {
    await sendMail(n, p, title, message);
    return p;
  }
  throw new Error(p.why);
}

/** The mail as sendmail -t reads it: headers (recipients in To:), a blank line, the body. */
export function mailText(n: Notification, to: string, title: string, message: string): string {
  const ascii = /^[\x20-\x7e]*$/.test(title);
  const subject = ascii ? title : `=?UTF-8?B?${Buffer.from(title, 'utf8').toString('base64')}?=`;
  const headers = [
    `To: ${to}`,
    `Subject: ${subject.replace(/[\r\n]+/g, ' ')}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    // RFC 3834: no vacation replies to a machine
    'Auto-Submitted: auto-generated',
    `X-Autosnap-Severity: ${n.severity}`,
    ...Object.entries(n.fields).map(([k, v]) => `X-Autosnap-${k.replace(/[^A-Za-z0-9-]/g, '-')}: ${v.replace(/[\r\n]+/g, ' ')}`),
  ];
  return headers.join('\n') + '\n\n' + message.replace(/\r?\n/g, '\n') + (message.endsWith('\n') ? '' : '\n');
}

async function sendMail(n: Notification, p: Extract<NotifyPath, { kind: 'sendmail' }>, title: string, message: string): Promise<void> {
  // -i: a line holding a single dot (in a failure text) must not end the message early
  const r = await runChild(p.program, ['-t', '-i'], mailText(n, p.to, title, message));
  if (r.code !== 0) throw new Error(`${p.program} -t exited ${r.code}: ${redact(r.stderr.trim().split('\n').pop() ?? '')}`);
}

function runChild(cmd: string, args: string[], input: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: childEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stderr: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
