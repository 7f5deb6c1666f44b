// install.sh into a staged --root: what lands where, idempotence, --dry-run, the vzdump.conf
// edit and its byte-for-byte undo, foreign files, and an uninstall that leaves nothing.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import fs from 'node:fs';
import path from 'node:path';
import { TOOL_NAMES } from '../../scripts/main.ts';
import { BIN, ROOT } from '../helpers/bin.ts';
import { INSTALL_SH, install, installReal, removeStandIn, sh, standIn, tempRoot, tree, treeObject } from './install-helpers.ts';

// every install copies and checksums the ~100 MB executable
setDefaultTimeout(120_000);

const roots: string[] = [];
function freshRoot(tag: string): string {
  const r = tempRoot(tag);
  roots.push(r);
  return r;
}
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  removeStandIn();
});

const LINKED = ['autosnap', 'pve-snapshot', 'ontap-snapshot', 'backup-hook', 'backup-wakeup', 'backup-sync'];
const BASE_UNITS = ['autosnap.service', 'autosnap.timer', 'autosnap-clean.service', 'autosnap-clean.timer', 'autosnap-notify@.service', 'ontap-snapshot-snap@.service', 'ontap-snapshot-snap@.timer'];
// a template is verified and read as one of its instances
const instance = (u: string) => u.replace('@.', '@daily.');
const HOOK_UNITS = ['backup-wakeup.service', 'backup-wakeup.timer', 'backup-wakeup-jit.service', 'backup-wakeup-jit.timer', 'backup-sync.service', 'backup-sync.timer', 'backup-watch.service', 'backup-watch.timer'];
const HOOK_LINE = 'script: /usr/local/sbin/backup-hook';

function write(root: string, rel: string, text: string, mode = 0o644) {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  fs.chmodSync(p, mode);
}
const read = (root: string, rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');
const modeOf = (root: string, rel: string) => (fs.statSync(path.join(root, rel)).mode & 0o777).toString(8);
const exists = (root: string, rel: string) => {
  try {
    fs.lstatSync(path.join(root, rel));
    return true;
  } catch {
    return false;
  }
};

describe('install.sh: the tool links', () => {
  test('every tool of the dispatcher is linked, except the simulators and never pvesh', () => {
    const src = fs.readFileSync(INSTALL_SH, 'utf8');
    const m = src.match(/^TOOLS=\(([^)]*)\)/m);
    expect(m).not.toBeNull();
    const linked = m![1].trim().split(/\s+/);
    const simulators = ['sim', 'ontap-sim', 'sim-pvesh'];
    expect(linked.sort()).toEqual(TOOL_NAMES.filter((t) => !simulators.includes(t)).sort());
    expect(linked).not.toContain('pvesh');
    expect(linked).not.toContain('sim-pvesh');
  });
});

describe('install.sh --cv4pve-link', () => {
  test('adds the cv4pve-autosnap link, a later install without it removes it, uninstall too', () => {
    const root = freshRoot('cv4pve');
    const r = install(root, '--cv4pve-link');
    expect(r.code).toBe(0);
    expect(fs.readlinkSync(path.join(root, 'usr/local/sbin/cv4pve-autosnap'))).toBe('/opt/autosnap/bin/autosnap');
    expect(install(root).code).toBe(0);
    expect(exists(root, 'usr/local/sbin/cv4pve-autosnap')).toBe(false);
    expect(install(root, '--cv4pve-link').code).toBe(0);
    expect(install(root, '--uninstall').code).toBe(0);
    expect(exists(root, 'usr/local/sbin/cv4pve-autosnap')).toBe(false);
  });
  test('an installed cv4pve-autosnap is not replaced without --force, and comes back on uninstall', () => {
    const root = freshRoot('cv4pve-foreign');
    write(root, 'usr/local/sbin/cv4pve-autosnap', '#!/bin/sh\necho the real one\n', 0o755);
    const r = install(root, '--cv4pve-link');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/usr/local/sbin/cv4pve-autosnap');
    expect(install(root, '--cv4pve-link', '--force').code).toBe(0);
    expect(install(root, '--uninstall').code).toBe(0);
    expect(read(root, 'usr/local/sbin/cv4pve-autosnap')).toContain('the real one');
  });
  test('not in the package layout', () => {
    const r = install(freshRoot('cv4pve-deb'), '--layout', 'deb', '--cv4pve-link');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('install.sh: --cv4pve-link does not go with --layout deb (see docs/autosnap.md)');
  });
});

