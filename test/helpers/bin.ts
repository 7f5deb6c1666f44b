// Run the COMPILED executable, the way a user does. Tests never import tool code to
// exercise a command: they spawn this binary (AUTOSNAP_BIN overrides the path).
import { spawn, type ChildProcess } from 'node:child_process';
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
let stateDirPath: string | undefined;
function stateDir(): string {
  if (!stateDirPath) stateDirPath = fs.mkdtempSync(path.join(os.tmpdir(), 'autosnap-state-'));
  return stateDirPath;
}
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
  // the state a run keeps between runs (skip counts, warnings shown) stays in the test's own place
  if (!('AUTOSNAP_STATE_DIR' in env)) env.AUTOSNAP_STATE_DIR = stateDir();
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

/**
 * Start a long-running tool of the executable (the simulators) and wait for its one ready
 * line on stdout; `what` names it in errors.
 */
export async function spawnServer(args: string[], what: string): Promise<{ child: ChildProcess; line: string; stderr: () => string }> {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 15 s: ${stderr}`)), 15_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${stderr.trim()}`));
    });
  });
  return { child, line, stderr: () => stderr };
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
