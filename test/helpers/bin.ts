// Run the COMPILED executable, the way a user does. Tests never import tool code to
// exercise a command: they spawn this binary (AUTOSNAP_BIN overrides the path).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dir, '..', '..');
export const BIN = process.env.AUTOSNAP_BIN ? path.resolve(process.env.AUTOSNAP_BIN) : path.join(ROOT, 'dist', 'autosnap');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** replace the environment entirely (like `env -i`) */
  cleanEnv?: boolean;
  input?: string;
  cwd?: string;
  /** run through a link of this name (argv0 dispatch) */
  as?: string;
  timeoutMs?: number;
}

let linkDir: string | undefined;
/** A directory holding links named after each tool, pointing at BIN. */
export function toolLink(name: string): string {
  if (!linkDir) linkDir = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-links-'));
  const p = path.join(linkDir, name);
  if (!fs.existsSync(p)) fs.symlinkSync(BIN, p);
  return p;
}

export function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const cmd = opts.as ? toolLink(opts.as) : BIN;
  const env = opts.cleanEnv ? { ...opts.env } : { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env as NodeJS.ProcessEnv, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