describe('install.sh: a fresh install', () => {
  const root = freshRoot('fresh');
  const first = installReal(root);

  test('succeeds and reports what it did', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('installed  /opt/autosnap/bin/autosnap');
    expect(first.stdout).toMatch(/done: \d+ change/);
  });

  test('the executable is the one given, mode 0755', () => {
    expect(fs.readFileSync(path.join(root, 'opt/autosnap/bin/autosnap')).equals(fs.readFileSync(BIN))).toBe(true);
    expect(modeOf(root, 'opt/autosnap/bin/autosnap')).toBe('755');
  });

  test.each(LINKED)('/usr/local/sbin/%s links to the executable', (tool) => {
    expect(fs.readlinkSync(path.join(root, 'usr/local/sbin', tool))).toBe('/opt/autosnap/bin/autosnap');
  });

  test('no link that could shadow the real pvesh, nor a simulator', () => {
    const names = [...tree(root).keys()].map((p) => path.basename(p));
    for (const bad of ['pvesh', 'sim-pvesh', 'sim', 'ontap-sim']) expect(names).not.toContain(bad);
  });

  test('units and timers are the repository files; no backup-wakeup without the hook', () => {
    for (const u of BASE_UNITS) expect(read(root, `etc/systemd/system/${u}`)).toBe(fs.readFileSync(path.join(ROOT, 'systemd', u), 'utf8'));
    for (const u of HOOK_UNITS) expect(exists(root, `etc/systemd/system/${u}`)).toBe(false);
  });

  test('the configuration comes from the example, mode 0600 in a 0700 directory', () => {
    expect(read(root, 'etc/autosnap/autosnap.conf')).toBe(fs.readFileSync(path.join(ROOT, 'etc/autosnap.conf.example'), 'utf8'));
    expect(modeOf(root, 'etc/autosnap/autosnap.conf')).toBe('600');
    expect(modeOf(root, 'etc/autosnap')).toBe('700');
  });

  test('logrotate file and bash completions, one script linked under every tool name', () => {
    // both files ship with the project: a missing one is a failure, not a reason to skip
    const lr = path.join(ROOT, 'etc/logrotate.d/autosnap-backup');
    expect(read(root, 'etc/logrotate.d/autosnap-backup')).toBe(fs.readFileSync(lr, 'utf8'));
    const comp = path.join(ROOT, 'completions/autosnap.bash');
    const dir = 'usr/local/share/bash-completion/completions';
    expect(read(root, `${dir}/autosnap`)).toBe(fs.readFileSync(comp, 'utf8'));
    for (const t of LINKED.filter((t) => t !== 'autosnap')) expect(fs.readlinkSync(path.join(root, dir, t))).toBe('autosnap');
  });

  test('the manifest lists every file and link it installed', () => {
    const manifest = read(root, 'opt/autosnap/install-manifest');
    const listed = new Set(manifest.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[1]));
    for (const [p, e] of tree(root)) {
      if (p === '/opt/autosnap/install-manifest') continue;
      expect({ p, listed: listed.has(p) }).toEqual({ p, listed: true });
      expect(e.type).toBeDefined();
    }
  });

  test('a second run changes nothing and says so (not even a timestamp)', () => {
    const before = treeObject(tree(root, { mtimes: true }));
    const again = installReal(root);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing changed');
    expect(treeObject(tree(root, { mtimes: true }))).toEqual(before);
  });
});

