// Man pages: made by scripts/gen-man.ts (part of `npm run build`) from what the compiled
// executable prints for --help. groff must render each without a warning, and the page's
// DESCRIPTION, rendered, must be the --help text line for line, so they cannot drift.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { MAN_TOOLS } from '../../lib/cli/manpage.ts';
import { BIN, ROOT } from '../helpers/bin.ts';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-man-'));
const gen = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-man.ts'), BIN, OUT], { encoding: 'utf8' });

describe('man pages', () => {
  test('the script makes one page per tool', () => {
    expect([gen.status, gen.stderr]).toEqual([0, '']);
    expect(fs.readdirSync(OUT).sort()).toEqual(Object.keys(MAN_TOOLS).flatMap((t) => [`${t}.8`, `${t}.8.gz`]).sort());
    for (const t of Object.keys(MAN_TOOLS)) expect(zlib.gunzipSync(fs.readFileSync(path.join(OUT, `${t}.8.gz`))).toString()).toBe(fs.readFileSync(path.join(OUT, `${t}.8`), 'utf8'));
  });

  test('install.sh installs the pages the build made, where man finds them', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-man-root-'));
    const r = spawnSync('bash', [path.join(ROOT, 'install.sh'), '--root', root, '--bin', BIN], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const dir = path.join(root, 'usr/local/share/man/man8');
    expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(MAN_TOOLS).map((t) => `${t}.8.gz`).sort());
    const page = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'autosnap.8.gz'))).toString();
    expect(page).toStartWith('.TH AUTOSNAP 8 ');
    // `man -l` renders it as man(1) would
    const man = spawnSync('man', ['-l', '-P', 'cat', path.join(dir, 'autosnap.8.gz')], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200' } });
    expect(man.stdout).toContain('autosnap - Proxmox VE snapshots on a schedule');
    fs.rmSync(root, { recursive: true, force: true });
  });

  for (const tool of Object.keys(MAN_TOOLS)) {
    test(`${tool}(8): groff -man -ww renders it without a warning, and it says what --help says`, () => {
      const page = path.join(OUT, `${tool}.8`);
      const lint = spawnSync('groff', ['-man', '-ww', '-z', page], { encoding: 'utf8' });
      expect([lint.status, lint.stderr]).toEqual([0, '']);
      // wide enough that no line of --help is broken; -c -b -o -u: plain text, no overstrike
      const shown = spawnSync('groff', ['-man', '-Tutf8', '-P-cbou', '-rLL=250n', page], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } }).stdout.split('\n');
      const from = shown.indexOf('DESCRIPTION') + 1;
      const to = shown.indexOf('FILES');
      const rendered = shown.slice(from, to).map((l) => l.replace(/^ {7}/, '').trimEnd());
      while (rendered.at(-1) === '') rendered.pop();
      const help = spawnSync(BIN, [tool, '--help'], { encoding: 'utf8' }).stdout.trimEnd().split('\n').map((l) => l.trimEnd());
      expect(rendered).toEqual(help);
      expect(shown.join('\n')).toContain(`${tool} - ${MAN_TOOLS[tool]}`);
    });
  }

  test('the check can fail: a page with a bad request gets a warning', () => {
    const bad = path.join(OUT, 'bad.8');
    fs.writeFileSync(bad, fs.readFileSync(path.join(OUT, 'autosnap.8'), 'utf8').replace('.SH FILES', '.XY FILES'));
    expect(spawnSync('groff', ['-man', '-ww', '-z', bad], { encoding: 'utf8' }).stderr).toContain('XY');
  });
});
