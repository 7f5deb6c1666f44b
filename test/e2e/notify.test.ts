// Notifications end to end: the compiled executable against the simulator, sending through
// a stand-in PVE::Notify (test/fixtures/perl, on PERL5LIB, recording each call with the
// real signature) and, where PVE::Notify is missing, through msmtp as sendmail into
// postfix's smtp-sink, a real SMTP server that writes each message it receives to a file.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, run } from '../helpers/bin.ts';
import { freePort } from './backup-fixture.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-notify-'));
const PERL_LIB = path.join(ROOT, 'test', 'fixtures', 'perl');
const at = (hhmm: string) => Math.floor(Date.parse(`2025-05-16T${hhmm}:00Z`) / 1000);
const SEED = {
  cluster: 'notify',
  nodes: [{ node: 'pve1' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', nodes: ['pve1'], total: 1000, used: 100 }],
  guests: [
    { vmid: 100, type: 'qemu', node: 'pve1', name: 'web1', status: 'running', agent: true, disks: { scsi0: 'local-zfs:vm-100-disk-0,size=8G' } },
    { vmid: 101, type: 'lxc', node: 'pve1', name: 'ct1', status: 'running', disks: { rootfs: 'local-zfs:subvol-101-disk-0,size=8G' } },
    {
      vmid: 106, type: 'qemu', node: 'pve1', name: 'stuck', status: 'running', agent: true, lock: 'backup', disks: { scsi0: 'local-zfs:vm-106-disk-0,size=8G' },
      snapshots: [{ name: 'autohourly250516090000', snaptime: at('09:00'), description: 'cv4pve-autosnap' }],
    },
  ],
  taskDurations: { qmsnapshot: 1, qmdelsnapshot: 0.5, vzsnapshot: 1, vzdelsnapshot: 0.5 },
};

let sim: SimHandle;
beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01, clock: '2025-05-16T10:00:00Z' });
});
afterAll(async () => {
  await sim?.stop();
});

