// The .deb and the release tarball: built by packaging/build-deb.sh from the executable
// under test (uncompressed, so the build takes seconds), compared with what install.sh
// installs, and installed and purged for real with dpkg into a scratch root.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT } from '../helpers/bin.ts';
import { install, installReal, removeStandIn, sh, standIn, tempRoot, tree, type Entry } from './install-helpers.ts';

setDefaultTimeout(180_000);

const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
const work = tempRoot('deb');
const out = path.join(work, 'out');
let deb = '';
let tarball = '';

beforeAll(() => {
  const r = sh('bash', [path.join(ROOT, 'packaging/build-deb.sh'), '--bin', BIN, '--out', out, '--compress', 'none']);
  if (r.code !== 0) throw new Error(`build-deb.sh failed: ${r.stderr}`);
  [deb, tarball] = r.stdout.trim().split('\n');
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  removeStandIn();
});

/** dpkg-deb -c as a map path -> entry like tree() gives (without file contents) */
function debListing(file: string): Map<string, Omit<Entry, 'content'> & { target?: string }> {
  const r = sh('dpkg-deb', ['-c', file]);
  expect(r.code).toBe(0);
  const m = new Map<string, Omit<Entry, 'content'> & { target?: string }>();
  for (const line of r.stdout.trim().split('\n')) {
    // drwxr-xr-x root/root         0 2026-11-21 19:52 ./opt/
    const f = line.match(/^(\S+) (\S+)\s+\d+ \S+ \S+ \.(\/.*?)(?: -> (.*))?$/);
    if (!f) throw new Error(`unexpected dpkg-deb line: ${line}`);
    const [, perm, owner, rawPath, target] = f;
    expect(owner).toBe('root/root');
    const p = rawPath.replace(/\/$/, '');
    if (p === '') continue;
    const type = perm[0] === 'd' ? 'dir' : perm[0] === 'l' ? 'link' : 'file';
    m.set(p, type === 'link' ? { type, mode: '', target } : { type, mode: permToOctal(perm) });
  }
  return m;
}
function permToOctal(perm: string): string {
  let n = 0;
  for (let i = 1; i <= 9; i++) if (perm[i] !== '-') n |= 1 << (9 - i);
  return n.toString(8).padStart(4, '0');
}
function shape(t: Map<string, Entry>) {
  return Object.fromEntries([...t].map(([p, e]) => [p, e.type === 'link' ? { type: e.type, mode: '', target: e.content } : { type: e.type, mode: e.mode }]));
}

// The package's own files, which an install.sh installation has no use for.
const DEB_ONLY = [
  '/usr/share/doc',
  '/usr/share/doc/autosnap',
  '/usr/share/doc/autosnap/changelog.gz',
  '/usr/share/doc/autosnap/copyright',
  '/usr/share/lintian',
  '/usr/share/lintian/overrides',
  '/usr/share/lintian/overrides/autosnap',
];
// Where the two layouts differ: packaged files leave /usr/local and /etc/systemd/system
// to the administrator, as Debian policy asks.
const TO_DEB: Array<[RegExp, string]> = [
  [/^\/usr\/local(?=\/|$)/, '/usr'],
  [/^\/etc\/systemd\/system(?=\/|$)/, '/usr/lib/systemd/system'],
];
// What only an install.sh installation has: its bookkeeping, itself, the configuration
// (created by the package's postinst instead) and the vzdump.conf edit.
const LOCAL_ONLY = [
  /^\/opt\/autosnap\/install-manifest$/,
  /^\/opt\/autosnap\/share\/install\.sh$/,
  /^\/etc\/autosnap(\/|$)/,
  /^\/etc\/vzdump\.conf/,
  /^\/etc\/systemd$/,
];

