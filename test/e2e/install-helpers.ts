// Shared by the install and package tests: run install.sh, and describe a directory tree
// so that two trees (before/after, install/package) can be compared exactly.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT } from '../helpers/bin.ts';

export const INSTALL_SH = path.join(ROOT, 'install.sh');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Ran {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

// install.sh never runs the executable, it only copies it; most tests install this small
// stand-in so that two dozen scratch roots do not each hold a 100 MB copy. The tests that
// are about the real file (and the package) use installReal().
let standin: string | undefined;
export function standIn(): string {
  if (!standin) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-standin-'));
    standin = path.join(dir, 'autosnap');
    fs.writeFileSync(standin, '#!/bin/sh\necho "autosnap stand-in"\n', { mode: 0o755 });
  }
  return standin;
}
/** for afterAll: the next standIn() makes a new one */
export function removeStandIn(): void {
  if (standin) fs.rmSync(path.dirname(standin), { recursive: true, force: true });
  standin = undefined;
}

function runInstall(bin: string, root: string, args: string[]): Ran {
  const withBin = args.includes('--uninstall') || args.includes('--bin') ? [] : ['--bin', bin];
  return sh('bash', [INSTALL_SH, '--root', root, ...withBin, ...args]);
}
/** install.sh with the small stand-in executable */
export function install(root: string, ...args: string[]): Ran {
  return runInstall(standIn(), root, args);
}
/** install.sh with the executable under test (AUTOSNAP_BIN or dist/autosnap) */
export function installReal(root: string, ...args: string[]): Ran {
  return runInstall(BIN, root, args);
}

export function tempRoot(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `autosnap-${tag}-`));
}

export interface Entry {
  type: 'dir' | 'file' | 'link';
  mode: string;
  /** sha256 of a file, target of a link */
  content?: string;
  mtimeMs?: number;
}

/** Every path under `dir` (relative, with a leading slash) with type, mode and content. */
export function tree(dir: string, opts: { mtimes?: boolean } = {}): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = `${rel}/${name}`;
      const p = path.join(dir, r);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out.set(r, { type: 'link', mode: '', content: fs.readlinkSync(p) });
      else if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode });
        walk(r);
      } else {
        const content = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
        out.set(r, { type: 'file', mode, content, ...(opts.mtimes ? { mtimeMs: st.mtimeMs } : {}) });
      }
    }
  };
  walk('');
  return out;
}

export function treeObject(t: Map<string, Entry>): Record<string, Entry> {
  return Object.fromEntries(t);
}