describe('install.sh --dry-run', () => {
  test('on an empty root: lists the work, writes nothing', () => {
    const root = freshRoot('dry');
    const r = install(root, '--dry-run', '--with-backup-hook');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('install    /opt/autosnap/bin/autosnap');
    expect(r.stdout).toMatch(/dry run: \d+ change\(s\) would be made/);
    expect(tree(root).size).toBe(0);
  });

  test('on an installed root: install, hook and uninstall dry runs write nothing', () => {
    const root = freshRoot('dry2');
    write(root, 'etc/vzdump.conf', '#script: FILENAME\n');
    expect(install(root).code).toBe(0);
    const before = treeObject(tree(root, { mtimes: true }));
    for (const args of [['--dry-run', '--with-backup-hook'], ['--uninstall', '--dry-run'], ['--uninstall', '--purge', '--dry-run']]) {
      const r = install(root, ...args);
      expect(r.code).toBe(0);
      expect(treeObject(tree(root, { mtimes: true }))).toEqual(before);
    }
    expect(install(root, '--uninstall', '--dry-run').stdout).toContain('remove     /opt/autosnap/bin/autosnap');
  });
});

describe('install.sh --with-backup-hook: /etc/vzdump.conf', () => {
  // as shipped by pve-manager, plus a setting, and no newline at the end
  const ORIGINAL = '# vzdump default settings\n\n#tmpdir: DIR\n#dumpdir: DIR\n#script: FILENAME\n#exclude-path: PATHLIST\nbwlimit: 100000';

  test('adds the script line, keeps every other line, keeps the original, and restores it byte for byte', () => {
    const root = freshRoot('vz');
    write(root, 'etc/vzdump.conf', ORIGINAL, 0o640);
    const r = install(root, '--with-backup-hook');
    expect(r.code).toBe(0);
    const edited = read(root, 'etc/vzdump.conf');
    const lines = edited.split('\n');
    expect(lines.filter((l) => l.startsWith('script:'))).toEqual([HOOK_LINE]);
    expect(edited.startsWith(`${ORIGINAL}\n`)).toBe(true);
    expect(modeOf(root, 'etc/vzdump.conf')).toBe('640');
    expect(read(root, 'etc/vzdump.conf.autosnap-orig')).toBe(ORIGINAL);
    for (const u of HOOK_UNITS) expect(exists(root, `etc/systemd/system/${u}`)).toBe(true);

    const again = install(root, '--with-backup-hook');
    expect(again.stdout).toContain('nothing changed');
    expect(read(root, 'etc/vzdump.conf')).toBe(edited);
    // a plain re-run (an upgrade) keeps the hook
    expect(install(root).stdout).toContain('nothing changed');
    expect(read(root, 'etc/vzdump.conf')).toBe(edited);

    const un = install(root, '--uninstall');
    expect(un.code).toBe(0);
    expect(read(root, 'etc/vzdump.conf')).toBe(ORIGINAL);
    expect(modeOf(root, 'etc/vzdump.conf')).toBe('640');
    expect(exists(root, 'etc/vzdump.conf.autosnap-orig')).toBe(false);
  });

  test('a different script already there is refused, and nothing is installed', () => {
    const root = freshRoot('vzforeign');
    const foreign = '#tmpdir: DIR\nscript: /root/bin/my-hook.pl\nmode: snapshot\n';
    write(root, 'etc/vzdump.conf', foreign);
    const before = treeObject(tree(root));
    const r = install(root, '--with-backup-hook');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("'/root/bin/my-hook.pl'");
    expect(r.stderr).toContain('--force');
    expect(treeObject(tree(root))).toEqual(before);
  });

  test('--force replaces a different script, and uninstall puts it back byte for byte', () => {
    const root = freshRoot('vzforce');
    const foreign = '#tmpdir: DIR\nscript: /root/bin/my-hook.pl\nmode: snapshot\n';
    write(root, 'etc/vzdump.conf', foreign);
    const r = install(root, '--with-backup-hook', '--force');
    expect(r.code).toBe(0);
    expect(read(root, 'etc/vzdump.conf')).toBe(`#tmpdir: DIR\n${HOOK_LINE}\nmode: snapshot\n`);
    expect(install(root, '--uninstall').code).toBe(0);
    expect(read(root, 'etc/vzdump.conf')).toBe(foreign);
  });

  test('edited by the admin after the install: uninstall removes only the hook line', () => {
    const root = freshRoot('vzedit');
    write(root, 'etc/vzdump.conf', '#script: FILENAME\n');
    expect(install(root, '--with-backup-hook').code).toBe(0);
    fs.appendFileSync(path.join(root, 'etc/vzdump.conf'), 'ionice: 5\n');
    const un = install(root, '--uninstall');
    expect(un.code).toBe(0);
    expect(read(root, 'etc/vzdump.conf')).toBe('#script: FILENAME\nionice: 5\n');
    // the original stays for the admin to compare, and the output says so
    expect(read(root, 'etc/vzdump.conf.autosnap-orig')).toBe('#script: FILENAME\n');
    expect(un.stdout).toContain('vzdump.conf.autosnap-orig is kept');
  });

  test('no vzdump.conf at all: created with the one line, removed again', () => {
    const root = freshRoot('vznone');
    const r = install(root, '--with-backup-hook');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`created    /etc/vzdump.conf (${HOOK_LINE})`);
    expect(read(root, 'etc/vzdump.conf')).toBe(`${HOOK_LINE}\n`);
    expect(install(root, '--uninstall', '--purge').code).toBe(0);
    expect(tree(root).size).toBe(0);
  });
});

