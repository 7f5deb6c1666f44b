// The single compiled executable. It runs the tool named by the link it was called
// through (argv0: a link named pve-snapshot runs pve-snapshot), or by its first argument
// (`autosnap pve-snapshot list 100`), and autosnap itself otherwise.
import path from 'node:path';
import type { Main } from '../lib/cli/run.ts';
import { VERSION } from '../lib/core/version.ts';

const TOOLS: Record<string, () => Promise<{ main: Main }>> = {
  autosnap: () => import('./autosnap.ts'),
  // autosnap as cv4pve-autosnap 2.x answers (status table, exit 1 for every error); only
  // through a link of that name, never as a first argument
  'cv4pve-autosnap': () => import('./cv4pve-autosnap.ts'),
  'pve-snapshot': () => import('./pve-snapshot.ts'),
  'ontap-snapshot': () => import('./ontap-snapshot.ts'),
  'backup-hook': () => import('./backup-hook.ts'),
  'backup-wakeup': () => import('./backup-wakeup.ts'),
  'backup-sync': () => import('./backup-sync.ts'),
  sim: () => import('./sim.ts'),
  'ontap-sim': () => import('./ontap-sim.ts'),
  // The pvesh stand-in for tests. It answers to a link named `pvesh`, but install.sh never
  // creates one, so it can never shadow the real pvesh on a node.
  'sim-pvesh': () => import('./sim-pvesh.ts'),
  pvesh: () => import('./sim-pvesh.ts'),
};

export const TOOL_NAMES = Object.keys(TOOLS).filter((t) => t !== 'pvesh' && t !== 'cv4pve-autosnap');

// own keys only: `in` would also find what every object inherits (`autosnap constructor`
// ran Object as a tool and crashed with a stack trace instead of naming an unknown command)
const isTool = (name: string | undefined): name is string => name !== undefined && Object.hasOwn(TOOLS, name);

export function pickTool(argv0: string, args: string[]): { tool: string; args: string[] } {
  const called = path.basename(argv0 || '').replace(/\.(ts|js)$/, '');
  if (isTool(called) && called !== 'autosnap') return { tool: called, args };
  const first = args[0];
  if (first && first !== 'autosnap' && first !== 'pvesh' && first !== 'cv4pve-autosnap' && isTool(first)) return { tool: first, args: args.slice(1) };
  if (first === 'autosnap') return { tool: 'autosnap', args: args.slice(1) };
  return { tool: 'autosnap', args };
}

if (import.meta.main) {
  const { tool, args } = pickTool(process.argv0, process.argv.slice(2));
  // one answer to --version for every tool of the bundle, whatever its own parser does
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    // console.log, not process.stdout: the stream object alone costs ~18 ms to set up
    console.log(`${tool === 'pvesh' ? 'sim-pvesh' : tool} ${VERSION}`);
    process.exit(0);
  }
  const [mod, { runMain }] = await Promise.all([TOOLS[tool](), import('../lib/cli/run.ts')]);
  const code = await runMain(tool, mod.main, args);
  // let stdout drain before leaving; process.exit would cut a large JSON document short
  process.exitCode = code;
  if (tool !== 'sim' && tool !== 'ontap-sim') setTimeout(() => process.exit(code), 0).unref?.();
}
