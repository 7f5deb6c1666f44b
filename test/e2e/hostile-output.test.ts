// Text from the API reaches the terminal escaped: guest names and snapshot descriptions full
// of escape sequences, NUL, CR, forged lines, bidi overrides, HTML and pipes go through
// every read-only command in every output format, over HTTPS and over the pvesh stand-in.
// No raw control character may reach stdout or stderr, no line may be forged, JSON keeps
// the exact strings, and HTML and markdown hold no live markup.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, run, type RunResult } from '../helpers/bin.ts';
import { startSim, type SimHandle } from '../helpers/sim.ts';

const NOW = Date.parse('2025-05-16T12:00:00Z') / 1000;
const HOUR = 3600;

const FORGED = 'x\nerror: 999 fake: failed: x';
const NAMES = [
  'clear\x1b[2J\x1b]0;title\x07',
  FORGED,
  'cr\rnul\0del\x7fc1\u0085',
  'rtl\u202egnp.exe\u2066iso\u2069',
  '<script>alert(1)</script>|pipe|',
  'long' + 'y'.repeat(5000),
];
const DESCRIPTIONS = ['desc\x1b[31mred', 'line1\r\nerror: 999 fake: failed: desc', '<script>alert(2)</script> a|b', 'bidi\u202a\u202b\u202c\u202d\u2067', 'z'.repeat(5000)];

const guest = (i: number) => ({
  vmid: 100 + i,
  type: i % 2 ? 'lxc' : 'qemu',
  node: i % 2 ? 'pve2' : 'pve1',
  name: NAMES[i],
  status: 'running',
  tags: ['hostile'],
  disks: i % 2 ? { rootfs: `local-zfs:subvol-${100 + i}-disk-0,size=8G` } : { scsi0: `local-zfs:vm-${100 + i}-disk-0,size=8G` },
  snapshots: [
    { name: 'pre-manual', snaptime: NOW - 48 * HOUR, description: DESCRIPTIONS[i % DESCRIPTIONS.length] },
    { name: 'autohourly250516100000', snaptime: NOW - 2 * HOUR, description: 'autosnap' },
    { name: 'autohourly250516110000', snaptime: NOW - HOUR, description: 'autosnap' },
  ],
});

const SEED = {
  cluster: 'hostile',
  nodes: [{ node: 'pve1' }, { node: 'pve2' }],
  storages: [{ storage: 'local-zfs', type: 'zfspool', content: 'images,rootdir', shared: false, total: 1e12, used: 1e11 }],
  guests: NAMES.map((_, i) => guest(i)),
};

// C0 except the newline that ends a line, DEL, C1, the bidi marks and overrides
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const FORMATS = ['text', 'json', 'jsonpretty', 'markdown', 'html'] as const;

let sim: SimHandle;
let tmp: string;
let linkDir: string;