describe('install.sh --uninstall', () => {
  function populated(tag: string): string {
    const root = freshRoot(tag);
    // what a node already has: none of it may be touched
    write(root, 'etc/hosts', '127.0.0.1 localhost\n');
    write(root, 'etc/vzdump.conf', '#script: FILENAME\nbwlimit: 5000\n');
    write(root, 'etc/systemd/system/pve-foo.service', '[Service]\nExecStart=/bin/true\n');
    write(root, 'usr/local/sbin/other-tool', '#!/bin/sh\n', 0o755);
    return root;
  }

  test('--purge: the tree is exactly as before the install', () => {
    const root = populated('unpurge');
    const before = treeObject(tree(root));
    expect(install(root, '--with-backup-hook').code).toBe(0);
    expect(treeObject(tree(root))).not.toEqual(before);
    const r = install(root, '--uninstall', '--purge');
    expect(r.code).toBe(0);
    expect(treeObject(tree(root))).toEqual(before);
  });

  test('without --purge only the configuration (and its directory) stays', () => {
    const root = populated('unkeep');
    const before = tree(root);
    expect(install(root).code).toBe(0);
    fs.writeFileSync(path.join(root, 'etc/autosnap/autosnap.conf'), '[pve]\napi_token = a@pve!b=secret\n');
    const r = install(root, '--uninstall');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kept       /etc/autosnap/autosnap.conf');
    const after = tree(root);
    const added = [...after.keys()].filter((p) => !before.has(p));
    expect(added.sort()).toEqual(['/etc/autosnap', '/etc/autosnap/autosnap.conf']);
    for (const [p, e] of before) expect(after.get(p)).toEqual(e);
    // a re-install keeps the edited configuration, and --purge then removes it
    expect(install(root).code).toBe(0);
    expect(read(root, 'etc/autosnap/autosnap.conf')).toContain('api_token = a@pve!b=secret');
    expect(install(root, '--uninstall', '--purge').code).toBe(0);
    expect(treeObject(tree(root))).toEqual(treeObject(before));
  });

  test('twice: the second says there is nothing to uninstall', () => {
    const root = freshRoot('untwice');
    expect(install(root).code).toBe(0);
    expect(install(root, '--uninstall', '--purge').code).toBe(0);
    const r = install(root, '--uninstall');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('nothing to uninstall');
  });
});