describe('the .deb', () => {
  test('is named autosnap_<version>_amd64.deb and its control fields are right', () => {
    expect(path.basename(deb)).toBe(`autosnap_${VERSION}_amd64.deb`);
    const f = (field: string) => sh('dpkg-deb', ['-f', deb, field]).stdout.trim();
    expect(f('Package')).toBe('autosnap');
    expect(f('Version')).toBe(VERSION);
    expect(f('Architecture')).toBe('amd64');
    expect(f('Depends')).toMatch(/^libc6 \(>= 2\.\d+\)$/);
    expect(Number(f('Installed-Size'))).toBeGreaterThan(fs.statSync(BIN).size / 1024);
  });

  test('its contents are exactly what install.sh --layout deb stages, plus the package docs', () => {
    const staged = tempRoot('stage');
    try {
      expect(install(staged, '--layout', 'deb').code).toBe(0);
      const expected = shape(tree(staged));
      const listed = Object.fromEntries(debListing(deb));
      for (const p of DEB_ONLY) {
        expect(listed[p]).toBeDefined();
        delete listed[p];
      }
      expect(listed).toEqual(expected);
    } finally {
      fs.rmSync(staged, { recursive: true, force: true });
    }
  });

  test('its contents match a normal install.sh --with-backup-hook installation, path for path', () => {
    const local = tempRoot('local');
    try {
      expect(install(local, '--with-backup-hook').code).toBe(0);
      const mapped: Record<string, unknown> = {};
      for (const [p, e] of Object.entries(shape(tree(local)))) {
        if (LOCAL_ONLY.some((re) => re.test(p))) continue;
        let q = p;
        for (const [re, to] of TO_DEB) q = q.replace(re, to);
        mapped[q] = e;
      }
      const listed: Record<string, unknown> = Object.fromEntries(debListing(deb));
      for (const p of DEB_ONLY) delete listed[p];
      // directories the two layouts need on the way to their different places
      for (const p of ['/usr/lib', '/usr/lib/systemd']) delete listed[p];
      expect(listed).toEqual(mapped);
    } finally {
      fs.rmSync(local, { recursive: true, force: true });
    }
  });

  test('the files in it are byte for byte the repository files and the executable', () => {
    const x = path.join(work, 'x');
    expect(sh('dpkg-deb', ['-x', deb, x]).code).toBe(0);
    expect(fs.readFileSync(path.join(x, 'opt/autosnap/bin/autosnap')).equals(fs.readFileSync(BIN))).toBe(true);
    for (const u of fs.readdirSync(path.join(ROOT, 'systemd'))) {
      expect(fs.readFileSync(path.join(x, 'usr/lib/systemd/system', u), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'systemd', u), 'utf8'));
    }
    expect(fs.readFileSync(path.join(x, 'opt/autosnap/share/autosnap.conf.example'), 'utf8')).toBe(
      fs.readFileSync(path.join(ROOT, 'etc/autosnap.conf.example'), 'utf8'),
    );
  });

  test('maintainer scripts are valid sh, and every file under /etc is a conffile', () => {
    const ctl = path.join(work, 'ctl');
    expect(sh('dpkg-deb', ['-e', deb, ctl]).code).toBe(0);
    for (const s of ['preinst', 'postinst', 'prerm', 'postrm']) {
      expect((fs.statSync(path.join(ctl, s)).mode & 0o777).toString(8)).toBe('755');
      expect(sh('sh', ['-n', path.join(ctl, s)]).code).toBe(0);
    }
    const etcFiles = [...debListing(deb)].filter(([p, e]) => p.startsWith('/etc/') && e.type === 'file').map(([p]) => p);
    const conffiles = fs.existsSync(path.join(ctl, 'conffiles')) ? fs.readFileSync(path.join(ctl, 'conffiles'), 'utf8').trim().split('\n') : [];
    expect(conffiles.sort()).toEqual(etcFiles.sort());
    // the configuration holds a secret: never shipped, created 0600 by postinst
    expect(etcFiles).not.toContain('/etc/autosnap/autosnap.conf');
  });
});