beforeAll(async () => {
  sim = await startSim({ seed: SEED, timeScale: 0.01, clock: new Date(NOW * 1000).toISOString() });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-output-'));
  fs.writeFileSync(path.join(tmp, 'empty.conf'), '');
  linkDir = path.join(tmp, 'bin');
  fs.mkdirSync(linkDir);
  fs.symlinkSync(BIN, path.join(linkDir, 'pvesh'));
});
afterAll(async () => {
  await sim?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type Transport = 'api' | 'pvesh';
function tool(transport: Transport, args: string[]): Promise<RunResult> {
  const base = { AUTOSNAP_CONFIG: path.join(tmp, 'empty.conf'), TZ: 'UTC', AUTOSNAP_NOW: new Date(NOW * 1000).toISOString() };
  if (transport === 'pvesh') {
    return run([...args, '--transport', 'pvesh'], { env: { ...base, ...sim.pveshEnv, PATH: `${linkDir}:${process.env.PATH}`, AUTOSNAP_API_TOKEN: undefined } });
  }
  return run([...args, '--host', sim.hostPort, '--fingerprint', sim.fingerprint], { env: { ...base, AUTOSNAP_API_TOKEN: sim.token } });
}

function assertSafe(what: string, r: RunResult): void {
  for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
    const m = RAW.exec(text);
    if (m) throw new Error(`${what}: raw U+${m[0].codePointAt(0)!.toString(16).padStart(4, '0')} on ${stream} near ${JSON.stringify(text.slice(Math.max(0, m.index - 40), m.index + 10))}`);
    const forged = text.split('\n').find((l) => /^(\S+: )?error: 999/.test(l));
    if (forged !== undefined) throw new Error(`${what}: forged line on ${stream}: ${JSON.stringify(forged.slice(0, 80))}`);
  }
}

function assertFormat(what: string, format: (typeof FORMATS)[number], out: string): void {
  if (format === 'json' || format === 'jsonpretty') {
    // valid JSON, and every hostile guest name comes back exactly
    const text = JSON.stringify(JSON.parse(out));
    for (const n of NAMES) expect(text, `${what}: ${JSON.stringify(n.slice(0, 20))}`).toContain(JSON.stringify(n).slice(1, -1));
  }
  if (format === 'html' || format === 'markdown') expect(out, what).not.toContain('<script>');
  if (format === 'markdown') {
    // each table row keeps its column count: a pipe in a name cannot add a cell
    const rows = out.trim().split('\n');
    const cells = (l: string) => l.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length;
    for (const l of rows) expect(cells(l), `${what}: ${l.slice(0, 60)}`).toBe(cells(rows[0]));
  }
}

const COMMANDS: Array<[string, string[]]> = [
  ['pve-snapshot list', ['pve-snapshot', 'list', '@all']],
  ['pve-snapshot delete --match --dry-run', ['pve-snapshot', 'delete', '@all', '--match', 'pre-*', '--dry-run']],
  ['autosnap status', ['autosnap', '--vmid', '@all', 'status', '--label', 'hourly']],
  ['autosnap plan', ['autosnap', '--vmid', '@all', 'plan', '--label', 'hourly', '--keep', '1']],
  ['autosnap clean --dry-run', ['autosnap', '--vmid', '@all', 'clean', '--label', 'hourly', '--keep', '1', '--dry-run']],
];

describe('hostile API text is escaped in every output', () => {
  for (const transport of ['api', 'pvesh'] as const) {
    for (const [name, args] of COMMANDS) {
      // the stand-in starts one process per call: one format over pvesh is enough
      const formats = transport === 'api' ? FORMATS : (['text'] as const);
      test(`${name} over ${transport}`, async () => {
        for (const format of formats) {
          const what = `${name} -o ${format} (${transport})`;
          const r = await tool(transport, [...args, '-o', format]);
          expect(r.code, `${what}: ${r.stderr}`).toBe(0);
          assertSafe(what, r);
          assertFormat(what, format, r.stdout);
        }
      });
    }
  }

  test('the escapes are visible in text output', async () => {
    const r = await tool('api', ['pve-snapshot', 'list', '@all']);
    expect(r.stdout).toContain('clear\\x1b[2J\\x1b]0;title\\x07');
    expect(r.stdout).toContain('x\\nerror: 999 fake: failed: x');
    expect(r.stdout).toContain('rtl\\u202egnp.exe');
    const s = await tool('api', ['autosnap', '--vmid', '@all', 'status', '--label', 'hourly', '-o', 'markdown']);
    expect(s.stdout).toContain('&lt;script&gt;alert(1)&lt;/script&gt;\\|pipe\\|');
  });

  test('nothing was changed by the dry runs', async () => {
    const state = await sim.control('/state');
    for (const g of state.guests.filter((x: any) => x.vmid >= 100 && x.vmid < 100 + NAMES.length)) expect(g.snapshots.length).toBe(3);
  });

  test('error messages from the API and from tasks are escaped', async () => {
    // the simulator's fault messages are one line: no newline, but escape sequences,
    // NUL, C1 and bidi controls
    const hostile = 'boom\x1b[2J\x1b[1m\x07\x00\u0085\u202eerror: 999 fake: failed: x';
    await sim.control('/faults', { spec: `fail=GET:/qemu/100/snapshot$:500:${hostile};taskfail=102:qmsnapshot:${hostile}` });
    try {
      const list = await tool('api', ['pve-snapshot', 'list', '100']);
      expect(list.code).toBe(1);
      assertSafe('list with a hostile API error', list);
      expect(list.stderr).toContain('boom\\x1b[2J');
      const create = await tool('api', ['pve-snapshot', 'create', '102', 'hostile1']);
      expect(create.code).toBe(1);
      assertSafe('create with a hostile task status', create);
      const snap = await tool('api', ['autosnap', '--vmid', '102', 'snap', '--label', 'hostile', '--keep', '2']);
      expect(snap.code).toBe(1);
      assertSafe('autosnap snap with a hostile task status', snap);
      expect(snap.stderr).toContain('\\u202eerror: 999');
    } finally {
      await sim.control('/faults', { spec: '' });
    }
  });

  test('a hook printing escape sequences and forged lines shows them escaped', async () => {
    const hook = path.join(tmp, 'hook.sh');
    fs.writeFileSync(hook, `#!/bin/sh\nprintf 'hook\\033[2J\\nerror: 999 fake: failed: hook\\r\\n'\n`, { mode: 0o755 });
    const r = await tool('api', ['autosnap', '--vmid', '100', 'snap', '--label', 'hooked', '--keep', '2', '--script', hook]);
    expect(r.code, r.stderr).toBe(0);
    assertSafe('hook output', r);
    expect(r.stdout).toContain('hook\\x1b[2J');
  });
});