describe('install.sh: files it did not install', () => {
  const OLD_TIMER = '[Timer]\nOnCalendar=Mon..Fri 06..18:0/15:00\n';

  test('a foreign unit of the same name is refused without --force', () => {
    const root = freshRoot('foreign');
    write(root, 'etc/systemd/system/autosnap.timer', OLD_TIMER);
    const before = treeObject(tree(root));
    const r = install(root);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/etc/systemd/system/autosnap.timer');
    expect(treeObject(tree(root))).toEqual(before);
  });

  test('--force sets it aside, and uninstall restores it', () => {
    const root = freshRoot('foreignforce');
    write(root, 'etc/systemd/system/autosnap.timer', OLD_TIMER);
    write(root, 'usr/local/sbin/backup-hook', '#!/bin/sh\necho old hook\n', 0o755);
    const before = treeObject(tree(root));
    const r = install(root, '--force');
    expect(r.code).toBe(0);
    expect(read(root, 'etc/systemd/system/autosnap.timer.autosnap-orig')).toBe(OLD_TIMER);
    expect(read(root, 'usr/local/sbin/backup-hook.autosnap-orig')).toContain('old hook');
    expect(fs.readlinkSync(path.join(root, 'usr/local/sbin/backup-hook'))).toBe('/opt/autosnap/bin/autosnap');
    expect(install(root).stdout).toContain('nothing changed');
    expect(install(root, '--uninstall', '--purge').code).toBe(0);
    expect(treeObject(tree(root))).toEqual(before);
  });

  test('an existing configuration is never overwritten, and a loose mode is warned about', () => {
    const root = freshRoot('conf');
    write(root, 'etc/autosnap/autosnap.conf', '[pve]\nhost = pve1\n', 0o644);
    const r = install(root);
    expect(r.code).toBe(0);
    expect(read(root, 'etc/autosnap/autosnap.conf')).toBe('[pve]\nhost = pve1\n');
    expect(modeOf(root, 'etc/autosnap/autosnap.conf')).toBe('644');
    expect(r.stdout).toContain('has mode 644');
  });

  test('an updated executable replaces the old one (an upgrade)', () => {
    const root = freshRoot('upgrade');
    expect(install(root).code).toBe(0);
    fs.writeFileSync(path.join(root, 'opt/autosnap/bin/autosnap'), 'old build');
    const r = install(root);
    expect(r.stdout).toContain('updated    /opt/autosnap/bin/autosnap');
    expect(fs.readFileSync(path.join(root, 'opt/autosnap/bin/autosnap')).equals(fs.readFileSync(standIn()))).toBe(true);
    expect(modeOf(root, 'opt/autosnap/bin/autosnap')).toBe('755');
    expect(exists(root, 'opt/autosnap/bin/autosnap.autosnap-orig')).toBe(false);
  });
});