describe('dpkg --root: install, upgrade, remove, purge', () => {
  // dpkg runs the maintainer scripts without chroot and with DPKG_ROOT set, so they act
  // on the scratch root and leave systemd alone
  const root = tempRoot('dpkgroot');
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const dpkg = (...args: string[]) =>
    sh('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '--force-not-root', '--log=/dev/null', ...args]);
  fs.mkdirSync(path.join(root, 'var/lib/dpkg/info'), { recursive: true });
  fs.mkdirSync(path.join(root, 'var/lib/dpkg/updates'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
  const outside = () => [...tree(root).keys()].filter((p) => !p.startsWith('/var/lib/dpkg') && p !== '/var/lib' && p !== '/var');

  test('install: files in place, configuration created 0600 from the example, timers not enabled', () => {
    const r = dpkg('-i', deb);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('systemctl enable --now autosnap.timer');
    const conf = path.join(root, 'etc/autosnap/autosnap.conf');
    expect(fs.readFileSync(conf, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'etc/autosnap.conf.example'), 'utf8'));
    expect((fs.statSync(conf).mode & 0o777).toString(8)).toBe('600');
    expect(fs.readlinkSync(path.join(root, 'usr/sbin/pve-snapshot'))).toBe('/opt/autosnap/bin/autosnap');
    expect(outside().filter((p) => p.includes('timers.target.wants'))).toEqual([]);
  });

  test('upgrade (reinstall): an edited configuration is kept', () => {
    const conf = path.join(root, 'etc/autosnap/autosnap.conf');
    fs.writeFileSync(conf, '[pve]\napi_token_file = /etc/autosnap/token\n');
    expect(dpkg('-i', deb).code).toBe(0);
    expect(fs.readFileSync(conf, 'utf8')).toBe('[pve]\napi_token_file = /etc/autosnap/token\n');
  });

  test('remove keeps the configuration (and warns about a vzdump hook line), purge leaves nothing', () => {
    fs.writeFileSync(path.join(root, 'etc/vzdump.conf'), 'script: /usr/sbin/backup-hook\n');
    const rm = dpkg('--remove', 'autosnap');
    expect(rm.code).toBe(0);
    expect(rm.stderr).toContain('/etc/vzdump.conf has');
    fs.rmSync(path.join(root, 'etc/vzdump.conf'));
    // conffiles stay until purge, like the configuration
    const conffiles = fs.existsSync(path.join(ROOT, 'etc/logrotate.d/autosnap-backup')) ? ['/etc/logrotate.d', '/etc/logrotate.d/autosnap-backup'] : [];
    expect(outside().sort()).toEqual(['/etc', '/etc/autosnap', '/etc/autosnap/autosnap.conf', ...conffiles].sort());
    expect(dpkg('--purge', 'autosnap').code).toBe(0);
    expect(outside()).toEqual([]);
  });

  test('refuses to install over an install.sh installation', () => {
    const other = tempRoot('dpkgother');
    try {
      expect(install(other).code).toBe(0);
      fs.mkdirSync(path.join(other, 'var/lib/dpkg/info'), { recursive: true });
      fs.mkdirSync(path.join(other, 'var/lib/dpkg/updates'), { recursive: true });
      fs.writeFileSync(path.join(other, 'var/lib/dpkg/status'), '');
      const r = sh('dpkg', [`--root=${other}`, '--force-script-chrootless', '--force-depends', '--log=/dev/null', '-i', deb]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('already installed by install.sh');
      // install.sh's executable is untouched
      expect(fs.readFileSync(path.join(other, 'opt/autosnap/bin/autosnap')).equals(fs.readFileSync(standIn()))).toBe(true);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('the release tarball', () => {
  test('its install.sh finds bin/autosnap beside itself and installs what a checkout installs', () => {
    expect(path.basename(tarball)).toBe(`autosnap-${VERSION}-linux-amd64.tar`);
    const x = path.join(work, 'rel');
    fs.mkdirSync(x);
    expect(sh('tar', ['-xf', tarball, '-C', x]).code).toBe(0);
    const dir = path.join(x, `autosnap-${VERSION}`);
    const fromTar = tempRoot('fromtar');
    const fromCheckout = tempRoot('fromcheckout');
    try {
      const r = sh('bash', [path.join(dir, 'install.sh'), '--root', fromTar]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`(executable ${dir}/bin/autosnap)`);
      expect(installReal(fromCheckout).code).toBe(0);
      const a = Object.fromEntries(tree(fromTar));
      const b = Object.fromEntries(tree(fromCheckout));
      expect(a).toEqual(b);
    } finally {
      fs.rmSync(fromTar, { recursive: true, force: true });
      fs.rmSync(fromCheckout, { recursive: true, force: true });
    }
  });
});
