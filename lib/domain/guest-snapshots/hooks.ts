// The hook script (`--script`): cv4pve-autosnap's phases and environment, so an existing
// hook keeps working, plus the same variables under an `AUTOSNAP_` prefix. Unlike cv4pve,
// the exit code of a `*-pre` phase matters (non-zero vetoes that guest's action), the
// hook's output is shown, and its run time is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { UsageError } from '../../core/errors.ts';
import { childEnv } from '../../core/log.ts';
import type { GuestType } from '../guests/types.ts';

/**
 * Refuse a hook that cannot run, before any connection: otherwise every guest's
 * `*-pre` phase fails to start and the whole run is "skipped" with exit 0. `where` names
 * the option or config key it came from.
 */
export function checkHook(script: string, where: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(script);
  } catch (e: any) {
    throw new UsageError(`${where}: hook ${script} ${e?.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e?.code ?? e?.message})`}`);
  }
  if (!st.isFile()) throw new UsageError(`${where}: hook ${script} is not a regular file`);
  try {
    fs.accessSync(script, fs.constants.X_OK);
  } catch {
    throw new UsageError(`${where}: hook ${script} is not executable (chmod +x it)`);
  }
}

export const HOOK_PHASES = [
  'snap-job-start',
  'snap-job-end',
  'snap-create-pre',
  'snap-create-post',
  'snap-create-abort',
  'snap-remove-pre',
  'snap-remove-post',
  'snap-remove-abort',
  'clean-job-start',
  'clean-job-end',
] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

export interface HookContext {
  phase: HookPhase;
  vmid?: number;
  vmname?: string;
  vmtype?: GuestType;
  label?: string;
  keep?: number | string;
  snapName?: string;
  /** the job saves RAM (--state) */
  vmstate?: boolean;
  /** seconds the action took (post/abort phases), the job took (job end); 0 otherwise */
  duration?: number;
  /** outcome of the action or job (true = success); unset: cv4pve's value for the phase */
  state?: boolean;
  debug?: boolean;
  dryRun?: boolean;
}

const flag = (b: boolean | undefined) => (b ? '1' : '0');

/**
 * STATE where the phase has no outcome yet, as cv4pve passes it (Corsinvest/cv4pve-autosnap
 * src/Corsinvest.ProxmoxVE.AutoSnap.Api/AutoSnapEngine.cs: `new PhaseEventArgs(..., 0, true)`
 * for snap-job-start and snap-create-pre, `(..., 0, false)` for clean-job-start and
 * snap-remove-pre). DURATION is then 0.
 */
const START_STATE: Partial<Record<HookPhase, boolean>> = {
  'snap-job-start': true,
  'snap-create-pre': true,
  'clean-job-start': false,
  'snap-remove-pre': false,
};

/** Seconds as cv4pve writes them (a .NET double with a `.`): `0`, `1.5`; ours to 1/100 s. */
function durationText(sec: number | undefined): string {
  return String(Math.round((sec ?? 0) * 100) / 100);
}

/**
 * The variables a hook sees. cv4pve sets every variable in every phase (empty when it
 * has no meaning there; DURATION and STATE always a number, PhaseEventArgs.cs), so hooks
 * written for it may read any of them unguarded, e.g. to build JSON.
 */
export function hookEnv(ctx: HookContext): Record<string, string> {
  const vars: Record<string, string> = {
    PHASE: ctx.phase,
    VMID: ctx.vmid === undefined ? '' : String(ctx.vmid),
    VMNAME: ctx.vmname ?? '',
    VMTYPE: ctx.vmtype ?? '',
    LABEL: ctx.label ?? '',
    KEEP: ctx.keep === undefined ? '' : String(ctx.keep),
    SNAP_NAME: ctx.snapName ?? '',
    VMSTATE: flag(ctx.vmstate),
    DURATION: durationText(ctx.duration),
    STATE: flag(ctx.state ?? START_STATE[ctx.phase] ?? false),
    DEBUG: flag(ctx.debug),
    DRY_RUN: flag(ctx.dryRun),
  };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    env[`CV4PVE_AUTOSNAP_${k}`] = v;
    env[`AUTOSNAP_${k}`] = v;
  }
  return env;
}

export interface HookResult {
  /** exit code; -1 when it could not start or was killed */
  code: number;
  /** stdout and stderr lines, in arrival order per stream */
  output: string[];
  timedOut: boolean;
  /** why it could not run, when it could not */
  error?: string;
  ok: boolean;
}

/**
 * Run the hook with a time limit: SIGTERM at the limit, SIGKILL 2 s later. Output is
 * collected (not streamed) so a guest's report is printed in one piece.
 */
export function runHook(script: string, ctx: HookContext, timeoutSec: number): Promise<HookResult> {
  return new Promise((resolve) => {
    const output: string[] = [];
    let timedOut = false;
    let settled = false;
    const done = (r: Omit<HookResult, 'ok' | 'output' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ ...r, output, timedOut, ok: r.code === 0 && !timedOut && !r.error });
    };
    let child: ReturnType<typeof spawn>;
    try {
      // its own process group, so a time-out kills what the hook started too (a shell's
      // `sleep` would otherwise keep the pipes, and this run, open)
      child = spawn(script, [], { env: childEnv(hookEnv(ctx)), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e: any) {
      resolve({ code: -1, output, timedOut, error: `cannot run ${script}: ${e.code ?? e.message}`, ok: false });
      return;
    }
    const collect = (stream: NodeJS.ReadableStream | null) => {
      let rest = '';
      stream?.setEncoding?.('utf8');
      stream?.on('data', (d: string) => {
        rest += d;
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        output.push(...lines.map((l) => l.replace(/\r$/, '')));
      });
      stream?.on('end', () => {
        if (rest) output.push(rest);
        rest = '';
      });
    };
    collect(child.stdout);
    collect(child.stderr);
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    let kill: ReturnType<typeof setTimeout> | undefined;
    const term = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      kill = setTimeout(() => signalGroup('SIGKILL'), 2000);
    }, Math.max(0.05, timeoutSec) * 1000);
    child.on('error', (e: any) => done({ code: -1, error: `cannot run ${script}: ${e.code ?? e.message}` }));
    child.on('close', (code, signal) => done({ code: code ?? (signal ? -1 : 0) }));
    // a grandchild that escaped the group may hold the pipes: do not wait for it forever
    child.on('exit', (code, signal) => setTimeout(() => done({ code: code ?? (signal ? -1 : 0) }), 500).unref?.());
  });
}

/** One line describing a hook outcome that is not plain success. */
export function hookProblem(phase: HookPhase, r: HookResult, timeoutSec: number): string | undefined {
  if (r.error) return `hook ${phase}: ${r.error}`;
  if (r.timedOut) return `hook ${phase}: killed after ${timeoutSec}s time limit`;
  if (r.code !== 0) return `hook ${phase}: exit code ${r.code}`;
  return undefined;
}