describe('install.sh needs nothing but bash and coreutils', () => {
  test('install, re-run, hook and uninstall with only coreutils on PATH', () => {
    const listed = sh('dpkg', ['-L', 'coreutils']);
    expect(listed.code).toBe(0);
    const bin = freshRoot('coreutils-path');
    for (const p of listed.stdout.split('\n').filter((l) => /^\/(usr\/)?s?bin\/[^/]+$/.test(l))) {
      const name = path.basename(p);
      if (!fs.existsSync(path.join(bin, name)) && fs.existsSync(p)) fs.symlinkSync(p, path.join(bin, name));
    }
    // grep, sed and awk are not coreutils: install.sh must not need them
    for (const other of ['grep', 'sed', 'awk', 'cmp', 'find']) expect(fs.existsSync(path.join(bin, other))).toBe(false);
    const env = { PATH: bin };
    const root = freshRoot('coreutils-root');
    write(root, 'etc/vzdump.conf', '#script: FILENAME\n');
    const bash = '/bin/bash';
    const go = (...args: string[]) => sh(bash, [INSTALL_SH, '--root', root, ...args], { env });
    for (const args of [['--bin', standIn(), '--with-backup-hook'], ['--bin', standIn()], ['--uninstall', '--purge']]) {
      const r = go(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
    expect(read(root, 'etc/vzdump.conf')).toBe('#script: FILENAME\n');
  });
});

describe('install.sh: an upgrade', () => {
  test('removes a file an older release installed and this one no longer ships', () => {
    const root = freshRoot('dropped');
    expect(install(root).code).toBe(0);
    // what an older release would have left: a file of its own, listed in the manifest
    write(root, 'opt/autosnap/share/doc/old-tool.md', 'gone in this release\n');
    fs.appendFileSync(path.join(root, 'opt/autosnap/install-manifest'), 'file\t/opt/autosnap/share/doc/old-tool.md\n');
    const r = install(root);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('removed    /opt/autosnap/share/doc/old-tool.md (no longer part of autosnap)');
    expect(exists(root, 'opt/autosnap/share/doc/old-tool.md')).toBe(false);
    expect(read(root, 'opt/autosnap/install-manifest')).not.toContain('old-tool.md');
    expect(install(root).stdout).toContain('nothing changed');
  });
});

describe('install.sh: files under /etc the admin changed', () => {
  test('an upgrade keeps the admin\'s unit and puts the new one beside it', () => {
    const root = freshRoot('edited');
    const unit = 'etc/systemd/system/autosnap.timer';
    expect(install(root).code).toBe(0);
    const before = treeObject(tree(root));
    const mine = read(root, unit).replace('RandomizedDelaySec=20s', 'RandomizedDelaySec=2min');
    fs.writeFileSync(path.join(root, unit), mine);
    const r = install(root);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`kept       /${unit} (changed since it was installed; the new version is /${unit}.autosnap-new)`);
    expect(read(root, unit)).toBe(mine);
    expect(read(root, `${unit}.autosnap-new`)).toBe(fs.readFileSync(path.join(ROOT, 'systemd/autosnap.timer'), 'utf8'));
    // stable: the next run changes nothing and still keeps the admin's version
    const again = install(root);
    expect(again.stdout).toContain('nothing changed');
    expect(read(root, unit)).toBe(mine);
    // taking the new version over ends it
    fs.renameSync(path.join(root, `${unit}.autosnap-new`), path.join(root, unit));
    expect(install(root).stdout).toContain('nothing changed');
    expect(treeObject(tree(root))).toEqual(before);
    expect(install(root, '--uninstall', '--purge').code).toBe(0);
    expect(tree(root).size).toBe(0);
  });
});

describe('install.sh: bad input is one line and exit 2', () => {
  const root = freshRoot('bad');
  test.each([
    [['--frobnicate'], "unknown option '--frobnicate'"],
    [['--purge'], '--purge only goes with --uninstall'],
    [['--root', '/nonexistent/dir'], '--root /nonexistent/dir: no such directory'],
    [['--root', root, '--bin', '/nonexistent/autosnap'], '--bin /nonexistent/autosnap: no such file'],
    [['--root', root, '--layout', 'rpm'], "unknown layout 'rpm'"],
    [['--layout', 'deb'], '--layout deb only stages into a --root'],
  ])('%p', (args, message) => {
    const r = sh('bash', [INSTALL_SH, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
    expect(tree(root).size).toBe(0);
  });
});

// systemd-analyze reads units below --root; the host's own units are copied in so that
// the dependencies every service has (sysinit.target, ...) resolve.
function verifyRoot(root: string) {
  const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => fs.existsSync(path.join(d, 'sysinit.target')));
  if (!hostUnits) throw new Error('no systemd units on this machine (apt-get install systemd)');
  const dest = path.join(root, 'usr/lib/systemd/system');
  fs.mkdirSync(dest, { recursive: true });
  for (const name of fs.readdirSync(hostUnits)) {
    const src = path.join(hostUnits, name);
    const target = path.join(dest, name);
    if (fs.existsSync(target)) continue;
    if (fs.lstatSync(src).isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), target);
    else if (fs.statSync(src).isFile()) fs.copyFileSync(src, target);
  }
}
function verify(root: string, unitPath: string): { code: number; out: string } {
  const r = sh('systemd-analyze', ['verify', `--root=${root}`, unitPath]);
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

describe('systemd units', () => {
  const root = freshRoot('verify');
  expect(install(root, '--with-backup-hook').code).toBe(0);
  verifyRoot(root);

  test.each([...BASE_UNITS, ...HOOK_UNITS].map(instance))('systemd-analyze verify %s: clean', (unit) => {
    expect(verify(root, `/etc/systemd/system/${unit}`)).toEqual({ code: 0, out: '' });
  });

  test('the check can fail: a missing ExecStart binary and an unknown key are reported', () => {
    const unit = read(root, 'etc/systemd/system/autosnap.service')
      .replace('ExecStart=/opt/autosnap/bin/autosnap', 'ExecStart=/opt/autosnap/bin/nonexistent')
      .replace('[Service]', '[Service]\nProtectEverything=yes');
    write(root, 'etc/systemd/system/broken-autosnap.service', unit);
    const r = verify(root, '/etc/systemd/system/broken-autosnap.service');
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('ProtectEverything');
    expect(r.out).toContain('/opt/autosnap/bin/nonexistent');
  });

  test('services are oneshot and run the installed executable directly', () => {
    for (const u of [...BASE_UNITS, ...HOOK_UNITS].filter((u) => u.endsWith('.service'))) {
      const text = read(root, `etc/systemd/system/${u}`);
      expect(text).toMatch(/^Type=oneshot$/m);
      expect(text).toMatch(/^ExecStart=\/opt\/autosnap\/bin\/autosnap( |$)/m);
      // the embedded JavaScript JIT needs writable+executable memory
      expect(text).not.toMatch(/^MemoryDenyWriteExecute=/m);
    }
    expect(read(root, 'etc/systemd/system/autosnap-clean.service')).toMatch(/^ExecStart=\/opt\/autosnap\/bin\/autosnap --clean --wait$/m);
    // /etc/pve and /etc/lvm must stay writable for snapshots over pvesh
    expect(read(root, 'etc/systemd/system/autosnap.service')).toMatch(/^ProtectSystem=yes$/m);
  });

  test('every service reports its failure through the installed autosnap-notify@.service', () => {
    for (const u of [...BASE_UNITS, ...HOOK_UNITS].filter((u) => u.endsWith('.service') && u !== 'autosnap-notify@.service')) {
      expect([u, read(root, `etc/systemd/system/${u}`).match(/^OnFailure=(.+)$/m)?.[1]]).toEqual([u, 'autosnap-notify@%n.service']);
    }
    expect(read(root, 'etc/systemd/system/autosnap-notify@.service')).toMatch(/^ExecStart=\/opt\/autosnap\/bin\/autosnap notify --failed-unit %i$/m);
  });

  test('every timer names an installed service', () => {
    for (const t of [...BASE_UNITS, ...HOOK_UNITS].filter((u) => u.endsWith('.timer'))) {
      const unit = read(root, `etc/systemd/system/${t}`).match(/^Unit=(.+)$/m)?.[1];
      // a template timer names its own instance of the template service
      expect(unit).toBe(t.replace(/@\.timer$/, '@%i.timer').replace(/\.timer$/, '.service'));
      expect(exists(root, `etc/systemd/system/${unit!.replace('@%i.', '@.')}`)).toBe(true);
    }
  });
});

describe('timer schedules (systemd-analyze calendar, clock pinned)', () => {
  const onCalendar = (timer: string) =>
    fs
      .readFileSync(path.join(ROOT, 'systemd', timer), 'utf8')
      .split('\n')
      .filter((l) => /^OnCalendar=./.test(l))
      .map((l) => l.slice('OnCalendar='.length));
  function next(expr: string, base: string, n: number): string[] {
    const r = sh('systemd-analyze', ['calendar', `--base-time=${base}`, `--iterations=${n}`, expr], { env: { TZ: 'UTC' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): (.+)$/gm)].map((m) => m[1].trim());
  }

  test('autosnap.timer: Mon..Fri 06:00..18:45 every 15 minutes, persistent', () => {
    const [expr, ...more] = onCalendar('autosnap.timer');
    expect(more).toEqual([]);
    // Friday 18:40: the last quarter of the week, then Monday 06:00
    expect(next(expr, '2025-05-16 18:40:00 UTC', 3)).toEqual([
      'Fri 2025-05-16 18:45:00 UTC',
      'Mon 2025-05-19 06:00:00 UTC',
      'Mon 2025-05-19 06:15:00 UTC',
    ]);
    // a whole working day: 13 hours x 4
    const day = next(expr, '2025-05-20 00:00:00 UTC', 53);
    expect(day.filter((d) => d.startsWith('Tue 2025-05-20'))).toHaveLength(52);
    expect(day.at(-1)).toBe('Wed 2025-05-21 06:00:00 UTC');
    expect(fs.readFileSync(path.join(ROOT, 'systemd/autosnap.timer'), 'utf8')).toMatch(/^Persistent=true$/m);
  });

  test('autosnap-clean.timer: daily at 05:00, persistent', () => {
    const [expr] = onCalendar('autosnap-clean.timer');
    expect(next(expr, '2025-05-17 04:00:00 UTC', 3)).toEqual([
      'Sat 2025-05-17 05:00:00 UTC',
      'Sun 2025-05-18 05:00:00 UTC',
      'Mon 2025-05-19 05:00:00 UTC',
    ]);
    expect(fs.readFileSync(path.join(ROOT, 'systemd/autosnap-clean.timer'), 'utf8')).toMatch(/^Persistent=true$/m);
  });

  test("backup-sync.timer: daily at 21:00, as the role's cron line", () => {
    const [expr] = onCalendar('backup-sync.timer');
    expect(next(expr, '2025-05-17 00:00:00 UTC', 2)).toEqual(['Sat 2025-05-17 21:00:00 UTC', 'Sun 2025-05-18 21:00:00 UTC']);
  });

  test('backup-wakeup-jit.timer: every 5 minutes, on the minute', () => {
    const [expr] = onCalendar('backup-wakeup-jit.timer');
    expect(next(expr, '2025-05-17 20:52:30 UTC', 3)).toEqual(['Sat 2025-05-17 20:55:00 UTC', 'Sat 2025-05-17 21:00:00 UTC', 'Sat 2025-05-17 21:05:00 UTC']);
  });

  test('ontap-snapshot-snap@.timer: daily at 01:30, persistent, the label is the instance', () => {
    const [expr] = onCalendar('ontap-snapshot-snap@.timer');
    expect(next(expr, '2025-05-17 00:00:00 UTC', 2)).toEqual(['Sat 2025-05-17 01:30:00 UTC', 'Sun 2025-05-18 01:30:00 UTC']);
    expect(fs.readFileSync(path.join(ROOT, 'systemd/ontap-snapshot-snap@.timer'), 'utf8')).toMatch(/^Persistent=true$/m);
    const service = fs.readFileSync(path.join(ROOT, 'systemd/ontap-snapshot-snap@.service'), 'utf8');
    expect(service).toMatch(/^EnvironmentFile=\/etc\/autosnap\/ontap-snapshot\/%i\.conf$/m);
    expect(service).toMatch(/^ExecStart=\/opt\/autosnap\/bin\/autosnap ontap-snapshot storage snap --storage \$\{STORAGE\} --label %i \$POLICY$/m);
  });

  test('backup-wakeup.timer: a valid daily time', () => {
    const [expr] = onCalendar('backup-wakeup.timer');
    const times = next(expr, '2025-05-17 00:00:00 UTC', 2);
    expect(times).toHaveLength(2);
    expect(times[0].slice(15)).toBe(times[1].slice(15));
  });
});