function conf(name: string, text: string): string {
  const p = path.join(TMP, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
}

function autosnap(args: string[], env: Record<string, string | undefined>) {
  return run(['--host', sim.hostPort, '--fingerprint', sim.fingerprint, ...args], {
    env: { TZ: 'UTC', AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_LOCK_FILE: path.join(TMP, 'run.lock'), AUTOSNAP_NOW: '2025-05-16T10:00:00Z', ...env },
  });
}

const records = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

describe('through PVE::Notify (stand-in module on PERL5LIB)', () => {
  const record = path.join(TMP, 'pve-notify.jsonl');
  const state = path.join(TMP, 'state-pve');
  const env = (config: string) => ({ PERL5LIB: PERL_LIB, PVE_NOTIFY_RECORD: record, AUTOSNAP_STATE_DIR: state, AUTOSNAP_CONFIG: config });

  test('a healthy run says nothing (mode failure); a failed guest makes one error with type, job and hostname', async () => {
    const cfg = conf('pve.conf', '[notify]\nmode = failure\n');
    fs.rmSync(record, { force: true });
    let r = await autosnap(['--vmid', '100', 'snap', '--label', 'hourly', '--keep', '2'], env(cfg));
    expect(r.code).toBe(0);
    expect(records(record)).toEqual([]);

    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    try {
      r = await autosnap(['--vmid', '100,101', 'snap', '--label', 'hourly', '--keep', '2'], env(cfg));
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(r.code).toBe(1);
    const calls = records(record);
    expect(calls.length).toBe(1);
    const c = calls[0];
    expect([c.call, c.template]).toEqual(['error', 'autosnap']);
    expect(c.fields).toEqual({ type: 'autosnap', job: 'cli', hostname: os.hostname().split('.')[0] });
    expect(c.data.title).toContain('autosnap snap on');
    expect(c.data.title).toContain('failed: 1 failure');
    expect(c.data.message).toContain('101 ct1');
    expect(c.data.message).toContain('snapshot feature is not available');
    expect(c.data.message).toContain('1 failed');
    // the common template data PVE adds (hostname, fqdn) is passed along
    expect(c.data.fqdn).toBe('stand-in.example');
  });

  test('a guest skipped three runs in a row makes a warning on the third, not before', async () => {
    const cfg = conf('pve-skip.conf', '[notify]\nskipped_runs = 3\n');
    fs.rmSync(record, { force: true });
    fs.rmSync(state, { recursive: true, force: true });
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await autosnap(['--vmid', '106', '--lock-wait', '0', 'snap', '--label', 'hourly', '--keep', '2'], env(cfg));
      expect(r.code).toBe(0);
      counts.push(records(record).length);
    }
    expect(counts).toEqual([0, 0, 1]);
    const c = records(record)[0];
    expect(c.call).toBe('warning');
    expect(c.data.message).toContain('106 stuck');
    expect(c.data.message).toContain('(3 runs in a row)');
    expect(JSON.parse(fs.readFileSync(path.join(state, 'skips.json'), 'utf8'))).toEqual({ 'cli/106': 3 });
  });

  test('mode always: every run, as info; mode never: not even a failure', async () => {
    fs.rmSync(record, { force: true });
    let r = await autosnap(['--vmid', '100', 'snap', '--label', 'hourly', '--keep', '2'], env(conf('always.conf', '[notify]\nmode = always\n')));
    expect(r.code).toBe(0);
    expect(records(record).map((c) => c.call)).toEqual(['info']);
    fs.rmSync(record, { force: true });
    // a host nothing listens on (given once: a repeated --host is refused as usage)
    r = await run(['--host', '127.0.0.1:1', '--fingerprint', sim.fingerprint, 'snap', '--label', 'hourly', '--keep', '2'], {
      env: { TZ: 'UTC', AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_LOCK_FILE: path.join(TMP, 'run.lock'), ...env(conf('never.conf', '[notify]\nmode = never\n')) },
    });
    expect(r.code).toBe(3);
    expect(records(record)).toEqual([]);
  });

  test('an unreachable cluster is an error notification naming why', async () => {
    fs.rmSync(record, { force: true });
    const r = await run(['--host', '127.0.0.1:1', '--fingerprint', sim.fingerprint, 'snap', '--label', 'hourly', '--keep', '2'], {
      env: { TZ: 'UTC', AUTOSNAP_API_TOKEN: sim.token, AUTOSNAP_LOCK_FILE: path.join(TMP, 'run.lock'), ...env(conf('down.conf', '')) },
    });
    expect(r.code).toBe(3);
    const calls = records(record);
    expect(calls.map((c) => c.call)).toEqual(['error']);
    expect(calls[0].data.message).toContain('exit code 3');
    // the secret never reaches a notification
    expect(JSON.stringify(calls)).not.toContain(sim.secret);
  });

  test('autosnap-notify@.service: a failed unit is one error naming it, unless the run reported that start itself', async () => {
    fs.rmSync(record, { force: true });
    fs.rmSync(state, { recursive: true, force: true });
    const cfg = conf('unit.conf', '');
    // the run of invocation A failed and said so itself
    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    try {
      const r = await autosnap(['--vmid', '101', 'snap', '--label', 'unit', '--keep', '1'], { ...env(cfg), INVOCATION_ID: 'aaaa' });
      expect(r.code).toBe(1);
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    const unit = (id: string) => run(['notify', '--failed-unit', 'autosnap.service'], { env: { ...env(cfg), MONITOR_INVOCATION_ID: id, MONITOR_SERVICE_RESULT: 'timeout', MONITOR_EXIT_CODE: 'killed', MONITOR_EXIT_STATUS: 'TERM' } });
    expect((await unit('aaaa')).code).toBe(0);
    expect(records(record).length).toBe(1);
    // invocation B was killed before it could say anything
    expect((await unit('bbbb')).code).toBe(0);
    const calls = records(record);
    expect(calls.length).toBe(2);
    expect([calls[1].call, calls[1].fields.type, calls[1].fields.unit]).toEqual(['error', 'autosnap', 'autosnap.service']);
    expect(calls[1].data.title).toContain('autosnap.service failed on');
    expect(calls[1].data.title).toContain('(result timeout, killed TERM)');
  });

  test('a bad [notify] value is one line and exit 2 before anything runs', async () => {
    for (const [text, want] of [
      ['[notify]\nmode = sometimes\n', "mode: 'sometimes' is not one of failure, always, never"],
      ['[notify]\nmailto = root\n', "mailto: 'root' is not a mail address"],
      ['[notify]\nmail = root@example.com\n', "unknown key 'mail' in [notify]"],
    ]) {
      const r = await autosnap(['--vmid', '100', 'snap', '--label', 'hourly', '--keep', '2'], env(conf('bad.conf', text)));
      expect([r.code, r.stderr.trim().split('\n').length]).toEqual([2, 1]);
      expect(r.stderr).toContain(want);
    }
  });
});

describe('without PVE::Notify: sendmail (msmtp) into a real SMTP sink', () => {
  let sink: ChildProcess;
  // smtp-sink writes as nobody, who cannot enter the test's private directory
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-sink-'));
  const home = path.join(TMP, 'home');
  let cfg: string;
  beforeAll(async () => {
    fs.chmodSync(spool, 0o777);
    fs.mkdirSync(home);
    const port = await freePort();
    // smtp-sink drops root for `nobody` once it listens; -d writes one file per message
    sink = spawn('smtp-sink', ['-u', 'nobody', '-d', `${spool}/%M.`, `127.0.0.1:${port}`, '5'], { stdio: ['ignore', 'inherit', 'inherit'] });
    for (let i = 0; i < 50; i++) {
      const up = await new Promise<boolean>((res) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.destroy(); res(true); }).on('error', () => res(false)));
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    fs.writeFileSync(path.join(home, '.msmtprc'), `account default\nhost 127.0.0.1\nport ${port}\nfrom autosnap@pve1.example\nauth off\ntls off\n`, { mode: 0o600 });
    cfg = conf('mail.conf', '[notify]\nmailto = admin@example.com, ops@example.com\nsendmail = /usr/bin/msmtp\n');
  });
  afterAll(() => {
    sink?.kill();
  });
  const mails = () => fs.readdirSync(spool).map((f) => fs.readFileSync(path.join(spool, f), 'utf8'));

  test('a failed guest is one mail to every address of mailto, with the fields as headers', async () => {
    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    let r;
    try {
      r = await autosnap(['--vmid', '100,101', 'snap', '--label', 'mail', '--keep', '2'], { HOME: home, AUTOSNAP_CONFIG: cfg, AUTOSNAP_STATE_DIR: path.join(TMP, 'state-mail') });
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('notification not sent');
    let got: string[] = [];
    for (let i = 0; i < 30 && !got.length; i++) {
      got = mails();
      if (!got.length) await new Promise((res) => setTimeout(res, 100));
    }
    expect(got.length).toBe(1);
    const m = got[0];
    expect(m).toContain('X-Rcpt-Args: <admin@example.com>');
    expect(m).toContain('X-Rcpt-Args: <ops@example.com>');
    expect(m).toMatch(/^Subject: autosnap snap on \S+ \(cli\): failed: 1 failure$/m);
    expect(m).toContain('X-Autosnap-type: autosnap');
    expect(m).toContain('Auto-Submitted: auto-generated');
    expect(m).toContain('101 ct1');
  });

  test('PVE::Notify there but failing (no template, an older PVE): the mail fallback still gets it', async () => {
    const before = mails().length;
    const record = path.join(TMP, 'failing.jsonl');
    await sim.control('/faults', { spec: 'taskfail=101:vzsnapshot:snapshot feature is not available' });
    let r;
    try {
      r = await autosnap(['--vmid', '101', 'snap', '--label', 'fallback', '--keep', '2'], {
        HOME: home, AUTOSNAP_CONFIG: cfg, AUTOSNAP_STATE_DIR: path.join(TMP, 'state-fallback'), PERL5LIB: PERL_LIB, PVE_NOTIFY_RECORD: record, PVE_NOTIFY_FAIL: '1',
      });
    } finally {
      await sim.control('/faults', { spec: '' });
    }
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('notification not sent');
    expect(fs.existsSync(record)).toBe(false);
    for (let i = 0; i < 30 && mails().length === before; i++) await new Promise((res) => setTimeout(res, 100));
    expect(mails().length).toBe(before + 1);
  });

  test('autosnap notify --test says which way notifications take, and sends one', async () => {
    const before = mails().length;
    const r = await run(['notify', '--test'], { env: { HOME: home, AUTOSNAP_CONFIG: cfg } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('notifications go by mail to admin@example.com, ops@example.com through /usr/bin/msmtp');
    for (let i = 0; i < 30 && mails().length === before; i++) await new Promise((res) => setTimeout(res, 100));
    expect(mails().length).toBe(before + 1);
    const pve = await run(['notify', '--test'], { env: { PERL5LIB: PERL_LIB, PVE_NOTIFY_RECORD: path.join(TMP, 'test.jsonl'), AUTOSNAP_CONFIG: cfg } });
    expect(pve.stdout).toContain('notifications go through PVE::Notify');
    expect(records(path.join(TMP, 'test.jsonl')).map((c) => [c.call, c.fields.type])).toEqual([['info', 'autosnap']]);
  });
});
