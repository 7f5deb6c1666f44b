// The local transport: `pvesh` as root on a node, no credentials and no TLS. Every call
// is one process (Perl start-up costs hundreds of ms), so tools should batch reads.
//
// pvesh runs task endpoints synchronously: stdout carries the task log and then the UPID
// (quoted, in json mode), and the exit code is 0 even when the task failed. So the last
// line is the result, and the outcome is read from the task status like over HTTPS.
import { ConnectionError } from '../../core/errors.ts';
import { childEnv, debug } from '../../core/log.ts';
import { pveshErrorFrom } from './errors.ts';
import { assertSafePath } from './path.ts';
import type { ClientStats, Method, Params } from './types.ts';

export interface PveshOptions {
  /** the pvesh executable (default: `pvesh` from PATH) */
  path?: string;
  /** extra environment for the child (the test stand-in reads its target from there) */
  env?: Record<string, string>;
  timeoutMs?: number;
}

const VERB: Record<Method, string> = { GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' };

/** The argument vector for one call (booleans 0/1, undefined left out). */
export function pveshArgs(method: Method, path: string, params?: Params): string[] {
  const args = [VERB[method], path];
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined) continue;
    args.push(`--${k}`, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  args.push('--output-format', 'json');
  return args;
}

/**
 * The result from pvesh's stdout: the whole text when it is JSON, else the last non-empty
 * line (a task's log precedes its UPID). Empty output is null (PUT and some POSTs).
 */
export function parsePveshOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    /* a task log precedes the result */
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1];
  try {
    return JSON.parse(last);
  } catch {
    return last;
  }
}

/** The simulator's pvesh stand-in finds its simulator through PVESH_SIM_* (lib/sim/pve/pvesh.ts). */
function standInEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PVESH_SIM_')));
}

export class PveshTransport {
  readonly kind = 'pvesh' as const;
  private readonly opts: PveshOptions;
  private readonly stats: ClientStats;
  constructor(opts: PveshOptions, stats: ClientStats) {
    this.opts = opts;
    this.stats = stats;
  }

  send(method: Method, path: string, params?: Params): Promise<unknown> {
    // pvesh resolves the path against its own API tree: checked like the HTTPS one
    assertSafePath(path);
    const cmd = this.opts.path ?? 'pvesh';
    const args = pveshArgs(method, path, params);
    this.stats.requests++;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      // pvesh needs no credential of ours (it runs as root on the node): the cleaned
      // environment, plus the stand-in's own target when the tests run one
      // node:child_process loaded here, not at the top: a run over HTTPS never evaluates it
      const { spawn } = process.getBuiltinModule('node:child_process');
      const child = spawn(cmd, args, { env: childEnv({ ...standInEnv(), ...this.opts.env }), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // writes run their task to the end inside pvesh, which may take minutes: no timeout
      const timer = this.opts.timeoutMs && method === 'GET' ? setTimeout(() => child.kill('SIGTERM'), this.opts.timeoutMs) : undefined;
      child.once('error', (e: any) => {
        if (timer) clearTimeout(timer);
        reject(new ConnectionError(e?.code === 'ENOENT' ? `cannot run ${cmd}: not found (use --transport api with --host, or --pvesh PATH)` : `cannot run ${cmd}: ${e?.message ?? e}`));
      });
      child.once('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        debug(`pvesh ${args.slice(0, 2).join(' ')} -> ${code ?? signal} (${Math.round(performance.now() - started)} ms)`);
        if (signal) {
          reject(new ConnectionError(`pvesh ${args[0]} ${path}: ${signal === 'SIGTERM' && timer ? 'timed out' : `killed by ${signal}`}`));
          return;
        }
        if (code !== 0) {
          reject(pveshErrorFrom(method, path, stderr, code ?? 1));
          return;
        }
        resolve(parsePveshOutput(stdout));
      });
    });
  }

  async close(): Promise<void> {}
}
